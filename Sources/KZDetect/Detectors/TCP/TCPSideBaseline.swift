import KZWire

/// Modular sequence-number arithmetic (RFC 9293 §3.4): the signed distance `a − b` on the 2^32 circle.
@inlinable func tcpSeqDistance(_ a: UInt32, _ b: UInt32) -> Int64 { Int64(Int32(bitPattern: a &- b)) }

extension SegmentEvent {
    /// Sequence space this segment occupies: payload plus one for SYN and one for FIN.
    var seqEnd: UInt32 {
        var n = UInt32(truncatingIfNeeded: max(0, payloadLength))
        if flags.contains(.syn) { n &+= 1 }
        if flags.contains(.fin) { n &+= 1 }
        return seq &+ n
    }
    var isRST: Bool { flags.contains(.rst) }
    var isFIN: Bool { flags.contains(.fin) && !flags.contains(.rst) }
    /// The reset a kernel sends for a segment that matches no connection (RFC 9293 §3.10.7.1: `<SEQ=SEG.ACK><CTL=RST>`):
    /// no ACK flag, window 0. Linux fills IP ID and DF for these from a shared control socket, so neither is
    /// compared with the connection's own packets.
    var looksLikeKernelNoSocketReset: Bool { isRST && !flags.contains(.ack) && window == 0 && payloadLength == 0 }
}

extension Side {
    var other: Side { self == .client ? .server : .client }
}

/// How a side numbers its IP IDs, judged from its ordinary (non-RST, non-FIN) packets.
enum IPIDPattern: String, Sendable {
    /// Every ID is 0 (Linux with DF, IPv6).
    case zero
    /// Non-zero IDs rising in small steps (a per-host or per-connection counter).
    case incrementing
    /// Anything else, or too few packets to tell.
    case unknown
}

/// What one side of a connection looks like on the wire, from its own ordinary packets: the handshake first (SYN for
/// the client, SYN-ACK for the server), then its other non-RST, non-FIN segments. A forged packet is judged against
/// this (Weaver et al., NDSS 2009; CenTrace `terminating_response_features`: IP flags, TOS, TTL, IP ID, window,
/// options).
struct TCPSideBaseline: Sendable {
    var side: Side
    /// The handshake TTL when the handshake was seen, else the most frequent TTL of the side's ordinary packets.
    var ttl: UInt8?
    var ttlFrame: FrameNumber?
    var df: Bool?
    var tos: UInt8?
    /// The side carries TCP timestamps (RFC 7323) on at least 90% of its ordinary segments, handshake included.
    var usesTimestamps: Bool
    var ipIDPattern: IPIDPattern
    /// Ordinary segments of this side at the baseline distance, in capture order (indices into the flow's segments).
    var ordinary: [Int]
    /// Window range of non-SYN ordinary segments (raw values, unscaled).
    var windowRange: ClosedRange<UInt16>?
    /// The side's ordinary packets contain exact duplicates (same seq, ack, flags, length and IP ID): the capture
    /// saw some packets twice, so identical RSTs prove nothing.
    var hasCaptureDuplicates: Bool
    /// The handshake was seen with an exact initial TTL (32, 64, 128, 255): the capture runs on this host. Its packets
    /// are its own (nobody can inject "from" the local host into its own capture), and lower TTLs on its later
    /// packets are deliberate TTL-limited probes (CenTrace, traceroute-style measurement), not anomalies.
    var isLocal: Bool

