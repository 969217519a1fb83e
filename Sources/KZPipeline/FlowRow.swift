import KZFlow
import KZWire

/// One row of `kzforensics flows`: what the view prints of a `FlowRecord`, and nothing else. The view keeps a row per
/// flow until the capture ends (it prints them in order of first frame), so the row is small: about a third of the
/// record, which also carries per-direction IP ID statistics, overlap and gap evidence and the handshake timing.
public struct FlowRow: Sendable, Hashable {
    /// Per direction: packets, payload bytes and the TTL range.
    public struct Side: Sendable, Hashable {
        public var packets: Int
        public var payloadBytes: Int
        public var ttl: TTLRange
    }

    public var id: FlowID
    public var key: FlowKey
    public var originator: FlowEndpoint
    public var responder: FlowEndpoint
    public var roleSource: RoleSource
    public var firstTimestamp: Timestamp
    public var lastTimestamp: Timestamp
    public var firstFrame: FrameNumber
    public var lastFrame: FrameNumber
    public var connState: ConnState
    public var history: String
    public var forward: Side
    public var reverse: Side
    public var anomalies: [AnomalyCount]
    public var overlapConflictCount: Int
    public var gapCount: Int

    public var proto: IPProtocol { key.proto }
    public var vlan: UInt16 { key.vlan }
    public var duration: Double { Double(lastTimestamp.nanoseconds - firstTimestamp.nanoseconds) / 1e9 }

    public init(_ r: FlowRecord) {
        id = r.id
        key = r.key
        originator = r.originator
        responder = r.responder
        roleSource = r.roleSource
        firstTimestamp = r.firstTimestamp
        lastTimestamp = r.lastTimestamp
        firstFrame = r.firstFrame
        lastFrame = r.lastFrame
        connState = r.connState
        history = r.history
        forward = Side(packets: r.forward.packets, payloadBytes: r.forward.payloadBytes, ttl: r.forward.ttl)
        reverse = Side(packets: r.reverse.packets, payloadBytes: r.reverse.payloadBytes, ttl: r.reverse.ttl)
        anomalies = r.anomalies
        overlapConflictCount = r.overlapConflictCount
        gapCount = r.gapCount
    }
}
