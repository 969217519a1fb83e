/// What a target is (REPORT.md `Finding.target` keys).
public struct VantageTarget: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// "host" | "sni" | "qname" | "ip".
    public var kind: String
    public var value: String
    public init(kind: String, value: String) { self.kind = kind; self.value = value }
    public static func < (a: VantageTarget, b: VantageTarget) -> Bool { (a.value, a.kind) < (b.value, b.kind) }
    public var description: String { "\(kind) \(value)" }
}

/// The outcome for one target at one vantage point.
public struct VantageOutcome: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, Comparable {
        case reachable, blocked, unknown
        /// blocked > unknown > reachable when merging several observations.
        var weight: Int { self == .blocked ? 2 : (self == .unknown ? 1 : 0) }
        public static func < (a: Status, b: Status) -> Bool { a.weight < b.weight }
    }
    public var status: Status
    /// How it was blocked: detector names (`tls.sni_blocking`, `tcp.rst_injection`, …), sorted.
    public var how: [String]
    /// Where: hop index, router, AS.
    public var hop: Int?
    public var router: String?
    public var asn: UInt32?
    public var frames: [Int]

    public init(status: Status, how: [String] = [], hop: Int? = nil, router: String? = nil, asn: UInt32? = nil,
                frames: [Int] = []) {
        self.status = status; self.how = how.sorted(); self.hop = hop; self.router = router; self.asn = asn
        self.frames = frames.sorted()
    }
    public static let reachable = VantageOutcome(status: .reachable)
    public static func blocked(how: String, hop: Int? = nil, router: String? = nil, asn: UInt32? = nil,
                               frames: [Int] = []) -> VantageOutcome {
        VantageOutcome(status: .blocked, how: [how], hop: hop, router: router, asn: asn, frames: frames)
    }

    /// Combines two observations of the same target at the same vantage: blocked wins; detector names are united;
    /// the located hop is kept.
    public func merged(with o: VantageOutcome) -> VantageOutcome {
        if o.status != status { return o.status > status ? o : self }
        var m = self
        m.how = Array(Set(how + o.how)).sorted()
        m.frames = Array(Set(frames + o.frames)).sorted()
        if m.hop == nil { m.hop = o.hop; m.router = o.router; m.asn = o.asn }
        return m
    }

    /// "reachable", "blocked: tls.sni_blocking at hop 7 95.56.0.1 AS9198", "unknown".
    public var cellText: String {
        switch status {
        case .reachable: return "reachable"
        case .unknown: return "unknown"
        case .blocked:
            var s = "blocked"
            if !how.isEmpty { s += ": " + how.joined(separator: "+") }
            var at: [String] = []
            if let h = hop { at.append("hop \(h)") }
            if let r = router { at.append(r) }
            if let a = asn { at.append("AS\(a)") }
            if !at.isEmpty { s += " at " + at.joined(separator: " ") }
            return s
        }
    }
}

/// One outcome reported by the integrator for one vantage point.
public struct VantageObservation: Sendable, Hashable {
    public var vantage: String
    public var target: VantageTarget
    public var outcome: VantageOutcome
    public init(vantage: String, target: VantageTarget, outcome: VantageOutcome) {
        self.vantage = vantage; self.target = target; self.outcome = outcome
    }
}

/// Per target, the outcome at each vantage point (issue 7 §6): a site blocked on one ISP and reachable on another
/// shows where filtering is applied.
public struct VantageComparison: Sendable, Hashable, Codable {
    public struct Row: Sendable, Hashable, Codable {
        public var target: VantageTarget
        /// vantage → outcome; a vantage without an entry did not test the target.
        public var outcomes: [String: VantageOutcome]
        /// The tested vantages disagree on the status.
        public var differs: Bool
    }
    /// Vantage labels in the order given.
    public var vantages: [String]
    /// Sorted by target.
    public var rows: [Row]

    public init(vantages: [String], observations: [VantageObservation]) {
        var order = vantages
        for o in observations where !order.contains(o.vantage) { order.append(o.vantage) }
        var table: [VantageTarget: [String: VantageOutcome]] = [:]
        for o in observations {
            let prev = table[o.target]?[o.vantage]
            table[o.target, default: [:]][o.vantage] = prev.map { $0.merged(with: o.outcome) } ?? o.outcome
        }
        self.vantages = order
        rows = table.keys.sorted().map { t in
            let outs = table[t] ?? [:]
            let statuses = Set(outs.values.map(\.status))
            return Row(target: t, outcomes: outs, differs: statuses.count > 1)
        }
    }

    /// A fixed-width text table: one row per target, one column per vantage; `*` marks rows where vantages disagree;
    /// `-` means not tested there.
    public func renderText() -> String {
        let header = ["target"] + vantages
        var body: [[String]] = rows.map { r in
            [(r.differs ? "* " : "  ") + r.target.description] + vantages.map { r.outcomes[$0]?.cellText ?? "-" }
        }
        body.insert(header.enumerated().map { $0.offset == 0 ? "  " + $0.element : $0.element }, at: 0)
        var widths = [Int](repeating: 0, count: header.count)
        for row in body { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ row: [String]) -> String {
            var s = ""
            for (i, c) in row.enumerated() {
                s += i == row.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) + " | "
            }
            return s
        }
        var out = [line(body[0]), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")]
        out += body.dropFirst().map(line)
        return out.joined(separator: "\n") + "\n"
    }
}
