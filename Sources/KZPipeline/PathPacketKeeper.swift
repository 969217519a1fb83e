import KZWire

/// Chooses, in one pass and in bounded memory, the packets that path analysis needs (`TTLSweepBuilder`,
/// `PathEvidence.traceroutes`), so a TTL sweep or a traceroute anywhere in a large capture is still found.
///
/// What is kept:
/// - every ICMP/ICMPv6 packet (errors that quote a probe, echo requests and replies) and every IPv4 packet with options
///   (record route);
/// - every packet of a **probe connection**: a TCP connection whose first client data segment left with a lower IP TTL
///   than the client's handshake packets (CenTrace and Xu–Mao–Halderman: handshake at the normal TTL, then the request
///   TTL-limited), or one that an ICMP error quotes. Until that first data segment a connection's packets wait in a
///   small pending list (at most `pendingPerConnection` packets, at most `maxPendingConnections` connections, the oldest
///   evicted first); an ordinary connection's pending packets are dropped at the decision;
/// - a TTL-limited UDP datagram or TCP SYN (a traceroute probe, TTL ≤ `probeTTL`) once an ICMP error quotes it, from
///   a ring of the last `recentProbes` such packets;
/// - at the end, connections still pending that only ever saw client SYNs (handshake timeouts inside a sweep).
/// Everything else passes by. `kept` is capped at `maxKept` packets (`truncated` then says so) and the leading bytes of
/// kept frames at `payloadBudget` bytes; no structure grows with the capture.
struct PathPacketKeeper {
    struct Limits {
        var maxKept = 200_000
        var maxPendingConnections = 16_384
        var pendingPerConnection = 6
        var maxProbeConnections = 65_536
        var recentProbes = 8_192
        var probeTTL: UInt8 = 64
        var payloadBudget = 32 * 1024 * 1024
        /// Leading bytes kept of each frame that carries payload, ICMP or IP options.
        var framePrefix = 4096
    }

    /// One TCP connection, endpoints in canonical order (lower address and port first).
    struct ConnKey: Hashable {
        var a: IPAddress, ap: UInt16, b: IPAddress, bp: UInt16
        init(_ s: IPAddress, _ sp: UInt16, _ d: IPAddress, _ dp: UInt16) {
            if (s, sp) < (d, dp) { a = s; ap = sp; b = d; bp = dp } else { a = d; ap = dp; b = s; bp = sp }
        }
        /// Every TCP packet looks its connection up (up to three sets): hash one mixed word instead of both addresses.
        func hash(into h: inout Hasher) {
            h.combine(a.low &* 0x9E37_79B9_7F4A_7C15 ^ a.high ^ (b.low &* 0xC2B2_AE3D_27D4_EB4F) ^ b.high
                      ^ (UInt64(ap) << 48 | UInt64(bp) << 32))
        }
    }

    /// A set of connections: IPv4 ones (both addresses 32-bit, as `IPAddress(v4:)` makes them) packed exactly into 16
    /// bytes a member, the others as whole `ConnKey`s (48 bytes). The sets of decided and probe connections hold tens
    /// of thousands of members on a busy capture, nearly all IPv4: 3 MiB at their load factor instead of 9. Members
    /// are only looked up, never listed, so how they are stored changes nothing else.
    struct ConnSet {
        struct V4: Hashable {
            var addresses: UInt64
            var ports: UInt32
            func hash(into h: inout Hasher) {
                h.combine(addresses &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(ports) &* 0xC2B2_AE3D_27D4_EB4F)
            }
        }
        private var v4: Set<V4> = []
        private var other: Set<ConnKey> = []

        var count: Int { v4.count + other.count }
        var isEmpty: Bool { v4.isEmpty && other.isEmpty }

        /// The packed form of `k`, nil unless both addresses are IPv4 with nothing above their 32 bits.
        @inline(__always) static func packed(_ k: ConnKey) -> V4? {
            guard !k.a.isV6, !k.b.isV6, k.a.high == 0, k.b.high == 0, k.a.low <= 0xFFFF_FFFF, k.b.low <= 0xFFFF_FFFF
            else { return nil }
            return V4(addresses: k.a.low << 32 | k.b.low, ports: UInt32(k.ap) << 16 | UInt32(k.bp))
        }

        func contains(_ k: ConnKey) -> Bool {
            if let p = Self.packed(k) { return v4.contains(p) }
            return other.contains(k)
        }

        mutating func insert(_ k: ConnKey) {
            if let p = Self.packed(k) { v4.insert(p) } else { other.insert(k) }
        }

        mutating func remove(_ k: ConnKey) {
            if let p = Self.packed(k) { v4.remove(p) } else { other.remove(k) }
        }

        mutating func removeAll(keepingCapacity keep: Bool = false) {
            v4.removeAll(keepingCapacity: keep)
            other.removeAll(keepingCapacity: keep)
        }
    }

