import KZWire

/// How a hop was attributed (REPORT.md `hop.method`).
public enum AttributionMethod: String, Sendable, Hashable, Codable {
    /// TTL-limited probe sweep compared with a control sweep.
    case ttlSweep = "ttl-sweep"
    /// ICMP time-exceeded answers (traceroute) naming the router at that hop.
    case icmpPath = "icmp-path"
    /// Passive: the forged packet's TTL against an inferred initial TTL.
    case ttlDistance = "ttl-distance"
}

/// REPORT.md `Finding.hop`: where the interfering packet came from.
public struct HopAttribution: Sendable, Hashable, Codable {
    public var index: Int
    public var router: String?
    public var asn: UInt32?
    public var asName: String?
    public var country: String?
    public var method: AttributionMethod
    /// "low" | "medium" | "high".
    public var confidence: String
    public var note: String?

    public init(index: Int, router: String? = nil, asn: UInt32? = nil, asName: String? = nil, country: String? = nil,
                method: AttributionMethod, confidence: String, note: String? = nil) {
        self.index = index; self.router = router; self.asn = asn; self.asName = asName; self.country = country
        self.method = method; self.confidence = confidence; self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case index, router, asn, asName = "as_name", country, method, confidence, note
    }
    /// Absent values are written as JSON null (REPORT.md: "ADDR or null").
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(router, forKey: .router)
        try c.encode(asn, forKey: .asn)
        try c.encode(asName, forKey: .asName)
        try c.encode(country, forKey: .country)
        try c.encode(method, forKey: .method)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(note, forKey: .note)
    }

    /// Fills AS and country from `metadata` for `router`.
    public mutating func annotate(with metadata: IPMetadataService?) {
        guard let metadata, let r = router, let a = IPAddress(r) else { return }
        let m = metadata.lookup(a)
        asn = m.asn
        asName = m.asName ?? m.operatorName
        country = m.country ?? m.rangeLabel
    }

    /// From a sweep comparison, when it names a hop (nil otherwise). Confidence: high for an unambiguous
    /// CAN_IDENTIFY_SERVER, medium for a possible or inferred hop, low for the rest.
    public init?(sweep a: SweepAnalysis, metadata: IPMetadataService? = nil) {
        guard let hop = a.censorHop, a.verdict != .noObservedCensorship, a.verdict != .probeTerminatedEarly else {
            return nil
        }
        let router: IPAddress? = a.censorRouter
        let conf: String
        switch a.verdict {
        case .canIdentifyServer, .natFirewall: conf = a.ambiguous ? "medium" : "high"
        case .canIdentifyPossibleServer, .endpointFirewall: conf = "medium"
        default: conf = "low"
        }
        self.init(index: hop, router: router?.description, method: .ttlSweep, confidence: conf,
                  note: "\(a.verdict.rawValue)\(a.onPath ? ", on-path" : ""): \(a.note)")
        annotate(with: metadata)
    }

    /// From a passive TTL estimate; `path` (e.g. from traceroutes in the same capture) names the router at that hop
    /// when known, which upgrades the method to icmp-path.
    public init(estimate e: InjectorHopEstimate, path: [Int: IPAddress] = [:], metadata: IPMetadataService? = nil) {
        let router = e.trusted ? path[e.hopIndex] : nil
        self.init(index: e.hopIndex, router: router?.description, method: router == nil ? .ttlDistance : .icmpPath,
                  confidence: e.trusted ? e.confidence : "low",
                  note: "\(e.note)\(e.trusted ? " (range \(e.lowIndex)–\(e.highIndex))" : "")")
        annotate(with: metadata)
    }
}

/// One hop of a `PathReport`.
public struct PathHop: Sendable, Hashable, Codable {
    public var index: Int
    public var router: String?
    public var asn: UInt32?
    public var country: String?
    public init(index: Int, router: String?, asn: UInt32? = nil, country: String? = nil) {
        self.index = index; self.router = router; self.asn = asn; self.country = country
    }
    enum CodingKeys: String, CodingKey { case index, router, asn, country }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(router, forKey: .router)
        try c.encode(asn, forKey: .asn)
        try c.encode(country, forKey: .country)
    }
}

