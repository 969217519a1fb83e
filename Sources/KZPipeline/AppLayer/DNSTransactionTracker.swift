import KZDetect
import KZProtocols
import KZWire

/// Pairs DNS queries and responses (RFC 1035 §7.3) over UDP and TCP and keeps **every** response to a query, in
/// arrival order, with the IP TTL, IP ID and delay of each: a second, different answer is the mark of DNS injection.
///
/// A response is matched by the querier's endpoint, the id and the question — not by the response's source address, so
/// a forged answer claiming another source is still attached (and the detector sees the source differ). Responses that
/// match no query are counted as `dns.unsolicited_response`.
public struct DNSTransactionTracker {
    struct Key: Hashable {
        var client: IPAddress
        var clientPort: UInt16
        var id: UInt16
        var qname: String
        var qtype: UInt16
    }

    public let capture: String
    /// Most open transactions kept; beyond, the oldest is closed early (`dns.transaction_cap`).
    public let maxOpen: Int
    private var open: [Key: Int] = [:]
    private var transactions: [DNSTransactionEvent] = []
    private var closed: [Bool] = []
    public private(set) var unsolicited: [(frame: FrameNumber, count: Int)] = []
    public private(set) var unsolicitedCount = 0
    public private(set) var capEvictions = 0

    public init(capture: String, maxOpen: Int = 200_000) {
        self.capture = capture
        self.maxOpen = maxOpen
    }

    /// Context of one DNS message as it travelled.
    public struct Carrier {
        public var src: IPAddress
        public var srcPort: UInt16
        public var dst: IPAddress
        public var dstPort: UInt16
        public var frame: FrameNumber
        public var time: Timestamp
        public var ttl: UInt8
        public var ipID: UInt32
        public var df: Bool
        public var transport: String
        public init(src: IPAddress, srcPort: UInt16, dst: IPAddress, dstPort: UInt16, frame: FrameNumber, time: Timestamp,
                    ttl: UInt8, ipID: UInt32, df: Bool, transport: String) {
            self.src = src
            self.srcPort = srcPort
            self.dst = dst
            self.dstPort = dstPort
            self.frame = frame
            self.time = time
            self.ttl = ttl
            self.ipID = ipID
            self.df = df
            self.transport = transport
        }
    }

    public mutating func message(_ m: DNSMessage, _ c: Carrier) {
        guard let q = m.questions.first else { return }
        if !m.header.isResponse {
            let key = Key(client: c.src, clientPort: c.srcPort, id: m.header.id, qname: q.name.lowercased(), qtype: q.type)
            if let idx = open[key], transactions[idx].responses.isEmpty { return }   // retransmitted query: keep the first
            if open.count >= maxOpen, let oldest = open.min(by: { $0.value < $1.value }) {
                open[oldest.key] = nil
                capEvictions += 1
            }
            open[key] = transactions.count
            transactions.append(DNSTransactionEvent(capture: capture, client: c.src, clientPort: c.srcPort, resolver: c.dst,
                                                    resolverPort: c.dstPort, transport: c.transport, queryFrame: c.frame,
                                                    queryTime: c.time, id: m.header.id, qname: q.name, qtype: q.type,
                                                    responses: []))
        } else {
            let key = Key(client: c.dst, clientPort: c.dstPort, id: m.header.id, qname: q.name.lowercased(), qtype: q.type)
            guard let idx = open[key] else {
                unsolicitedCount += 1
                if unsolicited.isEmpty { unsolicited.append((c.frame, 1)) }
                return
            }
            var answers: [String] = []
            var ttls: [UInt32] = []
            for rr in m.answers {
                switch rr.rdata {
                case .a(let s), .aaaa(let s): answers.append(s); ttls.append(rr.ttl)
                case .cname(let s): answers.append("CNAME \(s)"); ttls.append(rr.ttl)
                default: break
                }
            }
            transactions[idx].responses.append(DNSResponseEvent(
                frame: c.frame, time: c.time, source: c.src, ttl: c.ttl, ipID: c.ipID, df: c.df, rcode: m.header.rcode,
                answers: answers, answerTTLs: ttls, flagsAA: m.header.authoritative,
                authorityCount: m.authorities.count, additionalCount: m.additionals.count))
        }
    }

    /// All transactions in query order.
    public func finish() -> [DNSTransactionEvent] { transactions }
}
