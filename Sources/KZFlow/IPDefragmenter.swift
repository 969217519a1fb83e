import KZWire

/// Timeouts and caps of `IPDefragmenter`.
public struct DefragLimits: Sendable, Hashable {
    /// Seconds a datagram may wait for its missing fragments (RFC 791 §3.2 suggests a timer of up to 15 s for the
    /// lower bound; RFC 8200 §4.5 uses 60 s; 30 s here).
    public var timeout: Double = 30
    /// Datagrams in reassembly at once; one more evicts the oldest.
    public var maxDatagrams: Int = 1024
    /// Fragment payload bytes buffered over all datagrams; beyond it the oldest datagrams are evicted.
    public var maxBufferedBytes: Int = 8 * 1024 * 1024
    /// Fragments per datagram (a flood of tiny fragments is an evasion and a memory attack).
    public var maxFragmentsPerDatagram: Int = 256
    /// Discarded datagrams kept for `takeDiscarded()`; more are counted only.
    public var maxDiscardedKept: Int = 1024
    public init() {}
}

/// Reassembly identity of a fragment: RFC 791 §3.2 (source, destination, protocol, identification); RFC 8200 §4.5
/// (source, destination, identification; the protocol of the Fragment header is the same in every fragment).
public struct FragmentKey: Hashable, Sendable {
    public var src: IPAddress
    public var dst: IPAddress
    public var id: UInt32
    public var proto: UInt8
    public var version: UInt8
}

/// Two fragments of one datagram that carried different bytes for the same offsets (IPv4: the first copy is kept,
/// as BSD-derived stacks do for the overlapped part; the choice is one of the classic evasion ambiguities).
public struct FragmentConflict: Sendable, Hashable {
    public var offset: Int
    public var length: Int
    public var differingBytes: Int
    public var firstFrame: FrameNumber
    public var secondFrame: FrameNumber
}

/// A datagram rebuilt from its fragments: an owned, complete IP datagram (IPv4 header of the first fragment with MF
/// and offset cleared, total length and checksum rewritten; IPv6 unfragmentable part with the Fragment header removed
/// and the payload length rewritten), ready for `PacketDecoder`'s bare-datagram entry. The fragments keep their own
/// accounting as frames; this datagram is not a new frame (decode it as `lastFrame`, with `.reassembled`).
public struct ReassembledDatagram: Sendable {
    public var key: FragmentKey
    public var bytes: [UInt8]
    /// Frames of the fragments in arrival order.
    public var fragmentFrames: [FrameNumber]
    public var firstTimestamp: Timestamp
    public var lastTimestamp: Timestamp
    /// The frame whose fragment completed the datagram.
    public var lastFrame: FrameNumber
    /// Overlapping fragments with identical bytes.
    public var identicalOverlaps: Int
    public var conflicts: [FragmentConflict]
}

/// A datagram given up on, with its fragments' frames.
public struct DiscardedDatagram: Sendable, Hashable {
    /// `ip.fragment_timeout`, `ip.fragment_evicted`, `ip.fragment_overlap_v6_discard`, `ip.fragment_oversize`,
    /// `ip.fragment_too_many`. (Other anomalies, tallied in `anomalies`: `ip.fragment_overlap`,
    /// `ip.fragment_overlap_conflict`, `ip.fragment_truncated`, `ip.fragment_misaligned`, `ip.fragment_tiny`,
    /// `ip.fragment_length_conflict`, `ip.fragment_beyond_end`.)
    public var reason: String
    public var key: FragmentKey
    public var fragmentFrames: [FrameNumber]
    public var bytesReceived: Int
}

/// What `IPDefragmenter.process` did with a packet.
public enum DefragOutcome: Sendable {
    /// Not a fragment: decode and use it as usual.
    case notFragment
    /// Kept until the datagram is complete.
    case buffered
    /// This fragment completed the datagram.
    case reassembled(ReassembledDatagram)
    /// Not usable (named anomaly, also tallied): truncated by the snap length, malformed, or part of a discarded
    /// datagram.
    case dropped(String)
}

