import KZWire

/// Counters of a `FlowTable` run.
public struct FlowTableStats: Sendable, Hashable {
    public var packets = 0
    /// Packets without an IP header (ARP, …): not part of any flow.
    public var nonIP = 0
    /// IP fragments not yet reassembled: left to `IPDefragmenter`, whose output comes back as a reassembled packet.
    public var fragments = 0
    public var flowsOpened = 0
    public var flowsClosed = 0
    public var closedIdle = 0
    /// Flows evicted because `FlowLimits.maxFlows` was reached.
    public var evicted = 0
    public var portReuses = 0
    /// Times a buffer cap forced a hole to be skipped.
    public var bufferCapHits = 0
    public var peakFlows = 0
    public var peakBufferedBytes = 0
    public var bufferedBytes = 0
    public var retainedBytes = 0
    public var segmentRecords = 0
}

/// Bidirectional flow tracking for TCP, UDP, ICMP and other IP protocols, with TCP connection tracking (Zeek-compatible
/// `conn_state`/`history`) and per-direction TCP reassembly (`StreamHalf`), under the timeouts and caps of
/// `FlowLimits`.
///
/// Feed packets in capture order with `process(_:frame:into:)`; events go to the sink as they happen, and each flow
/// ends with `flowClosed` carrying its `FlowRecord` (idle timeout, eviction, port reuse, or `finish`).
///
/// Roles: the originator is the sender of a SYN without ACK (RFC 9293 §3.5); when a SYN-ACK comes first, its receiver.
/// Without a handshake, the endpoint whose port looks like a server's (< 1024 or a common service port; the lower one
/// when both do) is the responder; when the ports do not tell, the first packet's sender is the originator — which can
/// be wrong, as gopacket warns for its `TCPFlowDirection`. `FlowRecord.roleSource` says which rule decided, and the
/// history starts with `^` when the first packet's sender was made the responder (as Zeek marks flipped connections).
///
/// Memory: flows live in one array of slots reused through a free list, indexed by `FlowIndex` (open addressing on
/// `FlowKey.mixedHash`); one intrusive LRU list per timeout class makes expiry O(1) per flow. In-order payload is
/// never copied into a buffer (only into the bounded retained ring used to check later overlaps).
public struct FlowTable {
    public let limits: FlowLimits
    @usableFromInline var slots: [FlowSlot] = []
    @usableFromInline var freeSlots: [Int32] = []
    /// TCP flows' connection tracking and reassembly state, indexed by `FlowSlot.tcpIndex` (UDP and ICMP flows, often
    /// most of those open at once, need none of its 656 bytes), reused through `freeTCP`.
    @usableFromInline var tcpStates: [TCPFlowState] = []
    @usableFromInline var freeTCP: [Int32] = []
    /// The LRU lists' links, indexed like `slots`: 8 bytes per flow in an array of their own, so moving a flow to its
    /// list's tail touches its neighbours' links, not their 336-byte slots (a cache miss each on a busy table).
    @usableFromInline var links: [LRULink] = []
    @usableFromInline var index: FlowIndex
    @usableFromInline var heads: [Int32] = Array(repeating: -1, count: TimeoutClass.allCases.count)
    @usableFromInline var tails: [Int32] = Array(repeating: -1, count: TimeoutClass.allCases.count)
    @usableFromInline var timeouts: [Int64]
    @usableFromInline var budget = ReassemblyBudget()
    @usableFromInline var nextID: FlowID = 1
    @usableFromInline var now: Int64 = .min
    @usableFromInline var nextSweep: Int64 = .min
    @usableFromInline var counters = FlowTableStats()

    public init(limits: FlowLimits = FlowLimits()) {
        self.limits = limits
        timeouts = TimeoutClass.allCases.map { limits.timeoutNanos($0) }
        index = FlowIndex(capacity: min(max(limits.maxFlows, 1), 4096))
        // The slot array never grows past the cap: allocate it once (untouched pages cost no memory) instead of
        // doubling, which would briefly hold the old and the new array (1.5× the slots' memory at the peak).
        slots.reserveCapacity(max(1, limits.maxFlows))
        tcpStates.reserveCapacity(max(1, limits.maxFlows))
        links.reserveCapacity(max(1, limits.maxFlows))
    }

