import KZWire

/// Zeek's `conn_state` (scripts/base/protocols/conn/main.zeek), with the same meaning so users can compare with
/// conn.log. `S2`/`S3` exist in Zeek too and are kept.
public enum ConnState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Connection attempt seen, no reply.
    case S0
    /// Connection established, not terminated.
    case S1
    /// Normal establishment and termination (UDP: traffic both ways).
    case SF
    /// Connection attempt rejected.
    case REJ
    /// Established, close attempt by originator seen (no reply from responder).
    case S2
    /// Established, close attempt by responder seen (no reply from originator).
    case S3
    /// Established, originator aborted (sent a RST).
    case RSTO
    /// Responder sent a RST.
    case RSTR
    /// Originator sent a SYN followed by a RST, no SYN-ACK from the responder seen.
    case RSTOS0
    /// Responder sent a SYN-ACK followed by a RST, no SYN from the (purported) originator seen.
    case RSTRH
    /// Originator sent a SYN followed by a FIN, no SYN-ACK from the responder seen.
    case SH
    /// Responder sent a SYN-ACK followed by a FIN, no SYN from the originator seen (UDP: only the responder sent).
    case SHR
    /// No SYN seen, just midstream traffic.
    case OTH
}

/// How the originator of a flow was chosen (documented because captures often start mid-connection; gopacket says the
/// same of its `TCPFlowDirection`).
public enum RoleSource: String, Sendable, Hashable, Codable {
    /// The originator sent a SYN without ACK (RFC 9293 §3.5).
    case syn
    /// A SYN-ACK was seen first: its receiver is the originator.
    case synAck
    /// No handshake: exactly one port looks like a server port (< 1024 or a common service port), or both do and the
    /// lower one is taken as the responder's.
    case ports
    /// No handshake and the ports do not tell: the sender of the first packet is the originator (may be wrong).
    case firstPacket
    /// ICMP echo: the request's sender is the originator.
    case icmpEcho
}

/// Why a flow record was emitted.
public enum CloseReason: String, Sendable, Hashable, Codable {
    /// Idle longer than the timeout of its protocol and state (`FlowLimits`).
    case idle
    /// The table was full and this was the least recently active flow.
    case evicted
    /// A new SYN with another ISN reused the 5-tuple after this connection closed.
    case portReuse
    /// End of capture (`FlowTable.finish`).
    case finish
}

/// A named anomaly on a flow (`area.snake_case`) with its count and first frame.
public struct AnomalyCount: Sendable, Hashable, Codable {
    public var name: String
    public var count: Int
    public var firstFrame: FrameNumber
}

/// Min and max of the IP TTL / hop limit seen from one side, and how often it changed between consecutive packets.
public struct TTLRange: Sendable, Hashable, Codable {
    public var min: UInt8 = 255
    public var max: UInt8 = 0
    public var changes: Int = 0
    public var isEmpty: Bool { max < min }
}

/// IP identification behaviour of one side: injected packets often break the sender's IP-ID sequence.
public struct IPIDStats: Sendable, Hashable, Codable {
    public var first: UInt32 = 0
    public var last: UInt32 = 0
    public var min: UInt32 = .max
    public var max: UInt32 = 0
    /// Packets with IP-ID 0 (common with DF on Linux).
    public var zeros: Int = 0
    /// Consecutive pairs where the ID went down (modulo 2^16 for IPv4: a step of more than 32768 counts as down).
    public var decreases: Int = 0
    /// Largest forward step between consecutive packets.
    public var maxStep: UInt32 = 0
    public var count: Int = 0
}

/// Bytes of one direction that overlapped earlier bytes of the same stream with **different** content: the same
/// sequence range carried two versions (the signature of an injection race, or of a broken middlebox).
/// Offsets are stream offsets (0 = first byte after the SYN, or the first byte seen for mid-stream captures).
public struct OverlapConflict: Sendable, Hashable, Codable {
    public var direction: FlowDirection
    /// First and one-past-last stream offset of the compared overlap.
    public var offset: UInt64
    public var length: Int
    /// Sequence number of `offset` (RFC 9293 §3.4).
    public var seq: UInt32
    /// Bytes that differ inside the range, and the stream offset of the first of them.
    public var differingBytes: Int
    public var firstDifference: UInt64
    /// The frame whose bytes were kept (delivered or buffered first) and the frame that disagreed.
    public var firstFrame: FrameNumber
    public var secondFrame: FrameNumber
    /// Up to `FlowLimits.conflictSampleBytes` bytes of each version from `firstDifference`.
    public var firstBytes: [UInt8]
    public var secondBytes: [UInt8]
    /// True when the first version had already been delivered to consumers (else it was still buffered).
    public var firstWasDelivered: Bool
}

