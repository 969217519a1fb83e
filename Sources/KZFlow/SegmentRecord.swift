import KZWire

/// What detectors need later about one TCP segment, in 64 bytes: arrival, IP header traits (RFC 791 §3.1 TTL, ID, DF,
/// TOS; RFC 8200 §3 hop limit) and TCP header traits (RFC 9293 §3.1; options shape per RFC 7323 and RFC 2018).
public struct SegmentRecord: Sendable, Hashable, Codable {
    public var frame: FrameNumber
    public var timestamp: Int64
    public var seq: UInt32
    public var ack: UInt32
    public var ipID: UInt32
    /// TSval of the timestamp option (RFC 7323 §3), 0 when absent (see `hasTimestamps`).
    public var tsVal: UInt32
    /// Option kinds seen, bit k for kind k (< 64).
    public var optionKinds: UInt64
    public var payloadLength: UInt16
    public var window: UInt16
    /// MSS option value, 0 when absent.
    public var mss: UInt16
    public var flags: UInt16
    public var direction: FlowDirection
    public var ttl: UInt8
    public var tos: UInt8
    /// Window scale shift, 0xff when absent.
    public var windowScale: UInt8
    public var df: Bool
    public var hasTimestamps: Bool
    public var badChecksum: Bool

    public var tcpFlags: TCPFlags { TCPFlags(rawValue: flags) }
    /// SYN, FIN or RST (RFC 9293 §3.1 control bits 0x02, 0x01, 0x04).
    public var isControl: Bool { flags & 0x07 != 0 }
    public var time: Timestamp { Timestamp(nanoseconds: timestamp) }

    @inlinable init(_ p: DecodedPacket, _ ip: IPSummary, _ t: TCPSummary, direction: FlowDirection, payload: Int) {
        frame = p.frame
        timestamp = p.timestamp.nanoseconds
        seq = t.seq
        ack = t.ack
        ipID = ip.ipID
        tsVal = t.options.tsVal ?? 0
        optionKinds = t.options.kindsSeen
        payloadLength = UInt16(truncatingIfNeeded: min(payload, 65535))
        window = t.window
        mss = t.options.mss ?? 0
        flags = t.flags.rawValue
        self.direction = direction
        ttl = ip.ttl
        tos = ip.tos
        windowScale = t.options.windowScale ?? 0xff
        df = ip.df
        hasTimestamps = t.options.tsVal != nil
        badChecksum = t.checksum == .bad
    }
}

/// Bounded per-direction log of segment records: the first `head`, a ring of the last `tail`, and control segments
/// (SYN/FIN/RST) after the head up to `control`. The records live, packed, in the table's `SegmentStore`; the log
/// holds its three chunk lists and must be released into the store when the flow closes. A record 2^31 frames or more
/// away from the log's first is counted as dropped (it cannot be packed).
@usableFromInline struct SegmentLog: Sendable {
    var head = ChunkList()
    var tail = ChunkList()
    var control = ChunkList()
    var tailNext: Int32 = 0
    var dropped = 0
    /// Frame and time of the first record (the packed records' frames and times count from them).
    var base: FrameNumber = -1
    var baseTime: Int64 = 0
    /// Records currently held (for the global budget).
    var held: Int { Int(head.count + tail.count + control.count) }

    /// Appends; returns +1 when one more record is held, 0 otherwise. `allowGrowth` false when the global budget is
    /// exhausted.
    @inline(__always)
    mutating func append(_ r: SegmentRecord, limits: FlowLimits, allowGrowth: Bool, store: inout SegmentStore) -> Int {
        if base < 0 {
            base = r.frame
            baseTime = r.timestamp
        }
        // Only records that will be held are packed (a wide one would take an entry).
        let fitsHead = Int(head.count) < limits.segmentHead
        if !allowGrowth && (fitsHead || limits.segmentTail <= 0) { dropped &+= 1; return 0 }
        guard let p = store.pack(r, base: base, baseTime: baseTime) else { dropped &+= 1; return 0 }
        if fitsHead {
            head.append(p, store: &store)
            return 1
        }
        var grew = 0
        if p.isControl {
            if Int(control.count) < limits.controlSegments && allowGrowth {
                control.append(p, store: &store)
                return 1
            }
        }
        guard limits.segmentTail > 0 else { store.discard(p); dropped &+= 1; return 0 }
        if Int(tail.count) < limits.segmentTail {
            guard allowGrowth else { store.discard(p); dropped &+= 1; return 0 }
            tail.append(p, store: &store)
            grew = 1
        } else {
            // The record leaving the ring is dropped, unless it is a control segment that fits the control list.
            let slot = Int(tailNext)
            let old = tail.get(slot, store)
            if old.isControl && Int(control.count) < limits.controlSegments && allowGrowth {
                control.append(old, store: &store)
                grew = 1
            } else {
                store.discard(old)
                dropped &+= 1
            }
            tail.set(slot, p, store: &store)
            tailNext = Int32((slot + 1) % limits.segmentTail)
        }
        return grew
    }

    /// All kept records ordered by frame.
    func records(_ store: SegmentStore) -> [SegmentRecord] {
        var all: [SegmentRecord] = []
        all.reserveCapacity(held)
        head.copy(into: &all, base: base, baseTime: baseTime, store)
        control.copy(into: &all, base: base, baseTime: baseTime, store)
        tail.copy(into: &all, base: base, baseTime: baseTime, store)
        all.sort { $0.frame < $1.frame }
        return all
    }

    /// Gives every record back to the store (the flow closed).
    mutating func release(_ store: inout SegmentStore) {
        head.release(&store)
        tail.release(&store)
        control.release(&store)
    }
}