    /// Flows currently tracked.
    public var activeFlows: Int { index.count }

    public var stats: FlowTableStats {
        var s = counters
        s.bufferedBytes = budget.buffered
        s.peakBufferedBytes = budget.peakBuffered
        s.retainedBytes = budget.retained
        s.segmentRecords = budget.segmentRecords
        s.bufferCapHits = budget.bufferCapHits
        return s
    }

    // MARK: packets

    /// Processes one decoded packet. `frame` is the frame's bytes (`p.payloadOffset` indexes it); for a datagram
    /// rebuilt by `IPDefragmenter`, the rebuilt bytes. Events for this packet, and for flows that timed out before it,
    /// reach `sink` before this returns. Steady-state TCP/UDP packets allocate nothing.
    public mutating func process<S: FlowEventSink>(_ p: DecodedPacket, frame bytes: UnsafeRawBufferPointer,
                                                   into sink: inout S) {
        counters.packets &+= 1
        guard let ip = p.ip else { counters.nonIP &+= 1; return }
        if p.flags.contains(.fragment) && !p.flags.contains(.reassembled) {
            counters.fragments &+= 1
            return
        }
        let ts = p.timestamp.nanoseconds
        if ts > now { now = ts }
        if now >= nextSweep { expire(upTo: now, into: &sink) }

        guard let (key, srcIsLow) = FlowKey.of(p) else { return }
        let hash = FlowIndex.hash32(key)
        var i = index.find(key, hash: hash) { slots[Int($0)].key }
        if i >= 0, case .tcp(let t) = p.transport, isReuse(Int(i), t, srcIsLow: srcIsLow) {
            counters.portReuses &+= 1
            closeFlow(Int(i), reason: .portReuse, into: &sink)
            i = -1
        }
        if i < 0 { i = open(key, hash: hash, srcIsLow: srcIsLow, p, into: &sink) }
        let s = Int(i)
        let direction: FlowDirection = srcIsLow == slots[s].originatorIsLow ? .forward : .reverse

        // Payload bounds: never read past the captured bytes.
        let declared = max(0, p.payloadLength)
        let off = min(max(0, p.payloadOffset), bytes.count)
        let captured = min(declared, bytes.count - off)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[off..<(off + captured)])