    /// A probe candidate's identity as an ICMP error quotes it.
    struct QuoteKey: Hashable {
        var src: IPAddress, dst: IPAddress, proto: UInt8, sport: UInt16, dport: UInt16
        /// Both endpoints and the protocol mixed into one word (what `RecentProbes` hashes).
        @inline(__always) var mixed: UInt64 {
            src.low &* 0x9E37_79B9_7F4A_7C15 ^ src.high ^ (dst.low &* 0xC2B2_AE3D_27D4_EB4F) ^ dst.high
                ^ (UInt64(sport) << 48 | UInt64(dport) << 32 | UInt64(proto))
        }
        func hash(into h: inout Hasher) { h.combine(mixed) }
    }

    struct Pending {
        var packets: [DecodedPacket] = []
        var prefixes: [FrameNumber: [UInt8]] = [:]
        var client: (IPAddress, UInt16)?
        var clientTTLMin: UInt8 = .max
        var onlyClientSYNs = true
    }

    let limits: Limits
    private(set) var kept: [DecodedPacket] = []
    private var keptFrames: Set<FrameNumber> = []
    private(set) var payloads: [FrameNumber: [UInt8]] = [:]
    private(set) var truncated = false
    /// Undecided connections evicted to stay within `maxPendingConnections` (their packets were not kept).
    private(set) var pendingEvicted = 0
    private var budget: Int
    private var pending: [ConnKey: Pending] = [:]
    /// Pending connections oldest first, with lazy deletion: a connection decided or promoted stays here until the
    /// queue is compacted (`compactPendingOrder`), which keeps it within about twice the pending table.
    private var pendingOrder: [ConnKey] = []
    private var pendingHead = 0
    private var probes = ConnSet()
    private var decided = ConnSet()                   // ordinary connections; cleared when full
    private var recent: RecentProbes

    init(limits: Limits = Limits()) {
        self.limits = limits
        budget = limits.payloadBudget
        recent = RecentProbes(capacity: limits.recentProbes)
    }

    /// Offers one decoded IP packet with its frame bytes.
    mutating func offer(_ p: DecodedPacket, bytes: UnsafeRawBufferPointer) {
        guard let ip = p.ip else { return }
        if let icmp = p.icmp {
            if let q = icmp.quoted, let sp = q.srcPort, let dp = q.dstPort {
                claimRecent(QuoteKey(src: q.src, dst: q.dst, proto: q.proto.rawValue, sport: sp, dport: dp))
                if q.proto == .tcp { promote(ConnKey(q.src, sp, q.dst, dp)) }
            }
            keep(p, bytes: bytes)
            return
        }
        if ip.hasOptions { keep(p, bytes: bytes); return }
        switch p.transport {
        case .tcp(let t):
            let k = ConnKey(ip.src, t.srcPort, ip.dst, t.dstPort)
            let synOnly = t.flags.contains(.syn) && !t.flags.contains(.ack)
            if synOnly && ip.ttl <= limits.probeTTL {
                recent.remember(p, QuoteKey(src: ip.src, dst: ip.dst, proto: 6, sport: t.srcPort, dport: t.dstPort))
            }
            if !probes.isEmpty && probes.contains(k) { keep(p, bytes: bytes); return }
            if decided.contains(k) { return }
            track(p, t, k, bytes: bytes)
        case .udp(let u):
            if ip.ttl <= limits.probeTTL {
                recent.remember(p, QuoteKey(src: ip.src, dst: ip.dst, proto: 17, sport: u.srcPort, dport: u.dstPort))
            }
        default:
            break
        }
    }

    /// Ends the pass: keeps connections that only saw client SYNs, then sorts `kept` by frame.
    ///
    /// With one thread this runs while every flow of the table is still open (it was the capture's peak), so what
    /// only served the pass (the recent probes, the sets of decided and probe connections, the pending table) is
    /// freed first, the leftovers are an array rather than a filtered copy of the table, and `kept` grows once, to its
    /// final size, rather than doubling.
    mutating func finish() {
        recent = RecentProbes(capacity: 1)
        decided = ConnSet()
        probes = ConnSet()
        pendingOrder = []
        pendingHead = 0
        var leftovers: [Pending] = []
        for (_, entry) in pending where entry.onlyClientSYNs { leftovers.append(entry) }
        pending = [:]
        leftovers.sort { $0.packets[0].frame < $1.packets[0].frame }
        let adding = leftovers.reduce(0) { $0 + $1.packets.count }
        kept.reserveCapacity(min(kept.count + adding, max(kept.count, limits.maxKept)))
        for entry in leftovers { flush(entry) }
        kept.sort { $0.frame < $1.frame }
    }

    // MARK: connections

