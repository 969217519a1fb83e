import KZWire

/// What came back for one TTL-limited probe, CenTrace's response vocabulary (censoredplanet/CenTrace `pcap_parse.py`).
public enum SweepResponseKind: String, Sendable, Hashable, Codable, CaseIterable {
    case rst = "RST"
    case fin = "FIN"
    case http = "HTTP"
    case tls = "TLS"
    /// The request was acknowledged (ACK beyond the request's first byte) without data.
    case ack = "ACK"
    /// ICMP time-exceeded quoting the probe (RFC 792): the probe died at a router.
    case icmpTimeExceeded = "ICMP_TTL"
    /// Another ICMP error quoting the probe (unreachable, …).
    case icmpOther = "ICMP_OTHER"
    /// The request was sent and nothing answered it.
    case timeout = "TIMEOUT"
    /// The connection never got to send its request (only the SYN was seen).
    case handshakeTimeout = "HANDSHAKE_TIMEOUT"
    case unknown = "UNKNOWN"

    /// Responses that end a sweep: something other than a router's time-exceeded answered the request.
    public var isTerminating: Bool {
        switch self {
        case .rst, .fin, .http, .tls, .ack, .icmpOther: true
        default: false
        }
    }

    /// Precedence inside one packet (an RST carrying an HTTP response is an HTTP response).
    static let packetOrder: [SweepResponseKind] = [.icmpTimeExceeded, .http, .tls, .rst, .fin, .ack, .icmpOther]
    /// Precedence among one probe's responses: the interference response wins over the router's time-exceeded.
    static let probeOrder: [SweepResponseKind] = [.rst, .fin, .http, .tls, .ack, .icmpTimeExceeded, .icmpOther]
}

/// One packet answering a probe.
public struct SweepResponse: Sendable, Hashable {
    public var frame: FrameNumber
    public var kind: SweepResponseKind
    public var source: IPAddress
    public var ttl: UInt8
    public var ipID: UInt32
    /// For ICMP errors: whether the quote matched the probe's sequence number and IP ID (not only the ports).
    public var quoteMatchesProbe: Bool
    /// Record Route addresses carried in the quoted (or own) IPv4 header.
    public var recordRoute: [IPAddress]
}

/// One TTL-limited request (one TCP connection whose request was sent with a small IP TTL).
public struct SweepProbe: Sendable, Hashable {
    /// The request's IP TTL as captured (the sweep step).
    public var ttl: Int
    public var clientPort: UInt16
    /// The request packet's frame; nil for a connection that never sent its request.
    public var frame: FrameNumber?
    public var seq: UInt32?
    public var ipID: UInt32?
    /// Further copies of the request in the same connection.
    public var retransmissions: Int
    public var responses: [SweepResponse]
    /// Application bytes of the server's reply when it was HTTP or TLS: the HTTP body, or the TLS ServerHello version
    /// and cipher plus the Certificate message. Compared between test and control.
    public var replySignature: [UInt8]?
    /// Set on probes filled in for a missing TTL.
    public var kindOverride: SweepResponseKind?

    /// The probe's response type (CenTrace precedence: RST, FIN, HTTP, TLS, ACK, ICMP time-exceeded).
    public var kind: SweepResponseKind {
        if let k = kindOverride { return k }
        if responses.isEmpty { return .timeout }
        let kinds = Set(responses.map(\.kind))
        return SweepResponseKind.probeOrder.first { kinds.contains($0) } ?? .unknown
    }
    public var hasTerminatingResponse: Bool { responses.contains { $0.kind.isTerminating } }
    /// The router that answered time-exceeded, if one did.
    public var timeExceededRouter: IPAddress? { responses.first { $0.kind == .icmpTimeExceeded }?.source }
    /// The first response of the probe's own kind.
    public var primaryResponse: SweepResponse? { let k = kind; return responses.first { $0.kind == k } }
    /// Both a router's time-exceeded and an interference response: the device saw a copy of a packet that died at this
    /// hop, so it is on the path (a tap), not in it.
    public var isOnPath: Bool { timeExceededRouter != nil && hasTerminatingResponse }
}

/// All probes of one sweep: one client, one server and port, one requested name (Host or SNI).
public struct TTLSweep: Sendable, Hashable {
    public var client: IPAddress
    public var server: IPAddress
    public var serverPort: UInt16
    /// Host header or SNI of the requests, when the request bytes were available.
    public var requestKey: String?
    /// Probes sorted by TTL, one per TTL (the first in capture order), gaps filled (`kindOverride`).
    public var probes: [SweepProbe]
    /// Most frequent TTL of the server's SYN-ACKs in the sweep's connections (the genuine server's distance).
    public var serverTTL: UInt8?

    public init(client: IPAddress, server: IPAddress, serverPort: UInt16, requestKey: String?, probes: [SweepProbe],
                serverTTL: UInt8? = nil) {
        self.client = client; self.server = server; self.serverPort = serverPort; self.requestKey = requestKey
        self.probes = probes; self.serverTTL = serverTTL
    }

    public var ttls: [Int] { probes.map(\.ttl) }
    public func probe(ttl: Int) -> SweepProbe? { probes.first { $0.ttl == ttl } }
    public var maxTTL: Int { probes.last?.ttl ?? 0 }
    public var firstTerminatingTTL: Int? { probes.first { $0.hasTerminatingResponse }?.ttl }
    public var lastRespondingTTL: Int? { probes.last { !$0.responses.isEmpty }?.ttl }
    /// The sweep's overall response: the first terminating probe's kind, TIMEOUT when none terminated.
    public var responseKind: SweepResponseKind {
        guard let t = firstTerminatingTTL, let p = probe(ttl: t) else { return .timeout }
        return p.kind
    }
    /// hop → router from the time-exceeded answers (TTL = hop index).
    public var path: [(ttl: Int, router: IPAddress)] {
        probes.compactMap { p in p.timeExceededRouter.map { (p.ttl, $0) } }
    }
    /// Record Route slot → addresses seen in that slot across the sweep's quotes (CenTrace's `rrs`).
    public var recordRouteSlots: [Int: Set<IPAddress>] {
        var out: [Int: Set<IPAddress>] = [:]
        for p in probes {
            guard let r = p.responses.first(where: { $0.kind == .icmpTimeExceeded }) else { continue }
            for (i, a) in r.recordRoute.enumerated() where a != IPAddress(v4: 0) { out[i, default: []].insert(a) }
        }
        return out
    }
}
