import KZWire

/// A compact record of one TCP flow, kept by the drop detectors until `finish` to look for controls: other flows in the
/// same capture to the same server (or its prefix) that did get answers.
struct DropFlowRecord: Sendable {
    var capture: String
    var server: IPAddress
    var serverPort: UInt16
    var firstFrame: FrameNumber
    /// SNI or HTTP Host the flow asked for (lower-cased), nil when none was seen.
    var label: String?
    /// The server completed the handshake (sent a SYN-ACK).
    var synAckFrame: FrameNumber?
    /// The server sent application bytes; the frame of the ServerHello, first response or first server payload.
    var answerFrame: FrameNumber?

    init(_ flow: TCPFlowEvent, label: String?) {
        capture = flow.capture
        server = flow.server
        serverPort = flow.serverPort
        firstFrame = flow.segments.first?.frame ?? 0
        self.label = label?.lowercased()
        synAckFrame = flow.segments.first { $0.side == .server && $0.flags.contains(.syn) && $0.flags.contains(.ack) }?.frame
        let firstPayload = flow.segments.first { $0.side == .server && $0.payloadLength > 0 && !$0.isRST }?.frame
        answerFrame = flow.tls?.serverHelloFrame ?? flow.httpResponses.first?.firstFrame
            ?? (flow.payloadBytesServer > 0 ? firstPayload : nil)
    }
}

/// The same /24 (IPv4) or /48 (IPv6) as `b`.
func sameDropPrefix(_ a: IPAddress, _ b: IPAddress) -> Bool {
    guard a.isV6 == b.isV6 else { return false }
    return a.isV6 ? (a.high >> 16) == (b.high >> 16) : (a.v4Value >> 8) == (b.v4Value >> 8)
}

/// What happened after the client's first application message (ClientHello or HTTP request) in a flow whose server never
/// sent a byte: the silent drop of the KZ 2019–2024 reports (OONI `generic_timeout_error`, Censored Planet
/// `read/timeout`, Cloudflare "post-PSH timeout").
struct StalledRequest: Sendable {
    var triggerFrame: FrameNumber
    /// Every transmission of the trigger's first byte (the original and its retransmissions), ascending.
    var transmissions: [FrameNumber]
    var retransmissions: Int { max(0, transmissions.count - 1) }
    /// The client's FIN or RST after the trigger, when it gave up.
    var gaveUpFrame: FrameNumber?
    /// Seconds from the trigger to the client giving up, or to the flow's last packet.
    var waited: Double
    /// A server ACK covering the trigger (the server got it but answered nothing), when seen.
    var serverAckFrame: FrameNumber?

    /// Nil unless: the handshake completed, the server sent no payload, nobody sent a RST (that is
    /// `tcp.rst_injection`'s case, forged toward either end), and the client sent the trigger with its handshake TTL (±2; otherwise it is a TTL-limited probe).
    init?(_ flow: TCPFlowEvent, trigger: FrameNumber) {
        let segs = flow.segments
        guard flow.payloadBytesServer == 0,
              segs.contains(where: { $0.side == .server && $0.flags.contains(.syn) && $0.flags.contains(.ack) }),
              !segs.contains(where: { $0.isRST || ($0.side == .server && $0.payloadLength > 0) }),
              let ti = segs.firstIndex(where: { $0.frame == trigger }) ?? segs.firstIndex(where: { $0.frame >= trigger && $0.side == .client && $0.payloadLength > 0 })
        else { return nil }
        let t = segs[ti]
        // A request sent with a TTL other than the client's handshake TTL is a TTL-limited probe: it was meant to expire.
        if let h = segs.first(where: { $0.side == .client && $0.flags.contains(.syn) }), InitialTTL.gap(h.ttl, t.ttl) > 2 {
            return nil
        }
        triggerFrame = t.frame
        transmissions = segs.filter { s in
            s.side == .client && s.payloadLength > 0 && tcpSeqDistance(t.seq, s.seq) >= 0 && tcpSeqDistance(t.seq, s.seqEnd) < 0
        }.map(\.frame)
        let end = t.seqEnd
        serverAckFrame = segs.first { $0.side == .server && $0.flags.contains(.ack) && tcpSeqDistance($0.ack, end) >= 0 }?.frame
        if let g = segs[ti...].first(where: { $0.side == .client && ($0.isFIN || $0.isRST) }) {
            gaveUpFrame = g.frame
            waited = secondsBetween(t.time, g.time)
        } else {
            gaveUpFrame = nil
            waited = secondsBetween(t.time, flow.lastTime)
        }
    }

