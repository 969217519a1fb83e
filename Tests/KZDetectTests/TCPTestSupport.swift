import KZDetect
import KZWire

/// Builds synthetic TCP flows for detector tests: sequence numbers are given relative to each side's ISN, times in
/// seconds from the flow start, frames numbered in the order packets are added (or set explicitly).
struct TCPFlowBuilder {
    var capture = "synthetic.pcap"
    var client: IPAddress
    var server: IPAddress
    var clientPort: UInt16 = 51000
    var serverPort: UInt16 = 443
    var clientISN: UInt32 = 1_000_000
    var serverISN: UInt32 = 3_000_000_000
    var base: Int64 = 1_700_000_000_000_000_000
    var segments: [SegmentEvent] = []
    var nextFrame: FrameNumber = 1

    init(client: String = "10.0.0.2", server: String = "93.184.216.34", serverPort: UInt16 = 443,
         clientPort: UInt16 = 51000, firstFrame: FrameNumber = 1) {
        self.client = IPAddress(client)!
        self.server = IPAddress(server)!
        self.serverPort = serverPort
        self.clientPort = clientPort
        self.nextFrame = firstFrame
    }

    func time(_ t: Double) -> Timestamp { Timestamp(nanoseconds: base + Int64((t * 1e9).rounded())) }

    /// Adds a segment; `seq`/`ack` are relative (ack relative to the other side's ISN; ignored when no ACK flag).
    @discardableResult
    mutating func add(_ side: Side, _ t: Double, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: Int = 0,
                      ttl: UInt8, id: UInt32, df: Bool = true, window: UInt16 = 502, tos: UInt8 = 0,
                      timestamps: Bool = true, frame: FrameNumber? = nil) -> FrameNumber {
        let f = frame ?? nextFrame
        nextFrame = f + 1
        let own = side == .client ? clientISN : serverISN
        let peer = side == .client ? serverISN : clientISN
        segments.append(SegmentEvent(frame: f, time: time(t), side: side, seq: own &+ seq,
                                     ack: flags.contains(.ack) ? peer &+ ack : 0, flags: flags, window: window, ttl: ttl,
                                     ipID: id, df: df, tos: tos, payloadLength: len,
                                     optionCount: timestamps ? 3 : 0, hasTimestamps: timestamps))
        return f
    }

    /// A completed handshake: SYN at t0, SYN-ACK after `rtt`, ACK right after.
    mutating func handshake(at t0: Double = 0, rtt: Double = 0.05, clientTTL: UInt8 = 64, serverTTL: UInt8 = 52,
                            clientID: UInt32 = 0x1000, serverID: UInt32 = 0) {
        add(.client, t0, [.syn], seq: 0, ttl: clientTTL, id: clientID, window: 64240)
        add(.server, t0 + rtt, [.syn, .ack], seq: 0, ack: 1, ttl: serverTTL, id: serverID, window: 65160)
        add(.client, t0 + rtt + 0.0002, [.ack], seq: 1, ack: 1, ttl: clientTTL, id: clientID + 1)
    }

    func flow(connState: String = "SF", history: String = "ShADadFf", payloadClient: Int? = nil,
              payloadServer: Int? = nil, synToSynAck: Double? = nil, synAckToAck: Double? = nil,
              overlaps: [OverlapConflictEvent] = [], http: [HTTPRequestEvent] = [], responses: [HTTPResponseEvent] = [],
              tls: TLSEvent? = nil) -> TCPFlowEvent {
        let pc = payloadClient ?? segments.filter { $0.side == .client && !$0.flags.contains(.rst) }.reduce(0) { $0 + $1.payloadLength }
        let ps = payloadServer ?? segments.filter { $0.side == .server && !$0.flags.contains(.rst) }.reduce(0) { $0 + $1.payloadLength }
        return TCPFlowEvent(capture: capture, client: client, clientPort: clientPort, server: server, serverPort: serverPort,
                            firstTime: segments.first?.time ?? time(0), lastTime: segments.last?.time ?? time(0),
                            connState: connState, history: history, segments: segments, payloadBytesClient: pc,
                            payloadBytesServer: ps, synToSynAck: synToSynAck, synAckToAck: synAckToAck,
                            overlapConflicts: overlaps, httpRequests: http, httpResponses: responses, tls: tls)
    }
}

/// Runs a detector over events and returns its findings (observe, then finish).
func runDetector<D: Detector>(_ detector: D, _ events: [AnalysisEvent]) -> [Finding] {
    var d = detector
    var sink = FindingSink()
    let ctx = DetectorContext(signatures: nil)
    for e in events { d.observe(e, in: ctx, into: &sink) }
    d.finish(in: ctx, into: &sink)
    return sink.findings
}

extension Array where Element == Finding {
    /// The highest confidence among these findings, nil when there are none.
    var maxConfidence: Confidence? { map(\.confidence).max() }
}

extension Evidence {
    var fieldName: String? {
        if case .valueMismatch(let field, _, _, _, _) = self { return field }
        return nil
    }
}