/// Why a gap was declared.
public enum GapReason: String, Sendable, Hashable, Codable {
    /// The receiver acknowledged bytes the capture never carried (capture loss).
    case ackedUnseen
    /// Out-of-order data waited behind a hole when the buffer cap was hit.
    case bufferCap
    /// Out-of-order data still waited behind a hole when the flow closed.
    case flowClosed
    /// The frame was cut by the snap length: sequence space without captured bytes.
    case snapTruncated
}

/// Missing bytes in one direction of a TCP stream.
public struct StreamGap: Sendable, Hashable, Codable {
    public var direction: FlowDirection
    public var offset: UInt64
    public var length: Int
    public var seq: UInt32
    /// The frame during whose processing the gap was declared.
    public var frame: FrameNumber
    public var reason: GapReason
}

/// Handshake timing at the capture point: SYN → SYN-ACK is the path beyond the capture point, SYN-ACK → ACK the path
/// before it (RFC 9293 §3.5 three-way handshake).
public struct HandshakeTiming: Sendable, Hashable, Codable {
    public var synFrame: FrameNumber?
    public var synAckFrame: FrameNumber?
    public var ackFrame: FrameNumber?
    public var synToSynAck: Double?
    public var synAckToAck: Double?
    public var rtt: Double? {
        guard let a = synToSynAck, let b = synAckToAck else { return nil }
        return a + b
    }
}

/// Per-direction totals of a flow (index 0 = sent by the originator).
public struct DirectionSummary: Sendable, Hashable, Codable {
    public var packets: Int = 0
    /// Transport payload bytes as carried by the packets (retransmissions included, like tshark's conversation table).
    public var payloadBytes: Int = 0
    /// Frame bytes on the wire.
    public var wireBytes: Int = 0
    /// IP-level bytes (IP total length), as Zeek's `orig_ip_bytes`.
    public var ipBytes: Int = 0
    /// Stream bytes delivered in order to consumers (TCP only).
    public var streamBytes: UInt64 = 0
    /// Bytes that arrived again with identical content; segments with payload at or below the highest sequence seen.
    public var retransmittedBytes: Int = 0
    public var retransmittedSegments: Int = 0
    /// Bytes missing from the stream (sum of gaps).
    public var missedBytes: Int = 0
    /// Overlapping bytes that could not be compared because they were no longer retained.
    public var uncheckedOverlapBytes: Int = 0
    public var ttl = TTLRange()
    public var ipID = IPIDStats()
    /// TCP window scale offered in this side's SYN (RFC 7323 §2.2), nil when not offered.
    public var windowScale: UInt8?
    public var mss: UInt16?
    public var zeroWindows: Int = 0
    public var resets: Int = 0
    public var fins: Int = 0
    public var badChecksums: Int = 0
    /// Kept segment records, ordered by frame.
    public var segments: [SegmentRecord] = []
    /// Segment records not kept (beyond `FlowLimits.segmentHead`/`segmentTail`/`controlSegments`).
    public var segmentsDropped: Int = 0
}

/// The owned, final record of one flow (the `flows` row): endpoints with roles, counts per direction, Zeek-compatible
/// `conn_state` and `history`, TTL and IP-ID behaviour, anomalies, handshake timing, kept segments, overlap conflicts
/// and gaps.
public struct FlowRecord: Sendable, Hashable {
    /// Order of creation inside one `FlowTable` (deterministic).
    public var id: FlowID
    public var key: FlowKey
    public var originator: FlowEndpoint
    public var responder: FlowEndpoint
    public var roleSource: RoleSource
    public var proto: IPProtocol { key.proto }
    public var vlan: UInt16 { key.vlan }
    public var firstTimestamp: Timestamp
    public var lastTimestamp: Timestamp
    public var firstFrame: FrameNumber
    public var lastFrame: FrameNumber
    /// `[originator→responder, responder→originator]`.
    public var directions: [DirectionSummary]
    public var connState: ConnState
    /// Zeek's history string (upper case = originator).
    public var history: String
    public var anomalies: [AnomalyCount]
    public var handshake: HandshakeTiming
    public var overlapConflicts: [OverlapConflict]
    public var overlapConflictCount: Int
    public var gaps: [StreamGap]
    public var gapCount: Int
    public var closeReason: CloseReason

    public var forward: DirectionSummary { directions[0] }
    public var reverse: DirectionSummary { directions[1] }
    public var packets: Int { directions[0].packets + directions[1].packets }
    public var duration: Double { Double(lastTimestamp.nanoseconds - firstTimestamp.nanoseconds) / 1e9 }
    public func count(of anomaly: String) -> Int { anomalies.first { $0.name == anomaly }?.count ?? 0 }
}

/// Identifier of a flow inside one `FlowTable`: 1, 2, 3… in order of creation.
public typealias FlowID = UInt64
