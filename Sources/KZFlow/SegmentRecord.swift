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
/// (SYN/FIN/RST) after the head up to `control`. Storage is reserved once per flow; appends do not allocate afterwards.
@usableFromInline struct SegmentLog: Sendable {
    var head: [SegmentRecord] = []
    var tail: [SegmentRecord] = []
    var tailNext = 0
    var control: [SegmentRecord] = []
    var dropped = 0
    /// Records currently held (for the global budget).
    var held: Int { head.count + tail.count + control.count }

    /// Appends; returns +1 when one more record is held, 0 otherwise. `allowGrowth` false when the global budget is
    /// exhausted.
    @inline(__always)
    mutating func append(_ r: SegmentRecord, limits: FlowLimits, allowGrowth: Bool) -> Int {
        if head.count < limits.segmentHead {
            guard allowGrowth else { dropped &+= 1; return 0 }
            if head.capacity == 0 { head.reserveCapacity(min(limits.segmentHead, 8)) }
            head.append(r)
            return 1
        }
        var grew = 0
        if r.isControl {
            if control.count < limits.controlSegments && allowGrowth {
                control.append(r)
                return 1
            }
        }
        guard limits.segmentTail > 0 else { dropped &+= 1; return 0 }
        if tail.count < limits.segmentTail {
            guard allowGrowth else { dropped &+= 1; return 0 }
            if tail.capacity == 0 { tail.reserveCapacity(limits.segmentTail) }
            tail.append(r)
            grew = 1
        } else {
            // The record leaving the ring is dropped, unless it is a control segment that fits the control list.
            let old = tail[tailNext]
            if old.isControl && control.count < limits.controlSegments && allowGrowth {
                control.append(old)
                grew = 1
            } else {
                dropped &+= 1
            }
            tail[tailNext] = r
            tailNext = (tailNext + 1) % limits.segmentTail
        }
        return grew
    }

    /// All kept records ordered by frame.
    func records() -> [SegmentRecord] {
        var all = head
        all.append(contentsOf: control)
        all.append(contentsOf: tail)
        all.sort { $0.frame < $1.frame }
        return all
    }
}