    init(side: Side, segments: [SegmentEvent]) {
        self.side = side
        var ordinary: [Int] = []
        var handshake: Int?
        for (i, s) in segments.enumerated() where s.side == side && !s.isRST {
            let isHandshake = side == .client ? (s.flags.contains(.syn) && !s.flags.contains(.ack))
                                              : (s.flags.contains(.syn) && s.flags.contains(.ack))
            if isHandshake && handshake == nil { handshake = i }
            if !s.isFIN { ordinary.append(i) }
        }
        self.ordinary = ordinary
        if let h = handshake {
            ttl = segments[h].ttl
            ttlFrame = segments[h].frame
            isLocal = InitialTTL.hops(segments[h].ttl) == 0
        } else if let mode = Self.mode8(ordinary.lazy.map { segments[$0].ttl }) {
            ttl = mode
            ttlFrame = ordinary.first { segments[$0].ttl == mode }.map { segments[$0].frame }
            isLocal = false
        } else {
            ttl = nil
            ttlFrame = nil
            isLocal = false
        }
        // Shape is learnt from packets at the baseline distance only, so forged data does not teach it.
        let trusted: [Int]
        if let t = ttl, !ordinary.allSatisfy({ InitialTTL.gap(segments[$0].ttl, t) <= 2 }) {
            let near = ordinary.filter { InitialTTL.gap(segments[$0].ttl, t) <= 2 }
            trusted = near.isEmpty ? ordinary : near
        } else {
            trusted = ordinary          // every packet at the baseline distance (the usual case): no filtered copy
        }
        self.ordinary = trusted
        // Mode of the DF bit; a tie goes to the smaller value (clear), as `mode` breaks ties.
        let dfSet = trusted.reduce(0) { $0 + (segments[$1].df ? 1 : 0) }
        df = trusted.isEmpty ? nil : dfSet > trusted.count - dfSet
        tos = Self.mode8(trusted.lazy.map { segments[$0].tos })
        // One pass for the timestamp share and the window range of non-SYN segments (this runs several times per
        // flow, once per detector that reads a side's shape: no intermediate arrays).
        var withTS = 0, lo = UInt16.max, hi = UInt16.min, anyNonSYN = false
        for i in trusted {
            let s = segments[i]
            if s.hasTimestamps { withTS += 1 }
            if !s.flags.contains(.syn) {
                anyNonSYN = true
                lo = min(lo, s.window)
                hi = max(hi, s.window)
            }
        }
        usesTimestamps = trusted.count >= 2 && withTS * 10 >= trusted.count * 9
        windowRange = anyNonSYN ? lo...hi : nil
        ipIDPattern = Self.classify(trusted.lazy.map { segments[$0].ipID })
        // Two ordinary segments identical in sequence, ack, flags, length and IP ID: the capture saw one packet twice.
        // (Sorted keys, adjacent equal: a flow keeps at most a few dozen segments per side, so no hash set.)
        func key(_ i: Int) -> DupKey {
            let s = segments[i]
            return DupKey(seq: s.seq, ack: s.ack, flags: s.flags.rawValue, len: s.payloadLength, id: s.ipID)
        }
        if ordinary.count <= 48 {
            var dup = false
            outer: for a in ordinary.indices {
                let ka = key(ordinary[a])
                for b in ordinary.indices.dropFirst(a + 1) where key(ordinary[b]) == ka { dup = true; break outer }
            }
            hasCaptureDuplicates = dup
        } else {
            var keys = ordinary.map(key)
            keys.sort()
            hasCaptureDuplicates = keys.indices.dropFirst().contains { keys[$0] == keys[$0 - 1] }
        }
    }

    private struct DupKey: Hashable, Comparable {
        var seq: UInt32; var ack: UInt32; var flags: UInt16; var len: Int; var id: UInt32
        static func < (a: DupKey, b: DupKey) -> Bool {
            (a.seq, a.ack, a.flags, a.len, a.id) < (b.seq, b.ack, b.flags, b.len, b.id)
        }
    }

    /// `classify` in one pass without intermediate arrays (the same verdicts; `classify` is the definition).
    static func classify<S: Sequence>(_ ids: S) -> IPIDPattern where S.Element == UInt32 {
        var count = 0, nonZero = 0, distinct = 0
        var prev: UInt32 = 0
        for id in ids {
            count += 1
            guard id != 0 else { continue }
            if nonZero > 0 {
                let d = (id &- prev) & 0xffff
                if d > 1024 { return .unknown }
                if d != 0 { distinct += 1 }
            }
            nonZero += 1
            prev = id
        }
        if count == 0 { return .unknown }
        if nonZero == 0 { return .zero }
        guard nonZero >= 2 else { return .unknown }
        return distinct >= 1 ? .incrementing : .unknown
    }

