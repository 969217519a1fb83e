import KZFlow
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
/// Streaming: a transaction stays open for `grace` seconds of capture time after its query: 10 s by default, as Zeek's
/// `dns_session_timeout` (stub resolvers give up after about 5 s, RFC 1536 §1 and glibc's default; an injected answer
/// arrives *before* the genuine one); a longer grace also leaves more of the work for the end of the capture. Then it is
/// released, in query order (`takeReleased()`), so memory holds the last `grace` seconds of queries rather than the
/// whole capture. A response later than that counts as unsolicited. At `maxOpen` open transactions the oldest is
/// released early (`capEvictions`).
public struct DNSTransactionTracker {
    public let capture: String
    /// Most open transactions kept; beyond, the oldest is closed early (`dns.transaction_cap`).
    public let maxOpen: Int
    /// Seconds of capture time a transaction waits for responses before it is released.
    public let grace: Double

    /// A response while its transaction waits: `DNSResponseEvent` in 64 bytes (addresses and times flat, the counts
    /// of a 16-bit DNS header section in 32 bits).
    struct StoredResponse {
        var frame: FrameNumber
        var nanos: Int64
        var sourceHigh: UInt64
        var sourceLow: UInt64
        var answers: [String]
        var answerTTLs: [UInt32]
        var ipID: UInt32
        var authorityCount: UInt32
        var additionalCount: UInt32
        var digits: UInt8
        var ttl: UInt8
        var rcode: UInt8
        /// Bit 0 source is IPv6, 1 DF, 2 AA.
        var bits: UInt8

        /// Nil when a count does not fit 32 bits (then the caller keeps the full event).
        init?(_ e: DNSResponseEvent) {
            guard let auth = UInt32(exactly: e.authorityCount), let add = UInt32(exactly: e.additionalCount) else {
                return nil
            }
            frame = e.frame
            nanos = e.time.nanoseconds
            digits = e.time.digits
            sourceHigh = e.source.high
            sourceLow = e.source.low
            answers = e.answers
            answerTTLs = e.answerTTLs
            ipID = e.ipID
            authorityCount = auth
            additionalCount = add
            ttl = e.ttl
            rcode = e.rcode
            bits = (e.source.isV6 ? 1 : 0) | (e.df ? 2 : 0) | (e.flagsAA ? 4 : 0)
        }

        var event: DNSResponseEvent {
            DNSResponseEvent(frame: frame, time: Timestamp(nanoseconds: nanos, digits: digits),
                             source: DNSTransactionTracker.address(sourceHigh, sourceLow, v6: bits & 1 != 0),
                             ttl: ttl, ipID: ipID, df: bits & 2 != 0, rcode: rcode, answers: answers,
                             answerTTLs: answerTTLs, flagsAA: bits & 4 != 0, authorityCount: Int(authorityCount),
                             additionalCount: Int(additionalCount))
        }
    }

    /// A transaction while it waits for responses, flat (152 bytes): with a grace period as long as a short capture,
    /// every query of the capture waits here at once. Its key is (client, client port, id, lower-cased name, type);
    /// the first response is kept inline, later ones (a second answer: the mark of injection) in `more`. The name as
    /// sent is kept in `sentNames` only when it is not already lower-case (rare).
    struct Waiting {
        var clientHigh: UInt64
        var clientLow: UInt64
        var resolverHigh: UInt64
        var resolverLow: UInt64
        var queryNanos: Int64
        var queryFrame: FrameNumber
        var qname: String
        var first: StoredResponse?
        var more: [DNSResponseEvent] = []
        var clientPort: UInt16
        var resolverPort: UInt16
        var id: UInt16
        var qtype: UInt16
        var transport: UInt16
        var queryDigits: UInt8
        /// Bit 0 client is IPv6, 1 resolver is IPv6.
        var bits: UInt8

        var hasResponses: Bool { first != nil || !more.isEmpty }
        var client: IPAddress { DNSTransactionTracker.address(clientHigh, clientLow, v6: bits & 1 != 0) }

