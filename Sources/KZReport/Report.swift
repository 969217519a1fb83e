import KZDetect
import KZWire

/// The kzforensics report, schema `kzforensics.report/1` (shared/REPORT.md). Field names are a contract.
public struct Report: Sendable, Encodable {
    public var schema = "kzforensics.report/1"
    public var tool: ToolInfo
    public var captures: [CaptureInfo]
    public var accounting: AccountingRecord
    public var flows: FlowCounts
    public var findings: [FindingRecord]
    public var paths: [PathRecord]
    public var anomalies: [AnomalyRecord]
    public var warnings: [String]
    public var comparison: [ComparisonRow]?

    public init(tool: ToolInfo, captures: [CaptureInfo], accounting: AccountingRecord, flows: FlowCounts,
                findings: [FindingRecord], paths: [PathRecord], anomalies: [AnomalyRecord], warnings: [String],
                comparison: [ComparisonRow]? = nil) {
        self.tool = tool
        self.captures = captures
        self.accounting = accounting
        self.flows = flows
        self.findings = findings
        self.paths = paths
        self.anomalies = anomalies
        self.warnings = warnings
        self.comparison = comparison
    }
}

public struct ToolInfo: Sendable, Encodable {
    public var name = "kzforensics"
    public var version: String
    public init(version: String) { self.version = version }
}

public struct CaptureInfo: Sendable, Encodable {
    public var path: String
    public var vantage: String?
    public var format: String
    public var linkTypes: [String]
    public var frames: Int
    public var firstTs: String?
    public var lastTs: String?
    /// "complete", or "partial" when reading stopped at damage (see `error`).
    public var status: String
    public var error: String?
    public var filteredOut: Int
    public var accounting: AccountingRecord

    enum CodingKeys: String, CodingKey {
        case path, vantage, format, frames, status, error, accounting
        case linkTypes = "link_types", firstTs = "first_ts", lastTs = "last_ts", filteredOut = "filtered_out"
    }
    public init(path: String, vantage: String?, format: String, linkTypes: [String], frames: Int, firstTs: String?,
                lastTs: String?, status: String, error: String?, filteredOut: Int, accounting: AccountingRecord) {
        self.path = path
        self.vantage = vantage
        self.format = format
        self.linkTypes = linkTypes
        self.frames = frames
        self.firstTs = firstTs
        self.lastTs = lastTs
        self.status = status
        self.error = error
        self.filteredOut = filteredOut
        self.accounting = accounting
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(vantage, forKey: .vantage)
        try c.encode(format, forKey: .format)
        try c.encode(linkTypes, forKey: .linkTypes)
        try c.encode(frames, forKey: .frames)
        try c.encode(firstTs, forKey: .firstTs)
        try c.encode(lastTs, forKey: .lastTs)
        try c.encode(status, forKey: .status)
        try c.encode(error, forKey: .error)
        try c.encode(filteredOut, forKey: .filteredOut)
        try c.encode(accounting, forKey: .accounting)
    }
}

/// Frames read, decoded, and skipped by reason; `decoded + sum(skipped) == frames`.
public struct AccountingRecord: Sendable, Encodable, Equatable {
    public var frames: Int
    public var decoded: Int
    public var skipped: [String: Int]
    public init(_ a: PacketAccounting) {
        frames = a.frames
        decoded = a.decoded
        var s: [String: Int] = [:]
        for (k, v) in a.skipped { s[k.description, default: 0] += v }
        skipped = s
    }
}

public struct FlowCounts: Sendable, Encodable {
    public var tcp: Int
    public var udp: Int
    public var other: Int
    public init(tcp: Int, udp: Int, other: Int) {
        self.tcp = tcp
        self.udp = udp
        self.other = other
    }
}

public struct HopRecord: Sendable, Encodable, Hashable {
    public var index: Int?
    public var router: String?
    public var asn: UInt32?
    public var asName: String?
    public var country: String?
    public var method: String
    public var confidence: String
    public var note: String?
    enum CodingKeys: String, CodingKey { case index, router, asn, asName = "as_name", country, method, confidence, note }
    public init(index: Int?, router: String?, asn: UInt32?, asName: String?, country: String?, method: String,
                confidence: String, note: String?) {
        self.index = index
        self.router = router
        self.asn = asn
        self.asName = asName
        self.country = country
        self.method = method
        self.confidence = confidence
        self.note = note
    }
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
}

public struct FindingRecord: Sendable, Encodable {
    public var id: String
    public var detector: String
    public var confidence: String
    public var capture: String
    public var flow: FlowRef?
    public var target: TargetRef?
    public var frames: [Int]
    public var summary: String
    public var evidence: [JSONValue]
    public var hop: HopRecord?

    public init(id: String, finding f: Finding, hop: HopRecord?) {
        self.id = id
        detector = f.detector.rawValue
        confidence = f.confidence.rawValue
        capture = f.capture
        flow = f.flow
        target = f.target
        frames = f.frames
        summary = f.summary
        evidence = f.evidence.map(EvidenceJSON.value)
        self.hop = hop
    }
    enum CodingKeys: String, CodingKey { case id, detector, confidence, capture, flow, target, frames, summary, evidence, hop }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(detector, forKey: .detector)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(capture, forKey: .capture)
        try c.encode(flow, forKey: .flow)
        try c.encode(target, forKey: .target)
        try c.encode(frames, forKey: .frames)
        try c.encode(summary, forKey: .summary)
        try c.encode(evidence, forKey: .evidence)
        try c.encode(hop, forKey: .hop)
    }
}

public struct PathHopRecord: Sendable, Encodable, Hashable {
    public var index: Int
    public var router: String?
    public var asn: UInt32?
    public var country: String?
    public init(index: Int, router: String?, asn: UInt32?, country: String?) {
        self.index = index
        self.router = router
        self.asn = asn
        self.country = country
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

public struct CensorRecord: Sendable, Encodable, Hashable {
    public var index: Int?
    public var router: String?
    public var onPath: Bool?
    public var method: String
    public var verdict: String
    enum CodingKeys: String, CodingKey { case index, router, onPath = "on_path", method, verdict }
    public init(index: Int?, router: String?, onPath: Bool?, method: String, verdict: String) {
        self.index = index
        self.router = router
        self.onPath = onPath
        self.method = method
        self.verdict = verdict
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(router, forKey: .router)
        try c.encode(onPath, forKey: .onPath)
        try c.encode(method, forKey: .method)
        try c.encode(verdict, forKey: .verdict)
    }
}

public struct PathRecord: Sendable, Encodable {
    public var server: String
    public var capture: String
    public var hops: [PathHopRecord]
    public var censor: CensorRecord?
    public init(server: String, capture: String, hops: [PathHopRecord], censor: CensorRecord?) {
        self.server = server
        self.capture = capture
        self.hops = hops
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
}

public struct AnomalyRecord: Sendable, Encodable, Hashable {
    public var name: String
    public var count: Int
    public var firstFrame: Int
    public var capture: String
    enum CodingKeys: String, CodingKey { case name, count, firstFrame = "first_frame", capture }
    public init(name: String, count: Int, firstFrame: Int, capture: String) {
        self.name = name
        self.count = count
        self.firstFrame = firstFrame
        self.capture = capture
    }
}

/// One row of the cross-vantage comparison: a target and its outcome at each vantage point.
public struct ComparisonRow: Sendable, Encodable {
    public var target: String
    public var outcomes: [String: String]
    public init(target: String, outcomes: [String: String]) {
        self.target = target
        self.outcomes = outcomes
    }
}
