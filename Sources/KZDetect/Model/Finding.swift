import KZWire

public enum Confidence: String, Sendable, Codable, Comparable, CaseIterable {
    case low, medium, high
    var rank: Int { switch self { case .low: 0; case .medium: 1; case .high: 2 } }
    public static func < (a: Confidence, b: Confidence) -> Bool { a.rank < b.rank }
}

/// A detector's stable dotted name (REPORT.md "Detector names"), e.g. "tcp.rst_injection".
public struct DetectorID: RawRepresentable, Hashable, Sendable, Codable, Comparable, ExpressibleByStringLiteral,
    CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral s: String) { rawValue = s }
    public var description: String { rawValue }
    public static func < (a: DetectorID, b: DetectorID) -> Bool { a.rawValue < b.rawValue }
}

/// The flow a finding is about, in REPORT.md form: client and server as "ADDR:PORT" ("[ADDR]:PORT" for IPv6).
public struct FlowRef: Sendable, Hashable, Codable {
    public var proto: String
    public var client: String
    public var server: String
    public init(proto: String, client: String, server: String) {
        self.proto = proto
        self.client = client
        self.server = server
    }
    public init(proto: String, client: IPAddress, clientPort: UInt16, server: IPAddress, serverPort: UInt16) {
        self.init(proto: proto, client: client.withPort(clientPort), server: server.withPort(serverPort))
    }
}

/// What was being reached (keys optional).
public struct TargetRef: Sendable, Hashable, Codable {
    public var host: String?
    public var sni: String?
    public var qname: String?
    public var ip: String?
    public init(host: String? = nil, sni: String? = nil, qname: String? = nil, ip: String? = nil) {
        self.host = host
        self.sni = sni
        self.qname = qname
        self.ip = ip
    }
}

/// Typed evidence. Encoded as `{"kind": "...", ...fields}` (REPORT.md).
public enum Evidence: Sendable, Hashable {
    /// A frame and why it matters.
    case frame(FrameNumber, note: String)
    /// A header value that differs from the claimed sender's baseline (ttl, ip_id, window, df, tos, options).
    case valueMismatch(field: String, frame: FrameNumber, expected: String, observed: String, baselineFrame: FrameNumber?)
    /// Two segments for the same sequence range with different bytes.
    case overlapConflict(first: FrameNumber, second: FrameNumber, seqStart: UInt32, length: Int)
    /// Two or more different answers to one DNS query.
    case dnsAnswers(query: FrameNumber, qname: String, answers: [DNSAnswerEvidence])
    /// A signature matched (Signatures/ id@rev) at a location (body, header.X, issuer, dns answer...).
    case signatureMatch(id: String, rev: Int, location: String, frame: FrameNumber?, detail: String)
    /// A certificate seen in the chain.
    case certificate(frame: FrameNumber, subject: String, issuer: String, sha256: String)
    /// Timing: observed vs expected (e.g. RST sooner than the RTT allows, handshake time vs comparable flows).
    case timing(field: String, frame: FrameNumber?, expectedSeconds: Double, observedSeconds: Double)
    /// A control flow used for comparison (same server, other SNI/Host), or a statement that none was found.
    case control(frame: FrameNumber?, note: String)
    /// Free-form, for signals without a better shape.
    case note(String)
}

public struct DNSAnswerEvidence: Sendable, Hashable, Codable {
    public var frame: FrameNumber
    public var answers: [String]
    public var ttl: UInt8
    public var ipID: UInt32
    public var delaySeconds: Double
    public init(frame: FrameNumber, answers: [String], ttl: UInt8, ipID: UInt32, delaySeconds: Double) {
        self.frame = frame
        self.answers = answers
        self.ttl = ttl
        self.ipID = ipID
        self.delaySeconds = delaySeconds
    }
}

/// A detector's conclusion. `id` and `hop` are filled later (report assembly, attribution).
public struct Finding: Sendable, Hashable {
    public var detector: DetectorID
    public var confidence: Confidence
    public var capture: String
    public var flow: FlowRef?
    public var target: TargetRef?
    /// Evidence frames, ascending, 1-based.
    public var frames: [FrameNumber]
    public var summary: String
    public var evidence: [Evidence]
    /// The frame of the interfering packet whose sender is being located (for hop attribution), if any.
    public var injectedFrame: FrameNumber?
    /// The address the interfering packet claimed as its source (for hop attribution).
    public var claimedSource: String?
    /// Observed IP TTL of the interfering packet and of the genuine peer, when known (for passive distance).
    public var injectedTTL: UInt8?
    public var peerTTL: UInt8?

    public init(detector: DetectorID, confidence: Confidence, capture: String, flow: FlowRef?, target: TargetRef?,
                frames: [FrameNumber], summary: String, evidence: [Evidence], injectedFrame: FrameNumber? = nil,
                claimedSource: String? = nil, injectedTTL: UInt8? = nil, peerTTL: UInt8? = nil) {
        self.detector = detector
        self.confidence = confidence
        self.capture = capture
        self.flow = flow
        self.target = target
        self.frames = Array(Set(frames)).sorted()
        self.summary = summary
        self.evidence = evidence
        self.injectedFrame = injectedFrame
        self.claimedSource = claimedSource
        self.injectedTTL = injectedTTL
        self.peerTTL = peerTTL
    }
}

/// Collects findings from detectors.
public struct FindingSink: Sendable {
    public private(set) var findings: [Finding] = []
    public init() {}
    public mutating func report(_ f: Finding) { findings.append(f) }
}