        func matches(client c: IPAddress, port: UInt16, id i: UInt16, qname n: String, qtype t: UInt16) -> Bool {
            clientLow == c.low && clientPort == port && id == i && qtype == t && clientHigh == c.high
                && (bits & 1 != 0) == c.isV6 && qname == n
        }
    }

    /// The address with these fields (exactly as stored, whatever they hold).
    static func address(_ high: UInt64, _ low: UInt64, v6: Bool) -> IPAddress {
        var a = IPAddress(v4: 0)
        a.high = high
        a.low = low
        a.isV6 = v6
        return a
    }

    /// Open transactions by key: the newest transaction with each key (absolute index in `pending`).
    private var open = HashSlotIndex<Int>()
    /// Transactions in query order, by absolute index; `pending[head...]` are not yet released. In chunks of 1024
    /// (`ChunkedQueue`): held while they wait, freed a chunk at a time behind `head`. An array here doubled, holding the
    /// old and the new buffer at once and keeping the largest capacity it reached (10 MB at the peak of the 1 GiB
    /// reference, where the 10 s grace holds most of the capture's queries).
    private var pending = ChunkedQueue<Waiting>(chunkShift: 10)
    /// Query names as sent, by absolute index, for the few not already lower-case.
    private var sentNames: [Int: String] = [:]
    /// The transports seen ("udp", "tcp"), indexed by `Waiting.transport`.
    private var transports: [String] = []
    /// Answer lists and their TTLs repeat across transactions (every client asking for a name gets the same set):
    /// waiting transactions share one copy of each; so do the query names (many clients ask for the same names).
    private var answerSets = SharingPool<[String]>()
    private var ttlSets = SharingPool<[UInt32]>()
    private var names = SharingPool<String>()
    private var head = 0
    private var ready: [DNSTransactionEvent] = []
    public private(set) var unsolicited: [(frame: FrameNumber, count: Int)] = []
    public private(set) var unsolicitedCount = 0
    public private(set) var capEvictions = 0

    public init(capture: String, maxOpen: Int = 200_000, grace: Double = 10) {
        self.capture = capture
        self.maxOpen = maxOpen
        self.grace = grace
    }

    /// Transactions still open.
    public var openCount: Int { pending.endIndex - head }
    /// True when `takeReleased()` has something.
    public var hasReleased: Bool { !ready.isEmpty }

    /// Releases, in query order, the transactions whose query is more than `grace` seconds older than `now` (called
    /// by `message` with each message's time).
    public mutating func release(upTo now: Timestamp) {
        let limit = now.nanoseconds &- Int64(grace * 1e9)
        while head < pending.endIndex, pending[head].queryNanos < limit { releaseHead() }
        compact()
    }

    /// The transactions released since the last call, in query order.
    public mutating func takeReleased() -> [DNSTransactionEvent] {
        var out: [DNSTransactionEvent] = []
        swap(&out, &ready)
        return out
    }

    private mutating func releaseHead() {
        let abs = head
        let w = pending[head]
        let h = Self.hash(client: w.client, port: w.clientPort, id: w.id, qname: w.qname, qtype: w.qtype)
        open.remove(hash: h, slot: abs)
        var responses: [DNSResponseEvent] = []
        if let f = w.first {
            responses.reserveCapacity(1 + w.more.count)
            responses.append(f.event)
        }
        responses += w.more
        let qname = w.qname
        let sent = sentNames.isEmpty ? nil : sentNames.removeValue(forKey: abs)
        ready.append(DNSTransactionEvent(capture: capture, client: w.client, clientPort: w.clientPort,
                                         resolver: Self.address(w.resolverHigh, w.resolverLow, v6: w.bits & 2 != 0),
                                         resolverPort: w.resolverPort, transport: transports[Int(w.transport)],
                                         queryFrame: w.queryFrame,
                                         queryTime: Timestamp(nanoseconds: w.queryNanos, digits: w.queryDigits),
                                         id: w.id, qname: sent ?? qname, qtype: w.qtype, responses: responses))
        pending[head].first = nil
        pending[head].more = []
        head += 1
    }

