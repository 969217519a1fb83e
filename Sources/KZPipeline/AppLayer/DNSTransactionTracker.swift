import KZDetect
import KZProtocols
import KZWire

/// Pairs DNS queries and responses (RFC 1035 §7.3) over UDP and TCP and keeps **every** response to a query, in
/// arrival order, with the IP TTL, IP ID and delay of each: a second, different answer is the mark of DNS injection.
///
/// A response is matched by the querier's endpoint, the id and the question — not by the response's source address, so
/// a forged answer claiming another source is still attached (and the detector sees the source differ). Responses that
/// match no query are counted as `dns.unsolicited_response`.
///
/// Streaming: a transaction stays open for `grace` seconds of capture time after its query (stub resolvers give up
/// after about 5 s, RFC 1536 §1 and glibc's default; an injected answer arrives *before* the genuine one). Then it is
/// released, in query order (`takeReleased()`), so memory holds the last `grace` seconds of queries rather than the
/// whole capture. A response later than that counts as unsolicited. At `maxOpen` open transactions the oldest is
/// released early (`capEvictions`).
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
    /// Seconds of capture time a transaction waits for responses before it is released.
    public let grace: Double
    /// A transaction while it waits for responses: its key and what the event needs beyond it. The capture is the
    /// tracker's, the transport an index into `transports`, and the query name as sent shares the key's storage when
    /// it is already lower-case (almost always): with a grace period as long as a short capture, every query of the
    /// capture waits here at once.
    struct Waiting {
        var key: Key
        var qname: String
        var resolver: IPAddress
        var queryFrame: FrameNumber
        var queryTime: Timestamp
        var resolverPort: UInt16
        var transport: Int32
        var responses: [DNSResponseEvent]
    }

    /// Open transactions by key → absolute index (`base + position in pending`).
    private var open: [Key: Int] = [:]
    /// Transactions in query order; `pending[head...]` are not yet released; `pending[i]` has absolute index `base + i`.
    private var pending: [Waiting] = []
    /// The transports seen ("udp", "tcp"), indexed by `Waiting.transport`.
    private var transports: [String] = []
    /// Answer lists and their TTLs repeat across transactions (every client asking for a name gets the same set):
    /// waiting transactions share one copy of each.
    private var answerSets = SharingPool<[String]>()
    private var ttlSets = SharingPool<[UInt32]>()
    private var head = 0
    private var ready: [DNSTransactionEvent] = []
    private var base = 0
    public private(set) var unsolicited: [(frame: FrameNumber, count: Int)] = []
    public private(set) var unsolicitedCount = 0
    public private(set) var capEvictions = 0

    public init(capture: String, maxOpen: Int = 200_000, grace: Double = 15) {
        self.capture = capture
        self.maxOpen = maxOpen
        self.grace = grace
    }

    /// Transactions still open.
    public var openCount: Int { pending.count - head }
    /// True when `takeReleased()` has something.
    public var hasReleased: Bool { !ready.isEmpty }

    /// Releases, in query order, the transactions whose query is more than `grace` seconds older than `now` (called
    /// by `message` with each message's time).
    public mutating func release(upTo now: Timestamp) {
        let limit = now.nanoseconds &- Int64(grace * 1e9)
        while head < pending.count, pending[head].queryTime.nanoseconds < limit { releaseHead() }
        compact()
    }

    /// The transactions released since the last call, in query order.
    public mutating func takeReleased() -> [DNSTransactionEvent] {
        var out: [DNSTransactionEvent] = []
        swap(&out, &ready)
        return out
    }

    private mutating func releaseHead() {
        let w = pending[head]
        if open[w.key] == base + head { open[w.key] = nil }
        ready.append(DNSTransactionEvent(capture: capture, client: w.key.client, clientPort: w.key.clientPort,
                                         resolver: w.resolver, resolverPort: w.resolverPort,
                                         transport: transports[Int(w.transport)], queryFrame: w.queryFrame,
                                         queryTime: w.queryTime, id: w.key.id, qname: w.qname, qtype: w.key.qtype,
                                         responses: w.responses))
        pending[head].responses = []
        head += 1
    }

    /// The index of `transport` in `transports`, adding it when new.
    private mutating func transportIndex(_ transport: String) -> Int32 {
        if let i = transports.firstIndex(of: transport) { return Int32(i) }
        transports.append(transport)
        return Int32(transports.count - 1)
    }

    /// Drops released entries from the front once they are half the buffer (amortised O(1) per transaction).
    private mutating func compact() {
        guard head > 0, head >= pending.count / 2 else { return }
        pending.removeFirst(head)
        base += head
        head = 0
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
        release(upTo: c.time)
        if !m.header.isResponse {
            let lower = q.name.lowercased()
            let key = Key(client: c.src, clientPort: c.srcPort, id: m.header.id, qname: lower, qtype: q.type)
            if let idx = open[key], pending[idx - base].responses.isEmpty { return }   // retransmitted query: keep the first
            while open.count >= maxOpen && head < pending.count {
                releaseHead()
                capEvictions += 1
            }
            compact()
            open[key] = base + pending.count
            pending.append(Waiting(key: key, qname: lower == q.name ? lower : q.name, resolver: c.dst,
                                   queryFrame: c.frame, queryTime: c.time, resolverPort: c.dstPort,
                                   transport: transportIndex(c.transport), responses: []))
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
            if !answers.isEmpty {
                answers = answerSets.shared(answers)
                ttls = ttlSets.shared(ttls)
            }
            pending[idx - base].responses.append(DNSResponseEvent(
                frame: c.frame, time: c.time, source: c.src, ttl: c.ttl, ipID: c.ipID, df: c.df, rcode: m.header.rcode,
                answers: answers, answerTTLs: ttls, flagsAA: m.header.authoritative,
                authorityCount: m.authorities.count, additionalCount: m.additionals.count))
        }
    }

    /// Releases every remaining transaction, in query order (end of capture); collect them with `takeReleased()`.
    public mutating func finish() {
        while head < pending.count { releaseHead() }
        compact()
    }
}
