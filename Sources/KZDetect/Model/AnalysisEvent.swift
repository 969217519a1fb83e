import KZSignatures
import KZWire

/// Everything a detector can see. KZPipeline converts flow-table and parser outputs into these owned values, so
/// detectors depend on nothing but KZWire and KZSignatures and are unit-tested with synthetic events.
///
/// Indirect: each payload lives in a box of its own size, so an array of events costs 8 bytes per event plus its
/// payload, not the size of the largest case (a TCP flow's ~350 bytes) for every DNS transaction or UDP flow. At the
/// end of a capture every open DNS transaction becomes an event at once.
public indirect enum AnalysisEvent: Sendable {
    /// A whole TCP connection at its end (or at end of capture), with its segments and what the parsers saw in it.
    case tcpFlow(TCPFlowEvent)
    /// One DNS query with every response that matched it, in arrival order.
    case dnsTransaction(DNSTransactionEvent)
    /// An ICMP error (unreachable, time exceeded, ...) with its quoted datagram.
    case icmpError(ICMPErrorEvent)
    /// A UDP flow summary (for control comparisons; optional for detectors).
    case udpFlow(UDPFlowEvent)
}

/// Which side sent a segment.
public enum Side: String, Sendable, Hashable, Codable {
    case client, server
}

/// One TCP segment as the flow layer recorded it (compact; what injection detectors need).
public struct SegmentEvent: Sendable, Hashable {
    public var frame: FrameNumber
    public var time: Timestamp
    public var side: Side
    public var seq: UInt32
    public var ack: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var ttl: UInt8
    public var ipID: UInt32
    public var df: Bool
    public var tos: UInt8
    public var payloadLength: Int
    /// TCP option kinds in order, packed 8 bits each (TCPOptionsSummary.order) and count, for shape comparison.
    public var optionOrder: UInt64
    public var optionCount: UInt8
    public var mss: UInt16?
    public var hasTimestamps: Bool
    public var badChecksum: Bool

    public init(frame: FrameNumber, time: Timestamp, side: Side, seq: UInt32, ack: UInt32, flags: TCPFlags, window: UInt16,
                ttl: UInt8, ipID: UInt32, df: Bool, tos: UInt8 = 0, payloadLength: Int, optionOrder: UInt64 = 0,
                optionCount: UInt8 = 0, mss: UInt16? = nil, hasTimestamps: Bool = false, badChecksum: Bool = false) {
        self.frame = frame
        self.time = time
        self.side = side
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.ttl = ttl
        self.ipID = ipID
        self.df = df
        self.tos = tos
        self.payloadLength = payloadLength
        self.optionOrder = optionOrder
        self.optionCount = optionCount
        self.mss = mss
        self.hasTimestamps = hasTimestamps
        self.badChecksum = badChecksum
    }
}

/// Two segments covering the same sequence range with different bytes (from the reassembler).
public struct OverlapConflictEvent: Sendable, Hashable {
    public var side: Side
    public var firstFrame: FrameNumber
    public var secondFrame: FrameNumber
    public var seqStart: UInt32
    public var length: Int
    public init(side: Side, firstFrame: FrameNumber, secondFrame: FrameNumber, seqStart: UInt32, length: Int) {
        self.side = side
        self.firstFrame = firstFrame
        self.secondFrame = secondFrame
        self.seqStart = seqStart
        self.length = length
    }
}

public struct HTTPRequestEvent: Sendable, Hashable {
    public var frame: FrameNumber
    public var method: String
    public var target: String
    public var host: String?
    public init(frame: FrameNumber, method: String, target: String, host: String?) {
        self.frame = frame
        self.method = method
        self.target = target
        self.host = host
    }
}

public struct HTTPResponseEvent: Sendable, Hashable {
    public var firstFrame: FrameNumber
    public var lastFrame: FrameNumber
    public var status: Int
    public var headers: [HTTPHeader]
    /// Decoded body (after chunked and gzip/deflate), capped; empty when `bodyFacts` was taken from it already.
    public var body: [UInt8]
    public var bodySHA256: String?
    public var complete: Bool
    /// What the block-page detector reads in the body, computed when the response completed
    /// (`BlockPageDetector.bodyFacts`), so the pipeline need not keep every body of a live flow until the flow ends.
    /// Nil: the detector computes it from `body`.
    public var bodyFacts: HTTPBodyFacts?
    public init(firstFrame: FrameNumber, lastFrame: FrameNumber, status: Int, headers: [HTTPHeader], body: [UInt8],
                bodySHA256: String?, complete: Bool, bodyFacts: HTTPBodyFacts? = nil) {
        self.firstFrame = firstFrame
        self.lastFrame = lastFrame
        self.status = status
        self.headers = headers
        self.body = body
        self.bodySHA256 = bodySHA256
        self.complete = complete
        self.bodyFacts = bodyFacts
    }
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name.equalsASCIICaseInsensitive(n) }?.value
    }
}