    /// The key's hash (Hasher: consistent with the key's equality, `String ==` included).
    static func hash(client: IPAddress, port: UInt16, id: UInt16, qname: String, qtype: UInt16) -> UInt32 {
        var h = Hasher()
        h.combine(client)
        h.combine(port)
        h.combine(id)
        h.combine(qname)
        h.combine(qtype)
        return UInt32(truncatingIfNeeded: h.finalize())
    }

    /// The open transaction with this key (absolute index), or nil.
    private func find(_ client: IPAddress, _ port: UInt16, _ id: UInt16, _ qname: String, _ qtype: UInt16,
                      hash: UInt32) -> Int? {
        let i = open.find(hash: hash) { pending[$0].matches(client: client, port: port, id: id, qname: qname,
                                                                   qtype: qtype) }
        return i < 0 ? nil : i
    }

    /// The index of `transport` in `transports`, adding it when new.
    private mutating func transportIndex(_ transport: String) -> UInt16? {
        if let i = transports.firstIndex(of: transport) { return UInt16(i) }
        guard transports.count <= Int(UInt16.max) else { return nil }
        transports.append(transport)
        return UInt16(transports.count - 1)
    }

    /// Frees the chunks of released entries.
    private mutating func compact() {
        pending.dropFirst(upTo: head)
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
            let h = Self.hash(client: c.src, port: c.srcPort, id: m.header.id, qname: lower, qtype: q.type)
            if let idx = find(c.src, c.srcPort, m.header.id, lower, q.type, hash: h),
               !pending[idx].hasResponses { return }   // retransmitted query: keep the first
            while open.count >= maxOpen && head < pending.endIndex {
                releaseHead()
                capEvictions += 1
            }
            compact()
            // More transports than 65536 cannot happen (callers pass "udp" or "tcp"); such a query is not tracked.
            guard let transport = transportIndex(c.transport) else { return }
            let abs = pending.endIndex
            if let old = find(c.src, c.srcPort, m.header.id, lower, q.type, hash: h) {
                open.remove(hash: h, slot: old)
            }
            open.insert(hash: h, slot: abs)
            if lower != q.name { sentNames[abs] = q.name }
            pending.append(Waiting(clientHigh: c.src.high, clientLow: c.src.low, resolverHigh: c.dst.high,
                                   resolverLow: c.dst.low, queryNanos: c.time.nanoseconds, queryFrame: c.frame,
                                   qname: names.shared(lower), first: nil, clientPort: c.srcPort,
                                   resolverPort: c.dstPort, id: m.header.id, qtype: q.type, transport: transport,
                                   queryDigits: c.time.digits,
                                   bits: (c.src.isV6 ? 1 : 0) | (c.dst.isV6 ? 2 : 0)))
        } else {
            let lower = q.name.lowercased()
            let h = Self.hash(client: c.dst, port: c.dstPort, id: m.header.id, qname: lower, qtype: q.type)
            guard let idx = find(c.dst, c.dstPort, m.header.id, lower, q.type, hash: h) else {
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
            let e = DNSResponseEvent(
                frame: c.frame, time: c.time, source: c.src, ttl: c.ttl, ipID: c.ipID, df: c.df, rcode: m.header.rcode,
                answers: answers, answerTTLs: ttls, flagsAA: m.header.authoritative,
                authorityCount: m.authorities.count, additionalCount: m.additionals.count)
            let k = idx
            if pending[k].first == nil && pending[k].more.isEmpty, let stored = StoredResponse(e) {
                pending[k].first = stored
            } else {
                pending[k].more.append(e)
            }
        }
    }

    /// Releases every remaining transaction, in query order (end of capture); collect them with `takeReleased()`.
    public mutating func finish() {
        _ = finish(step: .max)
    }

    /// `finish()` a step at a time: releases the next `step` (at least one) remaining transactions in query order and
    /// returns whether any remain. Taking each step's transactions before the next (`takeReleased()`) gives the same
    /// transactions in the same order as `finish()` without holding all of them, and their events, at once (on the
    /// 1 GiB reference the tens of thousands left open at the end made a 4.6 MB array and briefly the run's peak).
    public mutating func finish(step: Int) -> Bool {
        var n = 0
        while head < pending.endIndex && n < max(1, step) {
            releaseHead()
            n += 1
        }
        compact()
        return head < pending.endIndex
    }
}
