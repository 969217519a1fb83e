import KZWire

/// State of one TCP endpoint as Zeek's analyzer tracks it (`TCP_ENDPOINT_*`): coarser than RFC 9293 §3.3.2's state
/// diagram because a passive observer sees both sides and may miss packets.
public enum TCPEndpointState: UInt8, Sendable, Hashable, Codable {
    /// Nothing seen from this side.
    case inactive
    /// Sent a SYN without ACK.
    case synSent
    /// Sent a SYN-ACK as originator (or retransmitted SYN-ACK before the handshake completed).
    case synAckSent
    /// Seen without its SYN: the capture started mid-connection.
    case partial
    case established
    /// Sent a FIN.
    case closed
    /// Sent a RST.
    case reset

    var isInactive: Bool { self == .inactive || self == .partial }
}

/// Everything kept about one direction of a flow (the packets one endpoint sent), whatever its protocol.
///
/// 72 bytes, flat: the `TTLRange` and `IPIDStats` of the summary are rebuilt when the flow closes, so their padding
/// and the IP-ID count (always equal to `packets`: both count the packets of this side) are not stored per flow.
///
/// The counts of packets with a trait (TTL change, IP-ID zero or decrease, bad checksum) are 32-bit and saturate at
/// 2^32 − 1, which only a direction of more than four billion packets reaches; the packet and byte totals stay 64-bit.
/// The flow slot is 32 bytes smaller for it (16 a direction): about 1.5 MiB at the peak of the 1 GiB reference.
@usableFromInline struct HalfState: Sendable {
    var packets = 0
    var payloadBytes = 0
    var wireBytes = 0
    var ipBytes = 0
    var ttlChanges: UInt32 = 0
    var ipidZeros: UInt32 = 0
    var ipidDecreases: UInt32 = 0
    var badChecksums: UInt32 = 0
    var ipidFirst: UInt32 = 0
    var ipidLast: UInt32 = 0
    var ipidMin: UInt32 = .max
    var ipidMax: UInt32 = 0
    var ipidMaxStep: UInt32 = 0
    var ttlMin: UInt8 = 255
    var ttlMax: UInt8 = 0
    var lastTTL: UInt8 = 0

    /// TTL range of this side (as `TTLRange`).
    var ttl: TTLRange { TTLRange(min: ttlMin, max: ttlMax, changes: Int(ttlChanges)) }
    /// IP-ID behaviour of this side (as `IPIDStats`).
    var ipid: IPIDStats {
        IPIDStats(first: ipidFirst, last: ipidLast, min: ipidMin, max: ipidMax, zeros: Int(ipidZeros),
                  decreases: Int(ipidDecreases), maxStep: ipidMaxStep, count: packets)
    }

    /// Adds one to a trait count, saturating at `UInt32.max`.
    @inline(__always) static func bump(_ n: inout UInt32) {
        if n != .max { n &+= 1 }
    }

    /// Counts IP-level traits of one packet from this side.
    @inline(__always) mutating func countIP(_ ip: IPSummary, wire: Int) {
        packets &+= 1
        wireBytes &+= wire
        ipBytes &+= Int(ip.totalLength)
        let t = ip.ttl
        if t < ttlMin { ttlMin = t }
        if t > ttlMax { ttlMax = t }
        if packets > 1 && t != lastTTL { Self.bump(&ttlChanges) }
        lastTTL = t
        let id = ip.ipID
        if packets == 1 {
            ipidFirst = id
        } else {
            let modulus: UInt32 = ip.version == 4 ? 0x10000 : 0
            let step: UInt32 = modulus != 0 ? (id &- ipidLast) & 0xffff : id &- ipidLast
            let down = modulus != 0 ? step > 0x8000 : Int32(bitPattern: step) < 0
            if down { Self.bump(&ipidDecreases) } else if step > ipidMaxStep { ipidMaxStep = step }
        }
        ipidLast = id
        if id < ipidMin { ipidMin = id }
        if id > ipidMax { ipidMax = id }
        if id == 0 { Self.bump(&ipidZeros) }
    }

    /// The direction's totals; `tcp` is its TCP half (`TCPHalf.absent` for other protocols), `segments` its log's
    /// records.
    func summary(_ tcp: TCPHalf, segments: [SegmentRecord]) -> DirectionSummary {
        var d = DirectionSummary()
        d.packets = packets
        d.payloadBytes = payloadBytes
        d.wireBytes = wireBytes
        d.ipBytes = ipBytes
        d.streamBytes = tcp.stream.nextOffset &- UInt64(tcp.stream.missedBytes)
        d.retransmittedBytes = tcp.stream.retransmittedBytes
        d.retransmittedSegments = tcp.retransSegments
        d.missedBytes = tcp.stream.missedBytes
        d.uncheckedOverlapBytes = tcp.stream.uncheckedBytes
        d.ttl = ttl
        d.ipID = ipid
        d.windowScale = tcp.offeredScale == 0xff ? nil : tcp.offeredScale
        d.mss = tcp.mss == 0 ? nil : tcp.mss
        d.zeroWindows = tcp.zeroWindows
        d.resets = tcp.resets
        d.fins = tcp.fins
        d.badChecksums = Int(badChecksums)
        d.segments = segments
        d.segmentsDropped = tcp.log.dropped
        return d
    }
}

