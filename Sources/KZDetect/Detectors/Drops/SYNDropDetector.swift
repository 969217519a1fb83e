import KZWire

/// `tcp.syn_drop`: SYNs never answered (Zeek `conn_state` S0: no SYN-ACK, no RST, nothing from the server) to a server
/// that is otherwise reachable in the same capture — IP or prefix blackholing on the path.
///
/// Judged in `finish` against controls in the same capture: another flow to the same address that completed its
/// handshake, else one to the same /24 (IPv4) or /48 (IPv6). Grading: SYN retransmitted (≥ 2 SYNs) with a same-address
/// control → `high`, with a prefix control → `medium`, without control → `low` (evidence
/// `.control(frame: nil, note: "no other flow to this server in the capture")`). A single SYN (the capture may simply
/// have ended, or it was a TTL-limited probe) is `low` with a same-address control and not reported otherwise. A flow
/// the pipeline marks `isTTLLimitedProbe` is `low` at most.
public struct SYNDropDetector: Detector {
    public static let id: DetectorID = "tcp.syn_drop"

    struct Candidate: Sendable {
        var flow: FlowRef
        var capture: String
        var server: IPAddress
        var serverPort: UInt16
        var synFrames: [FrameNumber]
        var span: Double
        var target: TargetRef
        /// The flow is a TTL-limited probe (its SYNs were meant to expire): reported `low` at most.
        var probe: Bool
    }
    /// The flows whose server completed the handshake, compact, until `finish` indexes those to the candidates'
    /// servers and prefixes (see `HandshakeControls`).
    var log = DropFlowLog()
    var candidates: [Candidate] = []

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event else { return }
        let record = DropFlowRecord(flow, label: nil)
        if record.synAckFrame != nil { log.add(record) }
        // Candidates: nothing from the server, and only bare SYNs from the client (checked before any array is built:
        // this runs for every TCP flow).
        guard !flow.segments.isEmpty,
              flow.segments.allSatisfy({ $0.side == .client && $0.flags.contains(.syn) && !$0.flags.contains(.ack) }),
              flow.connState == "S0" || flow.connState.isEmpty || flow.connState == "OTH" else { return }
        let syns = flow.segments
        guard let first = syns.first, let last = syns.last else { return }
        candidates.append(Candidate(flow: flow.flowRef, capture: flow.capture, server: flow.server, serverPort: flow.serverPort,
                                    synFrames: syns.map(\.frame), span: secondsBetween(first.time, last.time),
                                    target: TargetRef(ip: flow.server.description), probe: flow.isTTLLimitedProbe))
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var out: [Finding] = []
        struct ServerID: Hashable { var capture: Int32; var server: IPAddress }
        struct PrefixID: Hashable {
            var capture: Int32, v6: Bool, prefix: UInt64
            init(_ capture: Int32, _ a: IPAddress) { self.capture = capture; v6 = a.isV6; prefix = a.isV6 ? a.high >> 16 : UInt64(a.v4Value >> 8) }
        }
        var servers: Set<ServerID> = []
        var prefixes: Set<PrefixID> = []
        for c in candidates {
            guard let k = log.captureID(c.capture) else { continue }
            servers.insert(ServerID(capture: k, server: c.server))
            prefixes.insert(PrefixID(k, c.server))
        }
        var controls = HandshakeControls()
        if !servers.isEmpty {
            for r in log.records(where: { servers.contains(ServerID(capture: $0, server: $1)) || prefixes.contains(PrefixID($0, $1)) }) {
                controls.add(r)
            }
        }
        for c in candidates {
            // Another flow that completed its handshake: to the same address (the same port preferred), else to the
            // same prefix; the earliest.
            let same = controls.sameServer(capture: c.capture, server: c.server, port: c.serverPort)
            let prefix = same == nil ? controls.samePrefix(capture: c.capture, server: c.server) : nil
            let retried = c.synFrames.count >= 2
            var conf: Confidence
            var evidence: [Evidence] = c.synFrames.enumerated().map { k, f in
                .frame(f, note: k == 0 ? "SYN" : "SYN retransmission \(k)")
            }
            var frames = c.synFrames
            let ctl: String
            if let s = same {
                let f = s.frame
                conf = retried ? .high : .low
                evidence.append(.control(frame: f, note: "another flow to \(c.server):\(s.serverPort) completed its handshake (SYN-ACK frame \(f))"))
                frames.append(f)
                ctl = "while another connection to the same address completed its handshake (frame \(f))"
            } else if let p = prefix {
                let f = p.frame
                guard retried else { continue }
                conf = .medium
                evidence.append(.control(frame: f, note: "a flow to \(p.server):\(p.serverPort) in the same prefix completed its handshake (SYN-ACK frame \(f))"))
                frames.append(f)
                ctl = "while \(p.server) in the same prefix answered (frame \(f))"
            } else {
                guard retried else { continue }
                conf = .low
                evidence.append(.control(frame: nil, note: "no other flow to this server in the capture"))
                ctl = "and no other flow to this server or its prefix was answered in the capture"
            }
            if c.probe {
                conf = .low
                evidence.append(.note("the SYNs were a TTL-limited probe (a time-exceeded quoted them, or they carried a small TTL): their silence is expected"))
            }
            let n = c.synFrames.count
            let summary = "\(n) SYN\(n == 1 ? "" : "s") to \(c.flow.server) (frames \(TCPIPText.frames(c.synFrames))) over "
                + "\(TCPIPText.fixed1(c.span)) s got no answer \(ctl)."
            out.append(Finding(detector: Self.id, confidence: conf, capture: c.capture, flow: c.flow, target: c.target,
                               frames: frames, summary: summary, evidence: evidence))
        }
        for f in out.sorted(by: { ($0.frames.first ?? 0) < ($1.frames.first ?? 0) }) { sink.report(f) }
        log = DropFlowLog()
        candidates = []
    }
}