/// The censor on a path (REPORT.md `Path.censor`).
public struct PathCensor: Sendable, Hashable, Codable {
    public var index: Int
    public var router: String?
    public var onPath: Bool
    public var method: AttributionMethod
    /// A `SweepVerdict` raw value.
    public var verdict: String
    public init(index: Int, router: String?, onPath: Bool, method: AttributionMethod, verdict: String) {
        self.index = index; self.router = router; self.onPath = onPath; self.method = method; self.verdict = verdict
    }
    enum CodingKeys: String, CodingKey { case index, router, onPath = "on_path", method, verdict }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(router, forKey: .router)
        try c.encode(onPath, forKey: .onPath)
        try c.encode(method, forKey: .method)
        try c.encode(verdict, forKey: .verdict)
    }
}

/// REPORT.md `paths[]`: one remote endpoint's hops as seen from one capture, and the censor if one was located.
public struct PathReport: Sendable, Hashable, Codable {
    public var server: String
    public var capture: String
    public var hops: [PathHop]
    public var censor: PathCensor?
    public init(server: String, capture: String, hops: [PathHop], censor: PathCensor? = nil) {
        self.server = server; self.capture = capture; self.hops = hops.sorted { $0.index < $1.index }
        self.censor = censor
    }
    enum CodingKeys: String, CodingKey { case server, capture, hops, censor }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(server, forKey: .server)
        try c.encode(capture, forKey: .capture)
        try c.encode(hops, forKey: .hops)
        try c.encode(censor, forKey: .censor)
    }

    /// Builds hops from `path` (hop → router), annotated with `metadata`.
    public init(server: IPAddress, capture: String, path: [(ttl: Int, router: IPAddress)], censor: PathCensor? = nil,
                metadata: IPMetadataService? = nil) {
        let hops = path.filter { $0.ttl >= 1 }.map { h -> PathHop in
            let m = metadata?.lookup(h.router)
            return PathHop(index: h.ttl, router: h.router.description, asn: m?.asn, country: m?.country ?? m?.rangeLabel)
        }
        // Keep one router per index (the first), deterministic.
        var seen: Set<Int> = []
        self.init(server: server.description, capture: capture, hops: hops.filter { seen.insert($0.index).inserted },
                  censor: censor)
    }

    /// From a sweep comparison: the control's hops, and the censor when the verdict names a hop.
    public init(sweep a: SweepAnalysis, capture: String, metadata: IPMetadataService? = nil) {
        var censor: PathCensor?
        if let hop = a.censorHop, a.verdict != .noObservedCensorship, a.verdict != .probeTerminatedEarly {
            let router = a.censorRouter
            censor = PathCensor(index: hop, router: router?.description, onPath: a.onPath, method: .ttlSweep,
                                verdict: a.verdict.rawValue)
        }
        self.init(server: a.server, capture: capture, path: a.path, censor: censor, metadata: metadata)
    }
}

/// Draws a path as one line for the text report, the censoring hop marked:
/// `capture > 1 141.212.121.1 [AS36375 US] > 2 ? > … > [X 16 134.0.217.233 AS20860 GB: CAN_IDENTIFY_SERVER, in-path] > server 188.65.24.82`
/// Gaps of unanswered hops collapse to `(n hops silent)`.
public func renderPathLine(_ path: PathReport) -> String {
    var parts = ["capture"]
    var hops = path.hops
    if let c = path.censor, !hops.contains(where: { $0.index == c.index }) {
        hops.append(PathHop(index: c.index, router: c.router))
        hops.sort { $0.index < $1.index }
    }
    func label(_ h: PathHop) -> String {
        var s = "\(h.index) \(h.router ?? "?")"
        let tags = [h.asn.map { "AS\($0)" }, h.country].compactMap { $0 }
        if !tags.isEmpty { s += " [\(tags.joined(separator: " "))]" }
        return s
    }
    var previous = 0
    for h in hops {
        if h.index - previous > 1 { parts.append("(\(h.index - previous - 1) hop\(h.index - previous - 1 == 1 ? "" : "s") silent)") }
        previous = h.index
        if let c = path.censor, c.index == h.index {
            let where_ = c.verdict == SweepVerdict.endpointFirewall.rawValue ? "at the endpoint"
                : (c.onPath ? "on-path" : "in-path")
            var s = label(PathHop(index: h.index, router: c.router ?? h.router, asn: h.asn, country: h.country))
            s = "[X \(s): \(c.verdict), \(where_)]"
            parts.append(s)
        } else {
            parts.append(label(h))
        }
    }
    parts.append("server \(path.server)")
    return parts.joined(separator: " > ")
}