    private mutating func track(_ p: DecodedPacket, _ t: TCPSummary, _ k: ConnKey, bytes: UnsafeRawBufferPointer) {
        guard let ip = p.ip else { return }
        // Taken out of the table while it changes, so its packet list and prefixes are appended to in place rather
        // than copied (the table would otherwise still share them), and put back at the end unless decided.
        var entry: Pending
        if let e = pending.removeValue(forKey: k) {
            entry = e
        } else {
            if pending.count >= limits.maxPendingConnections { evictOldestPending() }
            entry = Pending()
            if pendingOrder.count >= 2 * pending.count + 1024 { compactPendingOrder() }
            pendingOrder.append(k)
        }
        let synOnly = t.flags.contains(.syn) && !t.flags.contains(.ack)
        if synOnly, entry.client == nil { entry.client = (ip.src, t.srcPort) }
        if t.flags.contains(.syn) && t.flags.contains(.ack), entry.client == nil { entry.client = (ip.dst, t.dstPort) }
        let fromClient = entry.client.map { $0.0 == ip.src && $0.1 == t.srcPort } ?? false
        if !(fromClient && synOnly) { entry.onlyClientSYNs = false }
        let isData = p.payloadLength > 0
        if fromClient && isData && !t.flags.contains(.syn) && !t.flags.contains(.rst) {
            // The decision: the first client data segment.
            let probe = entry.clientTTLMin != .max && ip.ttl < entry.clientTTLMin
            if probe {
                flush(entry)
                keep(p, bytes: bytes)
                if probes.count < limits.maxProbeConnections { probes.insert(k) }
            } else {
                if decided.count >= limits.maxPendingConnections * 4 { decided.removeAll(keepingCapacity: true) }
                decided.insert(k)
            }
            return
        }
        if fromClient { entry.clientTTLMin = min(entry.clientTTLMin, ip.ttl) }
        if entry.packets.count >= limits.pendingPerConnection {
            // Too long without a client request (server speaks first, or mid-stream): not a sweep probe.
            decided.insert(k)
            return
        }
        entry.packets.append(p)
        if p.payloadCapturedLength > 0 { entry.prefixes[p.frame] = prefix(bytes) }
        pending[k] = entry
    }

    /// An ICMP error quoted this connection: keep what is pending and what follows.
    private mutating func promote(_ k: ConnKey) {
        if let e = pending.removeValue(forKey: k) { flush(e) }
        decided.remove(k)
        if probes.count < limits.maxProbeConnections { probes.insert(k) }
    }

    private mutating func evictOldestPending() {
        while pendingHead < pendingOrder.count {
            let k = pendingOrder[pendingHead]
            pendingHead += 1
            if pending.removeValue(forKey: k) != nil { pendingEvicted += 1; break }
        }
    }

    /// Drops what eviction already passed and the connections no longer pending, keeping for each pending connection
    /// its last place (the one its current entry was queued at: an earlier place is from a connection of the same
    /// endpoints that was decided and left). Called before the queue grows past twice the pending table (plus 1024),
    /// so its cost is constant per queued connection.
    ///
    /// Without it, the queue held a 48-byte key for every TCP connection ever tracked until the table filled (then up
    /// to 8 × `maxPendingConnections` keys, 6 MB), so on a capture that never fills it the queue grew with the
    /// capture: 26,885 keys (1.3 MB) at the end of the 1 GiB reference, for 1,414 pending connections.
    private mutating func compactPendingOrder() {
        var seen = Set<ConnKey>(minimumCapacity: pending.count)
        var kept: [ConnKey] = []
        kept.reserveCapacity(pending.count)
        for k in pendingOrder[pendingHead...].reversed() where pending[k] != nil && seen.insert(k).inserted {
            kept.append(k)
        }
        kept.reverse()
        pendingOrder = kept
        pendingHead = 0
    }

    /// Keys queued for eviction (what `compactPendingOrder` bounds); for tests.
    var queuedConnections: Int { pendingOrder.count }

    private mutating func flush(_ e: Pending) {
        for q in e.packets where append(q) {
            if let b = e.prefixes[q.frame], budget > 0 {
                payloads[q.frame] = b
                budget -= b.count
            }
        }
    }

    // MARK: traceroute probes

    private mutating func claimRecent(_ k: QuoteKey) {
        if let p = recent.claim(k) { append(p) }
    }

    // MARK: keeping

    /// Adds `p` unless it is already kept; false when it was not added (duplicate, or the cap).
    @discardableResult
    private mutating func append(_ p: DecodedPacket) -> Bool {
        guard kept.count < limits.maxKept else { truncated = true; return false }
        guard keptFrames.insert(p.frame).inserted else { return false }
        kept.append(p)
        return true
    }

    private mutating func keep(_ p: DecodedPacket, bytes: UnsafeRawBufferPointer) {
        guard append(p) else { return }
        if budget > 0 && (p.payloadCapturedLength > 0 || p.icmp != nil || (p.ip?.hasOptions ?? false)) {
            let b = prefix(bytes)
            payloads[p.frame] = b
            budget -= b.count
        }
    }

    private func prefix(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, limits.framePrefix)]))
    }
}
