import KZFlow
import KZWire

/// The last `capacity` TTL-limited probes (traceroute datagrams and SYNs) `PathPacketKeeper` saw, findable by the
/// identity an ICMP error quotes: a ring of packets, and an index from key to the newest ring place holding that key.
///
/// Most UDP leaves Linux with TTL 64, so nearly every datagram of a capture is remembered here: the index is a
/// `HashSlotIndex` over the ring places, hashed with one multiply of the key's mixed word (a `Dictionary` ran SipHash
/// three times per datagram: the evicted key, the lookup, the insert).
struct RecentProbes {
    private var ring: [DecodedPacket?]
    private var keys: [PathPacketKeeper.QuoteKey]
    private var next = 0
    private var index: HashSlotIndex<Int32>

    init(capacity: Int) {
        let n = max(1, capacity)
        ring = Array(repeating: nil, count: n)
        keys = Array(repeating: PathPacketKeeper.QuoteKey(src: IPAddress(v4: 0), dst: IPAddress(v4: 0), proto: 0,
                                                           sport: 0, dport: 0), count: n)
        index = HashSlotIndex<Int32>(capacity: n)
    }

    @inline(__always) private static func hash(_ k: PathPacketKeeper.QuoteKey) -> UInt32 {
        UInt32(truncatingIfNeeded: (k.mixed &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    /// The ring place holding `k`'s newest packet, or -1.
    @inline(__always) private func place(of k: PathPacketKeeper.QuoteKey, hash h: UInt32) -> Int32 {
        keys.withUnsafeBufferPointer { ks in index.find(hash: h) { ks[Int($0)] == k } }
    }

    /// Remembers `p` under `k`, over the oldest place; a packet already remembered under `k` is no longer found.
    mutating func remember(_ p: DecodedPacket, _ k: PathPacketKeeper.QuoteKey) {
        if ring[next] != nil {
            // The evicted packet's key still points here unless a newer packet took it over.
            index.remove(hash: Self.hash(keys[next]), slot: Int32(next))
        }
        let h = Self.hash(k)
        let old = place(of: k, hash: h)
        if old >= 0 { index.remove(hash: h, slot: old) }
        ring[next] = p
        keys[next] = k
        index.insert(hash: h, slot: Int32(next))
        next = (next + 1) % ring.count
    }

    /// The newest packet remembered under `k`, taken out of the ring; nil when there is none.
    mutating func claim(_ k: PathPacketKeeper.QuoteKey) -> DecodedPacket? {
        let h = Self.hash(k)
        let i = place(of: k, hash: h)
        guard i >= 0, let p = ring[Int(i)] else { return nil }
        index.remove(hash: h, slot: i)
        ring[Int(i)] = nil
        return p
    }
}