        slots[s].lastNanos = ts
        slots[s].lastDigits = p.timestamp.digits
        slots[s].lastFrame = p.frame
        let before = slots[s].timeoutClass
        switch p.transport {
        case .tcp(let t):
            if direction == .forward { slots[s].fwd.countIP(ip, wire: p.wireLength) } else {
                slots[s].rev.countIP(ip, wire: p.wireLength)
            }
            if slots[s].tcpIndex < 0 { slots[s].tcpIndex = allocTCP() }
            slots[s].tcp(p, ip, t, payload: payload, segLen: declared, direction: direction,
                         st: &tcpStates[Int(slots[s].tcpIndex)], limits: limits, budget: &budget, sink: &sink)
        case .udp(let u):
            udp(s, p, ip, u, payload: payload, declared: declared, direction: direction, into: &sink)
        case .icmp(let m):
            icmp(s, p, ip, m, direction: direction, into: &sink)
        case .none:
            if direction == .forward { slots[s].fwd.countIP(ip, wire: p.wireLength) } else {
                slots[s].rev.countIP(ip, wire: p.wireLength)
            }
            if direction == .forward { slots[s].fwd.payloadBytes &+= declared } else {
                slots[s].rev.payloadBytes &+= declared
            }
        }
        touch(s, from: before)
    }

    /// Moves the table's clock as `process` would for a packet at `time`, without the packet, sweeping idle flows when
    /// a sweep is due. A table that holds one shard of the flows is told the time of each sweep point of the whole
    /// capture this way, so its flows close at the same packets as in one table that saw every packet
    /// (`ShardedFlows` in KZPipeline).
    @inline(__always)
    public mutating func advanceClock<S: FlowEventSink>(to time: Timestamp, into sink: inout S) {
        let ts = time.nanoseconds
        if ts > now { now = ts }
        if now >= nextSweep { expire(upTo: now, into: &sink) }
    }

    /// Closes flows idle past their timeout at capture time `now` (called by `process` about once per second of
    /// capture time; call it yourself to flush at a known time).
    public mutating func expire<S: FlowEventSink>(upTo now: Int64, into sink: inout S) {
        for c in TimeoutClass.allCases {
            let timeout = timeouts[c.rawValue]
            while heads[c.rawValue] >= 0 {
                let h = Int(heads[c.rawValue])
                guard slots[h].lastNanos &+ timeout < now else { break }
                counters.closedIdle &+= 1
                closeFlow(h, reason: .idle, into: &sink)
            }
        }
        nextSweep = now &+ 1_000_000_000
    }

    /// `expire(upTo:into:)` with a capture timestamp.
    public mutating func expire<S: FlowEventSink>(upTo time: Timestamp, into sink: inout S) {
        expire(upTo: time.nanoseconds, into: &sink)
    }

    /// Closes every flow, in order of creation (deterministic), as at the end of a capture.
    public mutating func finish<S: FlowEventSink>(into sink: inout S) {
        finish(into: &sink) { _ in }
    }

    /// `finish(into:)`, calling `drain` after each flow closes: a sink that queues events can hand them on at once
    /// instead of holding every open flow's events until the end (tens of thousands of flows are open at once).
    public mutating func finish<S: FlowEventSink>(into sink: inout S, drain: (inout S) -> Void) {
        releaseDeliveredState()
        budget.closing = true
        defer { budget.closing = false }
        var live: [(FlowID, Int)] = []
        for (i, s) in slots.enumerated() where s.inUse { live.append((s.id, i)) }
        live.sort { $0.0 < $1.0 }
        for (_, i) in live {
            closeFlow(i, reason: .finish, into: &sink)
            drain(&sink)
        }
    }

    /// Lets go of every stream's retained ring and delivered spans, which serve only to compare a later segment with the
    /// bytes already delivered (`StreamHalf.compareDelivered`). `finish` calls it first: after the last packet nothing
    /// arrives again, and the open flows that then close at once (the peak of a large capture: their records and events
    /// all come out together) reuse that memory instead of new pages. On the 1 GiB reference that is up to 16 MiB of
    /// rings and about 6 MiB of span blocks.
    mutating func releaseDeliveredState() {
        for t in tcpStates.indices {
            tcpStates[t].fwd.stream.forgetDelivered(&budget)
            tcpStates[t].rev.stream.forgetDelivered(&budget)
        }
        budget.spans = SpanStore()
    }

    // MARK: UDP / ICMP

    mutating func udp<S: FlowEventSink>(_ s: Int, _ p: DecodedPacket, _ ip: IPSummary, _ u: UDPSummary,
                                        payload: UnsafeRawBufferPointer, declared: Int, direction: FlowDirection,
                                        into sink: inout S) {
        let orig = direction == .forward
        if orig {
            slots[s].fwd.countIP(ip, wire: p.wireLength)
            slots[s].fwd.payloadBytes &+= declared
        } else {
            slots[s].rev.countIP(ip, wire: p.wireLength)
            slots[s].rev.payloadBytes &+= declared
        }
        if declared > 0 { slots[s].notes.history.once(.d, UInt8(ascii: "D"), orig) }
        if u.checksum == .bad {
            slots[s].notes.history.scaled(.c, UInt8(ascii: "C"), orig)
            slots[s].notes.anomaly(.badUDPChecksum, frame: p.frame)
            if orig { HalfState.bump(&slots[s].fwd.badChecksums) } else { HalfState.bump(&slots[s].rev.badChecksums) }
        }
        sink.datagram(slots[s].context, Datagram(direction: direction, frame: p.frame, timestamp: p.timestamp,
                                                 payload: payload, declaredLength: declared, ttl: ip.ttl,
                                                 ipID: ip.ipID, df: ip.df, badChecksum: u.checksum == .bad))
    }

    mutating func icmp<S: FlowEventSink>(_ s: Int, _ p: DecodedPacket, _ ip: IPSummary, _ m: ICMPSummary,
                                         direction: FlowDirection, into sink: inout S) {
        if direction == .forward {
            slots[s].fwd.countIP(ip, wire: p.wireLength)
            slots[s].fwd.payloadBytes &+= max(0, p.payloadLength)
        } else {
            slots[s].rev.countIP(ip, wire: p.wireLength)
            slots[s].rev.payloadBytes &+= max(0, p.payloadLength)
        }
        if m.checksum == .bad { slots[s].notes.anomaly(.badICMPChecksum, frame: p.frame) }
        let quoted = m.quoted.map { FlowKey.quoted($0, vlan: p.outerVLAN) }
        sink.icmp(slots[s].context, ICMPMessage(direction: direction, frame: p.frame, timestamp: p.timestamp,
                                                icmp: m, source: ip.src, ttl: ip.ttl, ipID: ip.ipID,
                                                quotedFlow: quoted))
    }

    // MARK: flow lifecycle

    /// A new SYN (no ACK) on a tuple whose connection already closed or reset, with another ISN, starts a new
    /// connection (RFC 9293 §3.4 "Knowing When to Keep Quiet"; Zeek's IsReuse).
    @inline(__always)
    func isReuse(_ i: Int, _ t: TCPSummary, srcIsLow: Bool) -> Bool {
        let f = t.flags.rawValue
        guard f & 0x02 != 0, f & 0x10 == 0 else { return false }
        let fwdSide = srcIsLow == slots[i].originatorIsLow
        let ti = Int(slots[i].tcpIndex)
        guard ti >= 0 else { return false }
        let o = tcpStates[ti].fwd.state, r = tcpStates[ti].rev.state
        let done = o == .reset || r == .reset || (o == .closed && r == .closed)
            || ((o == .closed || r == .closed) && (o == .inactive || r == .inactive))
        guard done else { return false }
        let sawSYN = fwdSide ? tcpStates[ti].fwd.sawSYN : tcpStates[ti].rev.sawSYN
        let isn = fwdSide ? tcpStates[ti].fwd.isn : tcpStates[ti].rev.isn
        return !sawSYN || isn != t.seq
    }

    /// Ports that look like a server's (for roles without a handshake).
    @inline(__always)
    static func serverLike(_ port: UInt16) -> Bool {
        if port == 0 { return false }
        if port < 1024 { return true }
        switch port {
        case 1080, 1194, 1433, 1521, 1723, 1883, 1900, 2049, 3128, 3306, 3389, 3478, 4500, 5060, 5061, 5222, 5228,
             5353, 5355, 5432, 5900, 6379, 6443, 6667, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9090, 9200, 9443,
             11211, 19302, 27017:
            return true
        default:
            return false
        }
    }

    /// Decides roles for a flow's first packet: returns whether the packet's sender is the originator.
    static func roles(_ p: DecodedPacket) -> (senderIsOriginator: Bool, source: RoleSource) {
        var sp: UInt16 = 0, dp: UInt16 = 0
        switch p.transport {
        case .tcp(let t):
            let f = t.flags.rawValue
            if f & 0x02 != 0 { return f & 0x10 == 0 ? (true, .syn) : (false, .synAck) }
            sp = t.srcPort; dp = t.dstPort
        case .udp(let u):
            sp = u.srcPort; dp = u.dstPort
        case .icmp(let m):
            let t = m.type
            if m.isV6 ? t == 128 : t == 8 { return (true, .icmpEcho) }
            if m.isV6 ? t == 129 : t == 0 { return (false, .icmpEcho) }
            return (true, .firstPacket)
        case .none:
            return (true, .firstPacket)
        }
        let ss = serverLike(sp), ds = serverLike(dp)
        if ds && !ss { return (true, .ports) }
        if ss && !ds { return (false, .ports) }
        if ss && ds && sp != dp { return (dp < sp, .ports) }
        return (true, .firstPacket)
    }

    @usableFromInline
    mutating func open<S: FlowEventSink>(_ key: FlowKey, hash: UInt32, srcIsLow: Bool, _ p: DecodedPacket,
                                         into sink: inout S) -> Int32 {
        if index.count >= limits.maxFlows { evictOne(into: &sink) }
        let (senderIsOrig, source) = FlowTable.roles(p)
        let originatorIsLow = senderIsOrig == srcIsLow
        let ctx = FlowContext(id: nextID, key: key, originator: originatorIsLow ? key.low : key.high,
                              responder: originatorIsLow ? key.high : key.low, roleSource: source)
        nextID &+= 1
        let cls: TimeoutClass
        switch key.proto {
        case .tcp: cls = .tcpHalfOpen
        case .udp: cls = key.low.port == 53 || key.high.port == 53 ? .dns : .udp
        case .icmp, .icmpv6: cls = .icmp
        default: cls = .other
        }
        var slot = FlowSlot(context: ctx, originatorIsLow: originatorIsLow, packet: p, timeoutClass: cls)
        if !senderIsOrig { slot.notes.history.flipped() }
        if key.proto == .tcp { slot.tcpIndex = allocTCP() }
        let i: Int32
        if let f = freeSlots.popLast() {
            i = f
            slots[Int(f)] = slot
        } else {
            i = Int32(slots.count)
            slots.append(slot)
            links.append(LRULink())
        }
        index.insert(hash: hash, slot: i)
        link(Int(i), cls)
        counters.flowsOpened &+= 1
        if index.count > counters.peakFlows { counters.peakFlows = index.count }
        sink.flowOpened(ctx, frame: p.frame, timestamp: p.timestamp)
        return i
    }

    /// Evicts the least recently active flow, preferring closed TCP connections.
    mutating func evictOne<S: FlowEventSink>(into sink: inout S) {
        var victim = Int(heads[TimeoutClass.tcpClosed.rawValue])
        if victim < 0 {
            var best: Int64 = .max
            for c in TimeoutClass.allCases where heads[c.rawValue] >= 0 {
                let h = Int(heads[c.rawValue])
                if slots[h].lastNanos < best { best = slots[h].lastNanos; victim = h }
            }
        }
        guard victim >= 0 else { return }
        counters.evicted &+= 1
        closeFlow(victim, reason: .evicted, into: &sink)
    }

    @usableFromInline
    mutating func closeFlow<S: FlowEventSink>(_ i: Int, reason: CloseReason, into sink: inout S) {
        // The TCP state moves out of the table (its slot is reset and reused) and into the record.
        var tcp: TCPFlowState?
        let ti = Int(slots[i].tcpIndex)
        if ti >= 0 {
            tcp = tcpStates[ti]
            tcpStates[ti] = TCPFlowState()
            freeTCP.append(Int32(ti))
        }
        let record = slots[i].close(reason: reason, tcp: &tcp, limits: limits, budget: &budget, sink: &sink)
        let ctx = slots[i].context
        unlink(i)
        index.remove(hash: FlowIndex.hash32(ctx.key), slot: Int32(i))
        slots[i] = FlowSlot.empty
        freeSlots.append(Int32(i))
        counters.flowsClosed &+= 1
        sink.flowClosed(ctx, record)
    }

    /// A fresh `TCPFlowState` for a new TCP flow; returns its index.
    @inline(__always) mutating func allocTCP() -> Int32 {
        if let f = freeTCP.popLast() { return f }
        tcpStates.append(TCPFlowState())
        return Int32(tcpStates.count - 1)
    }

    // MARK: LRU lists (one per timeout class; head = least recently active)

    @inline(__always) mutating func link(_ i: Int, _ c: TimeoutClass) {
        let k = c.rawValue
        slots[i].timeoutClass = c
        links[i].next = -1
        links[i].prev = tails[k]
        if tails[k] >= 0 { links[Int(tails[k])].next = Int32(i) } else { heads[k] = Int32(i) }
        tails[k] = Int32(i)
    }

    @inline(__always) mutating func unlink(_ i: Int) {
        let k = slots[i].timeoutClass.rawValue
        let p = links[i].prev, n = links[i].next
        if p >= 0 { links[Int(p)].next = n } else { heads[k] = n }
        if n >= 0 { links[Int(n)].prev = p } else { tails[k] = p }
        links[i] = LRULink()
    }

    /// Moves a flow to the tail of its (possibly new) class list after activity.
    @inline(__always) mutating func touch(_ i: Int, from before: TimeoutClass) {
        let now = slots[i].timeoutClass
        if now == before && tails[now.rawValue] == Int32(i) { return }
        slots[i].timeoutClass = before
        unlink(i)
        link(i, now)
    }
}

/// A flow's place in its timeout class's LRU list (slot indices; -1 at the ends).
@usableFromInline struct LRULink: Sendable {
    var prev: Int32 = -1
    var next: Int32 = -1
}
