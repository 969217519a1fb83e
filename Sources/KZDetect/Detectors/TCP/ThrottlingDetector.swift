import KZWire

/// `tcp.throttling`: a flow held far below comparable flows in the same capture — OONI's method for the 2022 Kazakh
/// throttling of `azattyq.org` and `currenttime.tv` (ooni.org 2023-throttling-kz-elections: throttled TLS handshakes
/// took > 2 s, daily medians > 4 s, against a baseline host in the same prefix on the same day).
///
/// Judged in `finish`. Comparable flows: same capture and same server address, else the same /24 (/48). Two measures:
/// - throughput: server payload bytes over the time from the first to the last server payload; a flow with at least
///   `minimumBytes` over at least `minimumDuration` s is slow when below `ratio` (1/10) of the median of comparables
///   that carried at least `comparableBytes`;
/// - TLS handshake time (ClientHello → ServerHello): slow when ≥ `slowHandshake` (2 s) and ≥ `handshakeFactor` (5×)
///   the median of comparables' handshakes.
/// A flow whose longest pause between server payload packets is half its data time or more is idle, not slow, and is
/// not judged on throughput.
/// Grading: one slow measure against same-address comparables → `medium`, prefix-only comparables → `low`; both
/// measures slow → one step higher. Without comparables nothing is reported (a slow server is not interference).
public struct ThrottlingDetector: Detector {
    public static let id: DetectorID = "tcp.throttling"
    var minimumBytes = 16 * 1024
    var minimumDuration = 1.0
    var comparableBytes = 64 * 1024
    var ratio = 0.1
    var slowHandshake = 2.0
    var handshakeFactor = 5.0

    struct Record: Sendable {
        var capture: String
        var flow: FlowRef
        var target: TargetRef
        var server: IPAddress
        var bytes: Int
        var dataSeconds: Double
        var firstData: FrameNumber?
        var lastData: FrameNumber?
        var handshake: Double?
        var helloFrames: [FrameNumber]
        /// The longest pause between two server payload packets.
        var longestGap: Double
        var throughput: Double? { dataSeconds > 0 ? Double(bytes) / dataSeconds : nil }
    }
    var records: [Record] = []

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event else { return }
        let data = flow.segments.filter { $0.side == .server && $0.payloadLength > 0 && !$0.isRST }
        var hs: Double?
        var hello: [FrameNumber] = []
        if let tls = flow.tls, let ch = tls.clientHelloFrame, let sh = tls.serverHelloFrame,
           let a = flow.segments.first(where: { $0.frame == ch }), let b = flow.segments.first(where: { $0.frame == sh }) {
            hs = secondsBetween(a.time, b.time)
            hello = [ch, sh]
        }
        let span = (data.first.flatMap { f in data.last.map { secondsBetween(f.time, $0.time) } }) ?? 0
        var gap = 0.0
        for k in data.indices.dropFirst() { gap = max(gap, secondsBetween(data[k - 1].time, data[k].time)) }
        records.append(Record(capture: flow.capture, flow: flow.flowRef, target: tcpFlowTarget(flow), server: flow.server,
                              bytes: flow.payloadBytesServer, dataSeconds: span, firstData: data.first?.frame,
                              lastData: data.last?.frame, handshake: hs, helloFrames: hello, longestGap: gap))
    }

    static func median(_ v: [Double]) -> Double? {
        let s = v.sorted()
        guard !s.isEmpty else { return nil }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var out: [Finding] = []
        for (k, r) in records.enumerated() {
            func comparables(_ ok: (Record) -> Bool) -> (list: [Record], sameAddress: Bool) {
                let others = records.enumerated().filter { $0.offset != k && $0.element.capture == r.capture }.map(\.element)
                let same = others.filter { $0.server == r.server && ok($0) }
                if !same.isEmpty { return (same, true) }
                return (others.filter { sameDropPrefix($0.server, r.server) && ok($0) }, false)
            }
            var slow: [String] = []
            var evidence: [Evidence] = []
            var frames: [FrameNumber] = []
            var sameAddress = true
            // A flow whose data time is mostly one pause is idle (keep-alive, user think time), not slow.
            if r.bytes >= minimumBytes, r.dataSeconds >= minimumDuration, r.longestGap < 0.5 * r.dataSeconds, let tp = r.throughput {
                let (list, same) = comparables { $0.bytes >= comparableBytes && ($0.throughput ?? 0) > 0 }
                if let med = Self.median(list.compactMap(\.throughput)), tp < ratio * med {
                    slow.append("\(Int(tp)) B/s against a median of \(Int(med)) B/s over \(list.count) comparable flow\(list.count == 1 ? "" : "s")")
                    evidence.append(.note("throughput \(Int(tp)) B/s (\(r.bytes) bytes in \(TCPIPText.fixed1(r.dataSeconds)) s) vs median \(Int(med)) B/s of \(list.count) flow(s) to the \(same ? "same address" : "same prefix")"))
                    if let c = list.first?.firstData { evidence.append(.control(frame: c, note: "comparable flow \(list[0].flow.client) → \(list[0].flow.server)")) }
                    frames += [r.firstData, r.lastData].compactMap { $0 }
                    sameAddress = sameAddress && same
                }
            }
            if let h = r.handshake, h >= slowHandshake {
                let (list, same) = comparables { $0.handshake != nil }
                if let med = Self.median(list.compactMap(\.handshake)), h >= handshakeFactor * med {
                    slow.append("a TLS handshake of \(TCPIPText.fixed1(h)) s against a median of \(TCPIPText.fixed1(med)) s")
                    evidence.append(.timing(field: "tls_handshake", frame: r.helloFrames.last, expectedSeconds: med, observedSeconds: h))
                    if let c = list.first?.helloFrames.last { evidence.append(.control(frame: c, note: "comparable handshake \(list[0].flow.client) → \(list[0].flow.server)")) }
                    frames += r.helloFrames
                    sameAddress = sameAddress && same
                }
            }
            guard !slow.isEmpty else { continue }
            var conf: Confidence = sameAddress ? .medium : .low
            if slow.count == 2 { conf = sameAddress ? .high : .medium }
            let summary = "The flow to \(r.flow.server) ran far below comparable flows to the \(sameAddress ? "same address" : "same prefix") in this capture: "
                + slow.joined(separator: "; ") + "."
            out.append(Finding(detector: Self.id, confidence: conf, capture: r.capture, flow: r.flow, target: r.target,
                               frames: frames, summary: summary, evidence: evidence))
        }
        for f in out.sorted(by: { ($0.frames.first ?? 0) < ($1.frames.first ?? 0) }) { sink.report(f) }
        records = []
    }
}