/// The body-derived part of a block-page verdict: signature matches over body, headers and status, and the URLs the
/// body sends a browser to (meta refresh, iframe). Small and owned: a response's body can be dropped once this exists.
public struct HTTPBodyFacts: Sendable, Hashable {
    public var signatureMatches: [SignatureMatch]
    public var embeddedURLs: [String]
    public init(signatureMatches: [SignatureMatch], embeddedURLs: [String]) {
        self.signatureMatches = signatureMatches
        self.embeddedURLs = embeddedURLs
    }
}

public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

public struct CertificateEvent: Sendable, Hashable {
    public var subject: String
    public var issuer: String
    public var subjectCN: String?
    public var issuerCN: String?
    public var serialHex: String
    public var notBefore: String
    public var notAfter: String
    public var sans: [String]
    public var sha256: String
    public var sha1: String
    public var spkiSHA256: String
    public init(subject: String, issuer: String, subjectCN: String?, issuerCN: String?, serialHex: String,
                notBefore: String, notAfter: String, sans: [String], sha256: String, sha1: String, spkiSHA256: String) {
        self.subject = subject
        self.issuer = issuer
        self.subjectCN = subjectCN
        self.issuerCN = issuerCN
        self.serialHex = serialHex
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.sans = sans
        self.sha256 = sha256
        self.sha1 = sha1
        self.spkiSHA256 = spkiSHA256
    }
}

public struct TLSEvent: Sendable, Hashable {
    public var clientHelloFrame: FrameNumber?
    public var sni: String?
    public var serverHelloFrame: FrameNumber?
    public var negotiatedVersion: UInt16?
    public var certificateFrame: FrameNumber?
    public var chain: [CertificateEvent]
    public var alertFrames: [FrameNumber]
    /// TLS 1.3: certificates are encrypted, so no chain can be judged.
    public var isTLS13: Bool
    public init(clientHelloFrame: FrameNumber?, sni: String?, serverHelloFrame: FrameNumber?, negotiatedVersion: UInt16?,
                certificateFrame: FrameNumber?, chain: [CertificateEvent], alertFrames: [FrameNumber], isTLS13: Bool) {
        self.clientHelloFrame = clientHelloFrame
        self.sni = sni
        self.serverHelloFrame = serverHelloFrame
        self.negotiatedVersion = negotiatedVersion
        self.certificateFrame = certificateFrame
        self.chain = chain
        self.alertFrames = alertFrames
        self.isTLS13 = isTLS13
    }
}

/// A TCP connection, client = originator (SYN sender) as the flow layer decided.
public struct TCPFlowEvent: Sendable {
    public var capture: String
    public var client: IPAddress
    public var clientPort: UInt16
    public var server: IPAddress
    public var serverPort: UInt16
    public var firstTime: Timestamp
    public var lastTime: Timestamp
    /// Zeek conn_state and history.
    public var connState: String
    public var history: String
    /// Recorded segments in capture order (may be capped by the flow layer; `segmentsDropped` says how many were not kept).
    public var segments: [SegmentEvent] { didSet { baselineMemo = TCPBaselineMemo() } }
    /// Each side's `TCPSideBaseline`, computed once for all the detectors that judge this flow (`baseline(_:)`).
    var baselineMemo = TCPBaselineMemo()
    public var segmentsDropped: Int
    public var payloadBytesClient: Int
    public var payloadBytesServer: Int
    /// SYN → SYN-ACK and SYN-ACK → ACK at the capture point, seconds.
    public var synToSynAck: Double?
    public var synAckToAck: Double?
    public var overlapConflicts: [OverlapConflictEvent]
    public var httpRequests: [HTTPRequestEvent]
    public var httpResponses: [HTTPResponseEvent]
    public var tls: TLSEvent?
    /// The client sent this connection's packets with a deliberately small IP TTL (a TTL-limited probe of a sweep or
    /// traceroute): an ICMP time-exceeded quoted it, or some of its client packets arrived with TTL ≤ 32.
    /// Silence on such a flow is expected, not a drop.
    public var isTTLLimitedProbe: Bool = false

