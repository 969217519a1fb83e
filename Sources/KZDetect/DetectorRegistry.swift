/// Every built-in detector, in one explicit list (no reflection, no global mutable registry). The CLI's
/// `--detectors` / `--list-detectors` read `ids`; the pipeline runs `makeAll()` through a `DetectorRunner`.
public enum DetectorRegistry {
    /// The built-in detector types, in report-name order.
    public static var builtInTypes: [any Detector.Type] {
        let content: [any Detector.Type] = [
            DNSInjectionDetector.self,
            BlockPageDetector.self,
            TLSInterceptionDetector.self,
        ]
        // MARK: dettcp detectors.
        let transport: [any Detector.Type] = [
            RSTInjectionDetector.self,
            FINInjectionDetector.self,
            TTLAnomalyDetector.self,
            OverlapConflictDetector.self,
            SYNDropDetector.self,
            SNIBlockingDetector.self,
            HTTPRequestDropDetector.self,
            ThrottlingDetector.self,
            ICMPUnreachableInjectionDetector.self,
        ]
        return (content + transport).sorted { $0.id < $1.id }
    }

    /// Fresh instances of every built-in detector with default thresholds, sorted by id.
    public static func makeAll() -> [any Detector] {
        let content: [any Detector] = [
            DNSInjectionDetector(),
            BlockPageDetector(),
            TLSInterceptionDetector(),
        ]
        // MARK: dettcp detectors.
        let transport: [any Detector] = [
            RSTInjectionDetector(),
            FINInjectionDetector(),
            TTLAnomalyDetector(),
            OverlapConflictDetector(),
            SYNDropDetector(),
            SNIBlockingDetector(),
            HTTPRequestDropDetector(),
            ThrottlingDetector(),
            ICMPUnreachableInjectionDetector(),
        ]
        return (content + transport).sorted { type(of: $0).id < type(of: $1).id }
    }

    /// The ids of every built-in detector, sorted.
    public static var ids: [DetectorID] { builtInTypes.map { $0.id } }

    /// Instances for the given ids (unknown ids are returned in `unknown`, so the CLI can name them).
    public static func make(only wanted: Set<DetectorID>) -> (detectors: [any Detector], unknown: [DetectorID]) {
        let known = Set(ids)
        return (makeAll().filter { wanted.contains(type(of: $0).id) }, wanted.subtracting(known).sorted())
    }
}

/// Feeds events to detectors and collects their findings.
///
/// Findings come back sorted deterministically: by first evidence frame (findings without frames last), then detector
/// id, flow (proto, client, server), capture, injected frame, summary. The report assigns ids F0001… in this order.
/// Exact duplicates (two detectors or two calls reporting the same value) are kept once.
public struct DetectorRunner {
    public private(set) var detectors: [any Detector]
    public let context: DetectorContext
    private var sink = FindingSink()
    private var finished = false

    public init(detectors: [any Detector], context: DetectorContext) {
        self.detectors = detectors
        self.context = context
    }

    /// Passes one event to every detector, in detector order.
    public mutating func observe(_ event: AnalysisEvent) {
        for i in detectors.indices {
            detectors[i].observe(event, in: context, into: &sink)
        }
    }

    /// Ends the run: calls every detector's `finish` once and returns all findings, sorted. A second call returns the
    /// same findings without calling `finish` again.
    public mutating func finish() -> [Finding] {
        if !finished {
            for i in detectors.indices {
                detectors[i].finish(in: context, into: &sink)
            }
            finished = true
        }
        return Self.sorted(sink.findings)
    }

    /// The runner's order (see the type's documentation), with exact duplicates removed.
    public static func sorted(_ findings: [Finding]) -> [Finding] {
        var seen = Set<Finding>()
        let unique = findings.filter { seen.insert($0).inserted }
        return unique.sorted(by: precedes)
    }

    static func precedes(_ a: Finding, _ b: Finding) -> Bool {
        let fa = a.frames.first ?? .max, fb = b.frames.first ?? .max
        if fa != fb { return fa < fb }
        if a.detector != b.detector { return a.detector < b.detector }
        let ka = (a.flow?.proto ?? "", a.flow?.client ?? "", a.flow?.server ?? "")
        let kb = (b.flow?.proto ?? "", b.flow?.client ?? "", b.flow?.server ?? "")
        if ka != kb { return ka < kb }
        if a.capture != b.capture { return a.capture < b.capture }
        let ia = a.injectedFrame ?? .max, ib = b.injectedFrame ?? .max
        if ia != ib { return ia < ib }
        if a.summary != b.summary { return a.summary < b.summary }
        if a.confidence != b.confidence { return a.confidence > b.confidence }
        return a.frames.lexicographicallyPrecedes(b.frames)
    }
}