/// IPv4 and IPv6 reassembly (RFC 791 §3.2, RFC 815 hole tracking, RFC 8200 §4.5, RFC 5722) that keeps the evidence:
/// IPv4 overlaps are compared and conflicts recorded (`ip.fragment_overlap_conflict`, both frames and the range);
/// IPv6 overlaps discard the whole datagram and any later fragment of it (RFC 5722 §4), except exact duplicates, which
/// RFC 8200 §4.5 allows to drop alone. Bounded by `DefragLimits`; every discarded datagram is reported with its frames.
public struct IPDefragmenter {
    public let limits: DefragLimits
    struct Pending {
        var key: FragmentKey
        var data: [UInt8] = []
        /// Merged covered ranges, sorted.
        var covered: [Range<Int>] = []
        var pieces: [(range: Range<Int>, frame: FrameNumber)] = []
        var header: [UInt8] = []
        /// IPv6: index in `header` of the next-header byte that pointed at the Fragment header.
        var nextHeaderIndex = -1
        var nextHeader: UInt8 = 0
        var total = -1
        var frames: [FrameNumber] = []
        var firstNanos: Int64
        var lastNanos: Int64
        var digits: UInt8
        var identical = 0
        var conflicts: [FragmentConflict] = []
    }
    var pending: [FragmentKey: Pending] = [:]
    /// IPv6 datagrams discarded for overlap: later fragments are discarded too, until the timeout (RFC 5722 §4).
    var poisoned: [FragmentKey: Int64] = [:]
    var bufferedBytes = 0
    var discarded: [DiscardedDatagram] = []
    var tallies: [String: (count: Int, first: FrameNumber)] = [:]
    public private(set) var reassembledCount = 0
    public private(set) var fragmentsSeen = 0
    public private(set) var discardedCount = 0

    public init(limits: DefragLimits = DefragLimits()) { self.limits = limits }

    /// Datagrams waiting for fragments.
    public var inFlight: Int { pending.count }
    public var buffered: Int { bufferedBytes }

    /// Anomalies by name with count and first frame, sorted by name.
    public var anomalies: [AnomalyCount] {
        tallies.map { AnomalyCount(name: $0.key, count: $0.value.count, firstFrame: $0.value.first) }
            .sorted { $0.name < $1.name }
    }

    /// Returns and forgets the datagrams discarded so far (timeouts, evictions, IPv6 overlaps, oversize).
    public mutating func takeDiscarded() -> [DiscardedDatagram] {
        defer { discarded = [] }
        return discarded
    }

    mutating func note(_ name: String, _ frame: FrameNumber) {
        if let t = tallies[name] { tallies[name] = (t.count + 1, t.first) } else { tallies[name] = (1, frame) }
    }