    /// Worth reporting at all: retransmitted, or waited a while.
    var isStall: Bool { retransmissions >= 1 || waited >= 2 }

    var evidence: [Evidence] {
        var e: [Evidence] = []
        for f in transmissions.dropFirst() { e.append(.frame(f, note: "retransmission of the request")) }
        if let g = gaveUpFrame { e.append(.frame(g, note: "the client gave up")) }
        e.append(.timing(field: "wait_for_server", frame: gaveUpFrame, expectedSeconds: 0, observedSeconds: waited))
        if let a = serverAckFrame {
            e.append(.frame(a, note: "the server acknowledged the request but never answered it"))
        } else {
            e.append(.note("the request was never acknowledged by the server"))
        }
        return e
    }
}

/// Shared judgement of `tls.sni_blocking` and `http.request_drop`.
struct SilentDropJudge: Sendable {
    struct Pending: Sendable {
        var flow: FlowRef
        var record: DropFlowRecord
        var stall: StalledRequest
        var target: TargetRef
    }

    var records: [DropFlowRecord] = []
    var pending: [Pending] = []

    /// Finds controls and grades. `what` is "ClientHello" or "HTTP request"; `labelName` "SNI" or "Host".
    func findings(detector: DetectorID, what: String, labelName: String) -> [Finding] {
        var out: [Finding] = []
        for p in pending {
            let others = records.filter { $0.capture == p.record.capture && $0.firstFrame != p.record.firstFrame && $0.server == p.record.server }
            let control = others.filter { $0.answerFrame != nil && $0.label != p.record.label }
                .min { ($0.serverPort == p.record.serverPort ? 0 : 1, $0.firstFrame) < ($1.serverPort == p.record.serverPort ? 0 : 1, $1.firstFrame) }
            let sameLabelOK = others.first { $0.answerFrame != nil && $0.label == p.record.label && $0.label != nil }
            let s = p.stall
            var conf: Confidence
            var evidence: [Evidence] = [.frame(s.triggerFrame, note: "\(what)" + (p.record.label.map { " (\(labelName) \($0))" } ?? ""))]
            evidence += s.evidence
            var frames = [s.triggerFrame] + s.transmissions + (s.gaveUpFrame.map { [$0] } ?? [])
            if let c = control, let cf = c.answerFrame {
                conf = s.retransmissions >= 1 || s.waited >= 5 ? .high : .medium
                evidence.append(.control(frame: cf, note: "another flow to \(p.record.server) with \(labelName) \(c.label ?? "(none)") got an answer (frame \(cf))"))
                frames.append(cf)
            } else {
                conf = s.retransmissions >= 2 || (s.retransmissions >= 1 && (s.waited >= 5 || s.gaveUpFrame != nil)) ? .medium : .low
                evidence.append(.control(frame: nil, note: others.isEmpty ? "no other flow to this server in the capture"
                                                                         : "no other flow to this server with another \(labelName) got an answer"))
            }
            if let ok = sameLabelOK, let f = ok.answerFrame {
                conf = min(conf, .medium)
                evidence.append(.control(frame: f, note: "a flow to the same server with the same \(labelName) was answered (frame \(f)): the drop is intermittent or not tied to the \(labelName)"))
                frames.append(f)
            }
            let label = p.record.label.map { " for \(labelName) \($0)" } ?? ""
            let rtx = s.retransmissions == 0 ? "" : ", retransmitted \(s.retransmissions) time\(s.retransmissions == 1 ? "" : "s")"
            let ctl = control.map { c in " while another flow to the same address with \(labelName) \(c.label ?? "(none)") was answered" }
                ?? "; no control flow to this server in the capture"
            let summary = "The \(what)\(label) to \(p.flow.server) (frame \(s.triggerFrame)\(rtx)) got no byte back in "
                + "\(TCPIPText.fixed1(s.waited)) s after a completed handshake\(ctl)."
            out.append(Finding(detector: detector, confidence: conf, capture: p.record.capture, flow: p.flow, target: p.target,
                               frames: frames, summary: summary, evidence: evidence))
        }
        return out.sorted { ($0.frames.first ?? 0, $0.summary) < ($1.frames.first ?? 0, $1.summary) }
    }
}