    static func classify(_ ids: [UInt32]) -> IPIDPattern {
        guard !ids.isEmpty else { return .unknown }
        if ids.allSatisfy({ $0 == 0 }) { return .zero }
        // A SYN-ACK with ID 0 followed by a counter is common (Linux): judge the non-zero IDs.
        let nz = ids.filter { $0 != 0 }
        guard nz.count >= 2 else { return .unknown }
        var distinct = 0
        for k in 1..<nz.count {
            let d = (nz[k] &- nz[k - 1]) & 0xffff
            if d > 1024 { return .unknown }
            if d != 0 { distinct += 1 }
        }
        return distinct >= 1 ? .incrementing : .unknown
    }

    /// `mode` for bytes, with a counting table instead of a dictionary (the same tie rule: the smallest value).
    static func mode8<S: Sequence>(_ values: S) -> UInt8? where S.Element == UInt8 {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { counts -> UInt8? in
            counts.initialize(repeating: 0)
            var any = false
            for v in values { counts[Int(v)] += 1; any = true }
            guard any else { return nil }
            var best = 0
            for k in 1..<256 where counts[k] > counts[best] { best = k }
            return UInt8(best)
        }
    }

    static func mode<T: Hashable & Comparable>(_ values: [T]) -> T? {
        var counts: [T: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }

    /// The latest ordinary IP ID of this side before segment index `i` (or the first after it when none precedes).
    func neighbourIPID(before i: Int, in segments: [SegmentEvent]) -> (id: UInt32, frame: FrameNumber)? {
        if let j = ordinary.last(where: { $0 < i && segments[$0].ipID != 0 }) { return (segments[j].ipID, segments[j].frame) }
        if let j = ordinary.first(where: { $0 > i && segments[$0].ipID != 0 }) { return (segments[j].ipID, segments[j].frame) }
        return nil
    }
}

/// Initial-TTL bucket and hop distance (p0f `guess_dist`): ≤32 → 32, ≤64 → 64, ≤128 → 128, else 255.
enum InitialTTL {
    static func bucket(_ ttl: UInt8) -> Int {
        switch ttl {
        case 0...32: return 32
        case 33...64: return 64
        case 65...128: return 128
        default: return 255
        }
    }
    static func hops(_ ttl: UInt8) -> Int { bucket(ttl) - Int(ttl) }
    static func gap(_ a: UInt8, _ b: UInt8) -> Int { abs(Int(a) - Int(b)) }
    /// Readable distance statement: "TTL 70 (initial 128, 58 hops)".
    static func describe(_ ttl: UInt8) -> String { "TTL \(ttl) (initial \(bucket(ttl)), \(hops(ttl)) hops)" }
}

/// What a TCP flow was trying to reach, for `Finding.target`.
func tcpFlowTarget(_ flow: TCPFlowEvent) -> TargetRef {
    TargetRef(host: flow.httpRequests.first?.host, sni: flow.tls?.sni, qname: nil, ip: flow.server.description)
}

/// Seconds between two capture timestamps.
@inlinable func secondsBetween(_ a: Timestamp, _ b: Timestamp) -> Double { Double(b.nanoseconds - a.nanoseconds) / 1e9 }

/// The two sides' baselines of one `TCPFlowEvent`, computed on first use. Six detectors judge every TCP flow against
/// the same baselines; they run on one thread (the detector stage), and a change to the event's segments replaces the
/// memo.
final class TCPBaselineMemo: @unchecked Sendable {
    var client: TCPSideBaseline?
    var server: TCPSideBaseline?
}

extension TCPFlowEvent {
    /// `TCPSideBaseline(side:segments:)` of this flow, computed once per side.
    func baseline(_ side: Side) -> TCPSideBaseline {
        switch side {
        case .client:
            if let b = baselineMemo.client { return b }
            let b = TCPSideBaseline(side: .client, segments: segments)
            baselineMemo.client = b
            return b
        case .server:
            if let b = baselineMemo.server { return b }
            let b = TCPSideBaseline(side: .server, segments: segments)
            baselineMemo.server = b
            return b
        }
    }
}