    /// Handles one decoded packet with its frame bytes.
    public mutating func process(_ p: DecodedPacket, frame bytes: UnsafeRawBufferPointer) -> DefragOutcome {
        guard let ip = p.ip, ip.isFragment, !p.flags.contains(.reassembled) else { return .notFragment }
        fragmentsSeen &+= 1
        let now = p.timestamp.nanoseconds
        expire(upTo: now)
        guard let frag = Self.locate(ip, bytes) else {
            note("ip.fragment_truncated", p.frame)
            return .dropped("ip.fragment_truncated")
        }
        let key = FragmentKey(src: ip.src, dst: ip.dst, id: frag.id, proto: frag.proto, version: ip.version)
        if poisoned[key] != nil {
            note("ip.fragment_overlap_v6_discard", p.frame)
            return .dropped("ip.fragment_overlap_v6_discard")
        }
        let start = frag.offset, len = frag.data.count, end = start + len
        if frag.more && len % 8 != 0 { note("ip.fragment_misaligned", p.frame) }
        if end + frag.headerBytes > 65535 + (ip.version == 6 ? 40 : 0) {
            note("ip.fragment_oversize", p.frame)
            if var d = pending.removeValue(forKey: key) {
                d.frames.append(p.frame)
                discard(d, reason: "ip.fragment_oversize")
            }
            return .dropped("ip.fragment_oversize")
        }
        if start == 0 {
            let need = frag.proto == 6 ? 20 : 8
            if len < need && frag.more { note("ip.fragment_tiny", p.frame) }
        }

        if pending[key] == nil {
            if pending.count >= limits.maxDatagrams { evictOldest() }
            pending[key] = Pending(key: key, firstNanos: now, lastNanos: now, digits: p.timestamp.digits)
        }
        while bufferedBytes + max(0, end - (pending[key]?.data.count ?? 0)) > limits.maxBufferedBytes
            && pending.count > 1 {
            evictOldest(except: key)
        }
        guard var d = pending.removeValue(forKey: key) else { return .buffered }
        d.lastNanos = now
        d.frames.append(p.frame)
        if d.frames.count > limits.maxFragmentsPerDatagram {
            note("ip.fragment_too_many", p.frame)
            discard(d, reason: "ip.fragment_too_many")
            return .dropped("ip.fragment_too_many")
        }
        if !frag.more {
            if d.total >= 0 && d.total != end {
                note("ip.fragment_length_conflict", p.frame)
            } else {
                d.total = end
            }
        }
        if start == 0 && d.header.isEmpty {
            d.header = Array(frag.header)
            d.nextHeaderIndex = frag.nextHeaderIndex
            d.nextHeader = frag.proto
        }

        // Overlaps with earlier fragments.
        var overlapped = false
        var exactDuplicate = false
        for piece in d.pieces where piece.range.overlaps(start..<end) {
            overlapped = true
            let s = max(piece.range.lowerBound, start), e = min(piece.range.upperBound, end)
            var differing = 0
            for o in s..<e where d.data[o] != frag.data[o - start] { differing &+= 1 }
            if piece.range == start..<end && differing == 0 { exactDuplicate = true }
            if differing == 0 {
                d.identical &+= 1
                note("ip.fragment_overlap", p.frame)
            } else {
                d.conflicts.append(FragmentConflict(offset: s, length: e - s, differingBytes: differing,
                                                    firstFrame: piece.frame, secondFrame: p.frame))
                note("ip.fragment_overlap_conflict", p.frame)
            }
        }
        if overlapped && ip.version == 6 && !exactDuplicate {
            // RFC 5722 §4: the datagram and all its fragments, including those not yet received, are discarded.
            note("ip.fragment_overlap_v6_discard", p.frame)
            poisoned[key] = d.firstNanos
            discard(d, reason: "ip.fragment_overlap_v6_discard")
            return .dropped("ip.fragment_overlap_v6_discard")
        }
        if exactDuplicate {
            pending[key] = d
            return .buffered
        }

        // Store the bytes not covered yet (first copy wins).
        if d.data.count < end {
            bufferedBytes += end - d.data.count
            d.data.append(contentsOf: repeatElement(0, count: end - d.data.count))
        }
        var pos = start
        for r in d.covered where r.upperBound > pos && r.lowerBound < end {
            if r.lowerBound > pos { copy(frag.data, from: pos, to: r.lowerBound, start: start, into: &d.data) }
            pos = max(pos, r.upperBound)
        }
        if pos < end { copy(frag.data, from: pos, to: end, start: start, into: &d.data) }
        d.pieces.append((start..<end, p.frame))
        d.covered = Self.merge(d.covered, start..<end)

        if d.total >= 0 && end > d.total { note("ip.fragment_beyond_end", p.frame) }
        if d.total >= 0 && !d.header.isEmpty && d.covered.first.map({ $0.lowerBound == 0 && $0.upperBound >= d.total })
            == true {
            // The size check above used this fragment's header; the rebuilt datagram carries the first fragment's,
            // which may be longer (IPv4 options): its total length must still fit the 16-bit field (RFC 791 §3.1).
            if d.key.version == 4 && d.header.count + d.total > 65535 {
                note("ip.fragment_oversize", p.frame)
                discard(d, reason: "ip.fragment_oversize")
                return .dropped("ip.fragment_oversize")
            }
            bufferedBytes -= d.data.count
            reassembledCount &+= 1
            let bytes = Self.build(d)
            return .reassembled(ReassembledDatagram(
                key: key, bytes: bytes, fragmentFrames: d.frames,
                firstTimestamp: Timestamp(nanoseconds: d.firstNanos, digits: d.digits),
                lastTimestamp: Timestamp(nanoseconds: now, digits: d.digits), lastFrame: p.frame,
                identicalOverlaps: d.identical, conflicts: d.conflicts))
        }
        pending[key] = d
        return .buffered
    }

    /// Discards datagrams older than the timeout at capture time `now` (nanoseconds).
    public mutating func expire(upTo now: Int64) {
        let limit = Int64(limits.timeout * 1e9)
        if !poisoned.isEmpty { poisoned = poisoned.filter { $0.value &+ limit >= now } }
        guard !pending.isEmpty else { return }
        let old = pending.values.filter { $0.firstNanos &+ limit < now }
        guard !old.isEmpty else { return }
        for d in old.sorted(by: { $0.firstNanos < $1.firstNanos }) {
            pending[d.key] = nil
            note("ip.fragment_timeout", d.frames.first ?? 0)
            discard(d, reason: "ip.fragment_timeout")
        }
    }

    /// End of capture: every incomplete datagram is discarded as timed out.
    public mutating func finish() {
        for d in pending.values.sorted(by: { $0.firstNanos < $1.firstNanos }) {
            note("ip.fragment_timeout", d.frames.first ?? 0)
            discard(d, reason: "ip.fragment_timeout")
        }
        pending = [:]
    }

    mutating func evictOldest(except keep: FragmentKey? = nil) {
        guard let victim = pending.values.filter({ $0.key != keep }).min(by: { $0.firstNanos < $1.firstNanos })
        else { return }
        pending[victim.key] = nil
        note("ip.fragment_evicted", victim.frames.first ?? 0)
        discard(victim, reason: "ip.fragment_evicted")
    }

