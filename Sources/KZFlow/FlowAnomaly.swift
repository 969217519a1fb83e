import KZWire

/// Anomalies the flow layer records on a flow, named `area.snake_case` (Suricata's and Zeek's weird names in spirit).
public enum FlowAnomaly: String, Sendable, Hashable, CaseIterable, Codable {
    /// The same sequence range arrived twice with different bytes (`OverlapConflict` holds the evidence).
    case overlapConflict = "stream.overlap_conflict"
    /// Bytes missing from a TCP stream (`StreamGap`).
    case gap = "stream.gap"
    /// Out-of-order data exceeded the per-flow or global buffer cap; the hole was skipped.
    case bufferCap = "stream.buffer_cap"
    /// Data before the first sequence number the stream was started at (mid-stream capture or reordering).
    case dataBeforeStart = "stream.data_before_start"
    /// Payload cut by the snap length.
    case snapTruncated = "stream.snap_truncated"
    /// Payload from a side after that side sent a RST (Suricata `suspected_rst_inject` looks at exactly this).
    case dataAfterReset = "stream.data_after_reset"
    /// Payload beyond the FIN of the same side.
    case dataAfterFIN = "stream.data_after_fin"
    case badTCPChecksum = "tcp.bad_checksum"
    case badUDPChecksum = "udp.bad_checksum"
    case badICMPChecksum = "icmp.bad_checksum"
    /// A SYN carrying payload (TCP Fast Open, RFC 7413, or a probe).
    case synWithData = "tcp.syn_with_data"
    /// Both sides sent a SYN without ACK (RFC 9293 §3.5 simultaneous open).
    case simultaneousOpen = "tcp.simultaneous_open"
    /// A SYN-ACK without a SYN seen (Zeek `unsolicited_SYN_response`).
    case unsolicitedSynAck = "tcp.unsolicited_syn_ack"
    /// A SYN whose sequence number differs from the same side's earlier SYN (Zeek `SYN_seq_jump`).
    case synSeqJump = "tcp.syn_seq_jump"
    /// FIN and RST in one packet (history `i`).
    case finAndReset = "tcp.fin_rst"
    /// SYN with FIN or RST (history `q`).
    case multiFlag = "tcp.multi_flag"
    /// A RST carrying payload (RFC 9293 §3.5.3 allows diagnostic text; injectors sometimes add a block page).
    case resetWithData = "tcp.rst_with_data"
    /// A RST whose sequence number lies outside the receiver's window (RFC 5961 §3.2 would ignore it).
    case resetOutOfWindow = "tcp.rst_out_of_window"
    /// Payload before the handshake completed (Zeek `data_before_established`).
    case dataBeforeEstablished = "tcp.data_before_established"
    /// Window scale option above 14 (RFC 7323 §2.3).
    case windowScaleRange = "tcp.window_scale_range"
    /// A packet with payload, SYN or RST after both sides had closed or reset (late retransmissions, injected packets).
    case packetAfterClose = "tcp.packet_after_close"
}

/// A flow's overlap conflicts and gaps with their counts: most flows have none, so `FlowNotes` keeps them in an
/// array of at most one element (8 bytes inline, a heap block only when used) instead of 32 bytes per flow.
@usableFromInline struct FlowEvidence: Sendable {
    var conflicts: [OverlapConflict] = []
    var conflictCount = 0
    var gaps: [StreamGap] = []
    var gapCount = 0
}

/// Per-flow notes shared by both directions: history, anomalies, conflicts, gaps. Storage is allocated only when used.
@usableFromInline struct FlowNotes: Sendable {
    var history = ConnHistory()
    var anomalyKinds: [(kind: FlowAnomaly, count: Int, first: FrameNumber)] = []
    /// Empty, or one `FlowEvidence`.
    var evidence: [FlowEvidence] = []

    var conflicts: [OverlapConflict] { evidence.first?.conflicts ?? [] }
    var conflictCount: Int { evidence.first?.conflictCount ?? 0 }
    var gaps: [StreamGap] { evidence.first?.gaps ?? [] }
    var gapCount: Int { evidence.first?.gapCount ?? 0 }

    /// Counts a gap and keeps it while fewer than `limit` are kept.
    mutating func gap(_ g: StreamGap, limit: Int) {
        if evidence.isEmpty { evidence = [FlowEvidence()] }
        evidence[0].gapCount &+= 1
        if evidence[0].gaps.count < limit { evidence[0].gaps.append(g) }
    }

    /// Counts an overlap conflict and keeps it while fewer than `limit` are kept.
    mutating func conflict(_ c: OverlapConflict, limit: Int) {
        if evidence.isEmpty { evidence = [FlowEvidence()] }
        evidence[0].conflictCount &+= 1
        if evidence[0].conflicts.count < limit { evidence[0].conflicts.append(c) }
    }

    @inline(__always) mutating func anomaly(_ a: FlowAnomaly, frame: FrameNumber, count: Int = 1) {
        for i in anomalyKinds.indices where anomalyKinds[i].kind == a {
            anomalyKinds[i].count &+= count
            return
        }
        anomalyKinds.append((a, count, frame))
    }

    var anomalyCounts: [AnomalyCount] {
        anomalyKinds.map { AnomalyCount(name: $0.kind.rawValue, count: $0.count, firstFrame: $0.first) }
            .sorted { $0.name < $1.name }
    }
}

/// Global byte budgets shared by all flows of a table.
@usableFromInline struct ReassemblyBudget: Sendable {
    var buffered = 0
    var peakBuffered = 0
    var retained = 0
    var segmentRecords = 0
    /// Where the live flows' segment records are kept (`SegmentLog`).
    var segments = SegmentStore()
    /// Where the live stream directions' delivered spans are kept (`SpanList`).
    var spans = SpanStore()
    var bufferCapHits = 0
    var truncatedBytes = 0
    /// Set while `FlowTable.finish` closes the open flows: rings no longer grow (nothing arrives to compare with them).
    var closing = false
}