/// One direction's TCP connection tracking and reassembly. Kept out of the flow slot (`TCPFlowState`, indexed by
/// `FlowSlot.tcpIndex`) because UDP and ICMP flows, often the majority of those open at once, need none of it.
@usableFromInline struct TCPHalf: Sendable {
    // Small fields first, in one word (no padding between them and the 32-bit ones).
    var state: TCPEndpointState = .inactive
    var prevState: TCPEndpointState = .inactive
    var sawSYN = false
    var seqInit = false
    /// Window scale offered in this side's SYN (0xff none), MSS offered.
    var offeredScale: UInt8 = 0xff
    var ackKnown = false
    var mss: UInt16 = 0
    var isn: UInt32 = 0
    var maxSeqEnd: UInt32 = 0
    /// Last ACK number and scaled window this side advertised (RFC 9293 §3.10.7.4 RCV.NXT / RCV.WND as seen).
    var lastAck: UInt32 = 0
    var lastWindow: UInt32 = 0
    var log = SegmentLog()
    var zeroWindows = 0
    var resets = 0
    var fins = 0
    var retransSegments = 0
    var stream = StreamHalf()

    /// The TCP half of a flow that is not TCP.
    static let absent = TCPHalf()

    @inline(__always) mutating func set(_ s: TCPEndpointState) {
        prevState = state
        state = s
    }
}

/// `HandshakeTiming` while the flow is live, in 40 bytes instead of 80: absent frames are `Int.min` and absent
/// durations NaN (a duration computed from two timestamps is never NaN) instead of optionals, whose flag bytes pad
/// each field to 16 bytes.
@usableFromInline struct HandshakeState: Sendable {
    private var syn: FrameNumber = .min
    private var synAck: FrameNumber = .min
    private var ackF: FrameNumber = .min
    private var toSynAck: Double = .nan
    private var toAck: Double = .nan

    @inline(__always) static func frame(_ f: FrameNumber) -> FrameNumber? { f == .min ? nil : f }
    @inline(__always) static func seconds(_ d: Double) -> Double? { d.isNaN ? nil : d }

    var synFrame: FrameNumber? {
        get { Self.frame(syn) }
        set { syn = newValue ?? .min }
    }
    var synAckFrame: FrameNumber? {
        get { Self.frame(synAck) }
        set { synAck = newValue ?? .min }
    }
    var ackFrame: FrameNumber? {
        get { Self.frame(ackF) }
        set { ackF = newValue ?? .min }
    }
    var synToSynAck: Double? {
        get { Self.seconds(toSynAck) }
        set { toSynAck = newValue ?? .nan }
    }
    var synAckToAck: Double? {
        get { Self.seconds(toAck) }
        set { toAck = newValue ?? .nan }
    }

    /// The public form.
    var timing: HandshakeTiming {
        HandshakeTiming(synFrame: synFrame, synAckFrame: synAckFrame, ackFrame: ackFrame, synToSynAck: synToSynAck,
                        synAckToAck: synAckToAck)
    }
}

/// A TCP flow's out-of-line state: both halves and the handshake timing.
@usableFromInline struct TCPFlowState: Sendable {
    var fwd = TCPHalf()
    var rev = TCPHalf()
    var handshake = HandshakeState()
    var synNanos: Int64 = 0
    var synAckNanos: Int64 = 0
    /// The history's last SYN, FIN and RST sequence numbers (only TCP flows need them: not in the flow slot).
    var marks = TCPHistoryMarks()

    /// The flow's timeout class from its two endpoint states. A function of the two states rather than a property of
    /// the whole value: as a property the 656-byte state was copied to the stack for every TCP packet (1.4% of
    /// `analyze`'s time on the 1 GiB reference).
    @inline(__always) static func timeoutClass(_ o: TCPEndpointState, _ r: TCPEndpointState) -> TimeoutClass {
        if o == .reset || r == .reset || (o == .closed && r == .closed) { return .tcpClosed }
        let live: (TCPEndpointState) -> Bool = { $0 == .established || $0 == .partial || $0 == .closed }
        if live(o) && live(r) { return .tcpEstablished }
        if o == .partial || r == .partial { return .tcpEstablished }
        return .tcpHalfOpen
    }
}