    mutating func discard(_ d: Pending, reason: String) {
        bufferedBytes -= d.data.count
        discardedCount &+= 1
        if discarded.count < limits.maxDiscardedKept {
            discarded.append(DiscardedDatagram(reason: reason, key: d.key, fragmentFrames: d.frames,
                                               bytesReceived: d.covered.reduce(0) { $0 + $1.count }))
        }
    }

    func copy(_ src: [UInt8], from: Int, to: Int, start: Int, into dst: inout [UInt8]) {
        for o in from..<to { dst[o] = src[o - start] }
    }

    static func merge(_ list: [Range<Int>], _ r: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var cur = r
        var placed = false
        for x in list {
            if x.upperBound < cur.lowerBound {
                out.append(x)
            } else if cur.upperBound < x.lowerBound {
                if !placed { out.append(cur); placed = true }
                out.append(x)
            } else {
                cur = min(cur.lowerBound, x.lowerBound)..<max(cur.upperBound, x.upperBound)
            }
        }
        if !placed { out.append(cur) }
        return out
    }

    /// A fragment's position and bytes read from the frame (RFC 791 §3.1 header; RFC 8200 §4.5 Fragment header).
    struct Located {
        var id: UInt32
        var proto: UInt8
        var offset: Int
        var more: Bool
        var data: [UInt8]
        /// Header bytes before the fragment data (IPv4 header; IPv6 header + extension headers before Fragment).
        var header: ArraySlice<UInt8>
        var headerBytes: Int
        var nextHeaderIndex: Int
    }

    static func locate(_ ip: IPSummary, _ b: UnsafeRawBufferPointer) -> Located? {
        let h = ip.headerOffset
        guard h >= 0 else { return nil }
        if ip.version == 4 {
            guard h + 20 <= b.count else { return nil }
            let ihl = Int(b[h] & 0x0f) * 4
            let total = Int(b.be16(h + 2))
            guard ihl >= 20, total >= ihl, h + total <= b.count else { return nil }
            let fo = b.be16(h + 6)
            let header = Array(b[h..<(h + ihl)])
            return Located(id: UInt32(b.be16(h + 4)), proto: b[h + 9], offset: Int(fo & 0x1fff) * 8,
                           more: fo & 0x2000 != 0, data: Array(b[(h + ihl)..<(h + total)]),
                           header: header[...], headerBytes: ihl, nextHeaderIndex: -1)
        }
        guard ip.version == 6, h + 40 <= b.count else { return nil }
        let end = h + 40 + Int(b.be16(h + 4))
        guard end <= b.count else { return nil }
        var nh = b[h + 6]
        var nhIndex = 6
        var off = h + 40
        var steps = 0
        while nh != 44 {
            guard nh == 0 || nh == 43 || nh == 60 || nh == 51, steps < 8, off + 8 <= end else { return nil }
            let len = nh == 51 ? (Int(b[off + 1]) + 2) * 4 : (Int(b[off + 1]) + 1) * 8
            nhIndex = off - h
            nh = b[off]
            off += len
            steps += 1
        }
        guard off + 8 <= end else { return nil }
        let fo = b.be16(off + 2)
        let header = Array(b[h..<off])
        return Located(id: b.be32(off + 4), proto: b[off], offset: Int(fo & 0xfff8), more: fo & 1 != 0,
                       data: Array(b[(off + 8)..<end]), header: header[...], headerBytes: off - h,
                       nextHeaderIndex: nhIndex)
    }

    /// The rebuilt datagram: first fragment's header, lengths (and IPv4 checksum) rewritten.
    static func build(_ d: Pending) -> [UInt8] {
        var out = d.header
        out.append(contentsOf: d.data[0..<d.total])
        if d.key.version == 4 {
            let ihl = d.header.count
            let total = ihl + d.total
            out[2] = UInt8(total >> 8); out[3] = UInt8(total & 0xff)
            out[6] &= 0x40          // keep DF, clear MF and the offset
            out[7] = 0
            out[10] = 0; out[11] = 0
            var sum: UInt32 = 0
            var i = 0
            while i + 1 < ihl { sum &+= UInt32(out[i]) << 8 | UInt32(out[i + 1]); i += 2 }
            while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
            let c = ~UInt16(truncatingIfNeeded: sum)
            out[10] = UInt8(c >> 8); out[11] = UInt8(c & 0xff)
        } else {
            let payload = d.header.count - 40 + d.total
            out[4] = UInt8((payload >> 8) & 0xff); out[5] = UInt8(payload & 0xff)
            if d.nextHeaderIndex >= 0 && d.nextHeaderIndex < out.count { out[d.nextHeaderIndex] = d.nextHeader }
        }
        return out
    }
}
