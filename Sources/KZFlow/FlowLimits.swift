import KZWire

/// Timeouts and memory caps of a `FlowTable`. Every cap that is hit is counted (`FlowTableStats`) and, when it costs a
/// flow data, recorded as an anomaly on that flow; nothing is dropped silently.
///
/// Memory is bounded by about `maxFlows` × 0.36 KB (slots, index, LRU links) + 0.66 KB per open TCP flow (its
/// out-of-line connection and reassembly state) + `maxBufferedBytesTotal` + `maxRetainedBytesTotal` +
/// `maxSegmentRecordsTotal` × 32 B + conflict and gap lists (capped per flow): with the defaults about 125 MB in the
/// worst case, whatever the capture size.
public struct FlowLimits: Sendable, Hashable {
    /// Idle timeout of an established (or mid-stream) TCP connection, seconds.
    public var tcpEstablishedTimeout: Double = 3600
    /// Idle timeout once both sides sent FIN or one side sent RST, seconds (late retransmissions and injected packets
    /// that arrive after the close still join the flow within this time).
    public var tcpClosedTimeout: Double = 10
    /// Idle timeout of a connection attempt that never completed the handshake, seconds.
    public var tcpHalfOpenTimeout: Double = 60
    public var udpTimeout: Double = 60
    /// UDP flows to or from port 53: one query and its answers, then idle (Zeek's `dns_session_timeout`, 10 s). A
    /// resolver's forged and genuine answers arrive within this; a later query from the same port starts a new flow.
    public var dnsTimeout: Double = 10
    public var icmpTimeout: Double = 30
    /// Other IP protocols (GRE, ESP, …).
    public var otherTimeout: Double = 60

    /// Flows tracked at once; opening one more evicts the least recently active flow (closed ones first).
    public var maxFlows: Int = 65_536
    /// Out-of-order bytes buffered per direction of a TCP flow before the reassembler skips the hole.
    public var maxBufferedBytesPerFlow: Int = 256 * 1024
    /// Out-of-order bytes buffered over all flows.
    public var maxBufferedBytesTotal: Int = 24 * 1024 * 1024
    /// Already delivered bytes kept per direction so a later retransmission can be compared with what was delivered
    /// (the check that finds injection races). The ring grows on demand up to this size.
    public var retainedBytesPerDirection: Int = 8 * 1024
    /// Retention applies to the first `retainStreamPrefix` bytes of each direction (where injection races happen: the
    /// first request and response); beyond it the ring is released and overlaps are counted as unchecked
    /// (`DirectionSummary.uncheckedOverlapBytes`). Bulk transfers then cost no extra copy. `UInt64.max` retains always.
    public var retainStreamPrefix: UInt64 = 256 * 1024
    /// Retained bytes over all flows; when exhausted, rings stop growing and later overlaps are counted as unchecked.
    public var maxRetainedBytesTotal: Int = 16 * 1024 * 1024

    /// Segment records kept per direction: the first `segmentHead`, the last `segmentTail`, and every SYN/FIN/RST up
    /// to `controlSegments`; the rest are counted in `FlowRecord.segmentsDropped`.
    public var segmentHead: Int = 32
    public var segmentTail: Int = 8
    public var controlSegments: Int = 16
    /// Keep segment records at all. Detectors read them when a flow closes; a run without detectors (the `flows` view)
    /// turns this off and saves about 30 MB on a capture with tens of thousands of open flows.
    public var keepSegmentRecords: Bool = true
    /// Segment records over all live flows; beyond this new records are counted as dropped.
    public var maxSegmentRecordsTotal: Int = 400_000
    /// Overlap conflicts and gaps kept per flow (all are counted).
    public var maxConflictsPerFlow: Int = 64
    public var maxGapsPerFlow: Int = 64
    /// Bytes of each side kept with an overlap conflict as evidence.
    public var conflictSampleBytes: Int = 32

    /// Zeek drops TCP packets with a bad checksum after noting `c`/`C` in the history. Captures taken on an endpoint
    /// with checksum offload show every locally sent packet as bad, so by default they are processed (and still
    /// noted); set to true for Zeek's behaviour.
    public var dropBadChecksumSegments: Bool = false

    public init() {}

    @inlinable func timeoutNanos(_ c: TimeoutClass) -> Int64 {
        let s: Double
        switch c {
        case .tcpEstablished: s = tcpEstablishedTimeout
        case .tcpClosed: s = tcpClosedTimeout
        case .tcpHalfOpen: s = tcpHalfOpenTimeout
        case .udp: s = udpTimeout
        case .dns: s = dnsTimeout
        case .icmp: s = icmpTimeout
        case .other: s = otherTimeout
        }
        return Int64(s * 1e9)
    }
}

/// Which idle timeout applies to a flow (one LRU list per class in `FlowTable`).
@usableFromInline enum TimeoutClass: Int, CaseIterable, Sendable {
    case tcpEstablished = 0, tcpClosed, tcpHalfOpen, udp, icmp, other, dns
}
