import KZWire

/// Who a flow is, passed with every event: its id, key and roles.
public struct FlowContext: Sendable, Hashable {
    public var id: FlowID
    public var key: FlowKey
    public var originator: FlowEndpoint
    public var responder: FlowEndpoint
    public var roleSource: RoleSource
    /// The endpoint that sent packets in `direction`.
    @inlinable public func sender(_ direction: FlowDirection) -> FlowEndpoint {
        direction == .forward ? originator : responder
    }
}

/// In-order TCP stream bytes (RFC 9293 §3.10.7.4: the data a receiver would hand to its application).
///
/// **Copy warning** (as gopacket's `ScatterGather`): `bytes` is borrowed from the frame being processed or from the
/// reassembler's buffer and is valid only during the `streamData` call. Copy what you need to keep.
public struct StreamChunk {
    public var direction: FlowDirection
    /// Stream offset of `bytes[0]`: 0 is the first byte after the SYN (or the first byte seen in a mid-stream capture).
    public var offset: UInt64
    /// Sequence number of `bytes[0]`.
    public var seq: UInt32
    public var bytes: UnsafeRawBufferPointer
    /// The frame that carried these bytes, its arrival time and IP traits (a forged segment often differs here).
    public var frame: FrameNumber
    public var timestamp: Timestamp
    public var ttl: UInt8
    public var ipID: UInt32
    /// The frame whose arrival made these bytes deliverable (`frame` for in-order data, later for buffered data).
    public var deliveredAtFrame: FrameNumber
}

/// A UDP datagram (RFC 768). `payload` is borrowed from the frame: valid only during the call.
public struct Datagram {
    public var direction: FlowDirection
    public var frame: FrameNumber
    public var timestamp: Timestamp
    public var payload: UnsafeRawBufferPointer
    /// Length the UDP header declares for the payload (may exceed `payload.count` when the frame was cut).
    public var declaredLength: Int
    public var ttl: UInt8
    public var ipID: UInt32
    public var df: Bool
    public var badChecksum: Bool
}

/// An ICMP or ICMPv6 message (RFC 792, RFC 4443) with the flow its quote refers to.
public struct ICMPMessage: Sendable {
    public var direction: FlowDirection
    public var frame: FrameNumber
    public var timestamp: Timestamp
    public var icmp: ICMPSummary
    /// Sender address, TTL and IP ID of the ICMP packet itself (the router that answered).
    public var source: IPAddress
    public var ttl: UInt8
    public var ipID: UInt32
    /// The key of the flow the quoted datagram belongs to, for errors that quote one.
    public var quotedFlow: FlowKey?
}

/// A TCP RST (RFC 9293 §3.5.2, §3.10.7.4) with what an injection detector needs: where its sequence number falls
/// relative to what the receiver expects.
public struct ResetEvent: Sendable {
    public var direction: FlowDirection
    public var segment: SegmentRecord
    /// Next sequence number the sender's stream expected (nil before any sequence number was known).
    public var expectedSeq: UInt32?
    /// `seq - expectedSeq` (signed).
    public var seqOffset: Int?
    /// Whether `seq` lies inside the receiver's last advertised window (scaled), nil when unknown (RFC 5961 §3.2).
    public var inWindow: Bool?
    /// conn_state-like summary of the flow when the RST arrived.
    public var handshakeComplete: Bool
    /// Stream bytes already delivered in each direction `[orig, resp]` when the RST arrived.
    public var deliveredForward: UInt64
    public var deliveredReverse: UInt64
}

/// Why a stream direction ended.
public enum StreamEndReason: String, Sendable, Hashable, Codable {
    /// All bytes up to the FIN were delivered (RFC 9293 §3.6).
    case fin
    /// The flow closed (timeout, eviction, reuse or end of capture) without an in-order FIN.
    case closed
}

/// Receives what a `FlowTable` learns, in packet order. Every method has an empty default, so a consumer implements
/// only what it needs (KZProtocols' stream parsers take `streamData`/`streamGap`/`streamEnd`, UDP parsers `datagram`,
/// detectors `tcpSegment`, `tcpReset`, `overlapConflict`, `icmp`, `flowClosed`).
///
/// Borrowed buffers (`StreamChunk.bytes`, `Datagram.payload`) are valid only during the call. Calls for one flow
/// always see `flowOpened` first and `flowClosed` last.
public protocol FlowEventSink {
    mutating func flowOpened(_ flow: FlowContext, frame: FrameNumber, timestamp: Timestamp)
    /// Every TCP segment of the flow (after state tracking), capped or not by the segment log.
    mutating func tcpSegment(_ flow: FlowContext, _ segment: SegmentRecord)
    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk)
    mutating func streamGap(_ flow: FlowContext, _ gap: StreamGap)
    mutating func streamEnd(_ flow: FlowContext, direction: FlowDirection, offset: UInt64, reason: StreamEndReason)
    mutating func overlapConflict(_ flow: FlowContext, _ conflict: OverlapConflict)
    mutating func tcpReset(_ flow: FlowContext, _ reset: ResetEvent)
    mutating func datagram(_ flow: FlowContext, _ datagram: Datagram)
    mutating func icmp(_ flow: FlowContext, _ message: ICMPMessage)
    mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord)
}

extension FlowEventSink {
    public mutating func flowOpened(_ flow: FlowContext, frame: FrameNumber, timestamp: Timestamp) {}
    public mutating func tcpSegment(_ flow: FlowContext, _ segment: SegmentRecord) {}
    public mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) {}
    public mutating func streamGap(_ flow: FlowContext, _ gap: StreamGap) {}
    public mutating func streamEnd(_ flow: FlowContext, direction: FlowDirection, offset: UInt64,
                                   reason: StreamEndReason) {}
    public mutating func overlapConflict(_ flow: FlowContext, _ conflict: OverlapConflict) {}
    public mutating func tcpReset(_ flow: FlowContext, _ reset: ResetEvent) {}
    public mutating func datagram(_ flow: FlowContext, _ datagram: Datagram) {}
    public mutating func icmp(_ flow: FlowContext, _ message: ICMPMessage) {}
    public mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord) {}
}

/// A sink that ignores everything (flow records only through `FlowTable` statistics).
public struct NullFlowSink: FlowEventSink {
    public init() {}
}