    public init(capture: String, client: IPAddress, clientPort: UInt16, server: IPAddress, serverPort: UInt16,
                firstTime: Timestamp, lastTime: Timestamp, connState: String, history: String, segments: [SegmentEvent],
                segmentsDropped: Int = 0, payloadBytesClient: Int, payloadBytesServer: Int, synToSynAck: Double? = nil,
                synAckToAck: Double? = nil, overlapConflicts: [OverlapConflictEvent] = [],
                httpRequests: [HTTPRequestEvent] = [], httpResponses: [HTTPResponseEvent] = [], tls: TLSEvent? = nil) {
        self.capture = capture
        self.client = client
        self.clientPort = clientPort
        self.server = server
        self.serverPort = serverPort
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.connState = connState
        self.history = history
        self.segments = segments
        self.segmentsDropped = segmentsDropped
        self.payloadBytesClient = payloadBytesClient
        self.payloadBytesServer = payloadBytesServer
        self.synToSynAck = synToSynAck
        self.synAckToAck = synAckToAck
        self.overlapConflicts = overlapConflicts
        self.httpRequests = httpRequests
        self.httpResponses = httpResponses
        self.tls = tls
    }

    public var flowRef: FlowRef {
        FlowRef(proto: "tcp", client: client, clientPort: clientPort, server: server, serverPort: serverPort)
    }
}

public struct DNSResponseEvent: Sendable, Hashable {
    public var frame: FrameNumber
    public var time: Timestamp
    public var source: IPAddress
    public var ttl: UInt8
    public var ipID: UInt32
    public var df: Bool
    public var rcode: UInt8
    /// A/AAAA answers as text, CNAME targets as "CNAME name"; in message order.
    public var answers: [String]
    public var answerTTLs: [UInt32]
    public var flagsAA: Bool
    public var authorityCount: Int
    public var additionalCount: Int
    public init(frame: FrameNumber, time: Timestamp, source: IPAddress, ttl: UInt8, ipID: UInt32, df: Bool, rcode: UInt8,
                answers: [String], answerTTLs: [UInt32] = [], flagsAA: Bool = false, authorityCount: Int = 0,
                additionalCount: Int = 0) {
        self.frame = frame
        self.time = time
        self.source = source
        self.ttl = ttl
        self.ipID = ipID
        self.df = df
        self.rcode = rcode
        self.answers = answers
        self.answerTTLs = answerTTLs
        self.flagsAA = flagsAA
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }
}

public struct DNSTransactionEvent: Sendable {
    public var capture: String
    public var client: IPAddress
    public var clientPort: UInt16
    public var resolver: IPAddress
    public var resolverPort: UInt16
    public var transport: String          // "udp" or "tcp"
    public var queryFrame: FrameNumber
    public var queryTime: Timestamp
    public var id: UInt16
    public var qname: String
    public var qtype: UInt16
    public var responses: [DNSResponseEvent]
    public init(capture: String, client: IPAddress, clientPort: UInt16, resolver: IPAddress, resolverPort: UInt16,
                transport: String, queryFrame: FrameNumber, queryTime: Timestamp, id: UInt16, qname: String,
                qtype: UInt16, responses: [DNSResponseEvent]) {
        self.capture = capture
        self.client = client
        self.clientPort = clientPort
        self.resolver = resolver
        self.resolverPort = resolverPort
        self.transport = transport
        self.queryFrame = queryFrame
        self.queryTime = queryTime
        self.id = id
        self.qname = qname
        self.qtype = qtype
        self.responses = responses
    }
}

public struct ICMPErrorEvent: Sendable, Hashable {
    public var capture: String
    public var frame: FrameNumber
    public var time: Timestamp
    public var source: IPAddress
    public var destination: IPAddress
    public var ttl: UInt8
    public var ipID: UInt32
    public var isV6: Bool
    public var type: UInt8
    public var code: UInt8
    public var quoted: QuotedPacket?
    public init(capture: String, frame: FrameNumber, time: Timestamp, source: IPAddress, destination: IPAddress, ttl: UInt8,
                ipID: UInt32, isV6: Bool, type: UInt8, code: UInt8, quoted: QuotedPacket?) {
        self.capture = capture
        self.frame = frame
        self.time = time
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.ipID = ipID
        self.isV6 = isV6
        self.type = type
        self.code = code
        self.quoted = quoted
    }
}

public struct UDPFlowEvent: Sendable, Hashable {
    public var capture: String
    public var client: IPAddress
    public var clientPort: UInt16
    public var server: IPAddress
    public var serverPort: UInt16
    public var firstFrame: FrameNumber
    public var packetsClient: Int
    public var packetsServer: Int
    public init(capture: String, client: IPAddress, clientPort: UInt16, server: IPAddress, serverPort: UInt16,
                firstFrame: FrameNumber, packetsClient: Int, packetsServer: Int) {
        self.capture = capture
        self.client = client
        self.clientPort = clientPort
        self.server = server
        self.serverPort = serverPort
        self.firstFrame = firstFrame
        self.packetsClient = packetsClient
        self.packetsServer = packetsServer
    }
}
