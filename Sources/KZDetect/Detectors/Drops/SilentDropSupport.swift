import KZWire

/// A compact record of one TCP flow, for the drop detectors to look for controls: other flows in the same capture to the
/// same server (or its prefix) that did get answers. Candidates keep theirs until `finish`; every other flow is folded
/// into `HandshakeControls` or `SilentDropControls` as it is observed.
struct DropFlowRecord: Sendable {
    var capture: String
    var client: IPAddress
    var clientPort: UInt16
    var server: IPAddress
    var serverPort: UInt16
    var firstFrame: FrameNumber
    /// SNI or HTTP Host the flow asked for (lower-cased), nil when none was seen.
    var label: String?
    /// The server completed the handshake (sent a SYN-ACK).
    var synAckFrame: FrameNumber?
    /// The server sent application bytes; the frame of the ServerHello, first response or first server payload.
    var answerFrame: FrameNumber?
    /// The IP TTL of the client's first application message when it was sent TTL-limited (a sweep or traceroute probe:
    /// more than 2 below the client's handshake TTL), else nil.
    var probeTTL: UInt8?

    init(_ flow: TCPFlowEvent, label: String?) {
        capture = flow.capture
        client = flow.client
        clientPort = flow.clientPort
        server = flow.server
        serverPort = flow.serverPort
        firstFrame = flow.segments.first?.frame ?? 0
        self.label = label?.lowercased()
        synAckFrame = flow.segments.first { $0.side == .server && $0.flags.contains(.syn) && $0.flags.contains(.ack) }?.frame
        let firstPayload = flow.segments.first { $0.side == .server && $0.payloadLength > 0 && !$0.isRST }?.frame
        answerFrame = flow.tls?.serverHelloFrame ?? flow.httpResponses.first?.firstFrame
            ?? (flow.payloadBytesServer > 0 ? firstPayload : nil)
        let segs = flow.segments
        if let h = segs.first(where: { $0.side == .client && $0.flags.contains(.syn) && !$0.flags.contains(.ack) }),
           let d = segs.first(where: { $0.side == .client && $0.payloadLength > 0 && !$0.isRST }),
           InitialTTL.gap(h.ttl, d.ttl) > 2, d.ttl < h.ttl {
            probeTTL = d.ttl
        } else {
            probeTTL = nil
        }
    }

    /// A record rebuilt from a `DropFlowLog` (not a probe: no client, no probe TTL).
    init(capture: String, server: IPAddress, serverPort: UInt16, firstFrame: FrameNumber, label: String?,
         synAckFrame: FrameNumber?, answerFrame: FrameNumber?) {
        self.capture = capture
        client = IPAddress(v4: 0)
        clientPort = 0
        self.server = server
        self.serverPort = serverPort
        self.firstFrame = firstFrame
        self.label = label
        self.synAckFrame = synAckFrame
        self.answerFrame = answerFrame
        probeTTL = nil
    }

    var key: ProbeKey { ProbeKey(capture: capture, client: client, clientPort: clientPort, server: server, serverPort: serverPort) }
}

/// A TCP flow's identity for matching the quotes of ICMP time-exceeded messages.
struct ProbeKey: Hashable, Sendable {
    var capture: String
    var client: IPAddress
    var clientPort: UInt16
    var server: IPAddress
    var serverPort: UInt16

    /// The flow an ICMP time-exceeded (v4 type 11, v6 type 3) quotes, nil for other messages.
    init?(timeExceeded e: ICMPErrorEvent) {
        guard e.isV6 ? e.type == 3 : e.type == 11, let q = e.quoted, q.proto.rawValue == 6,
              let sp = q.srcPort, let dp = q.dstPort else { return nil }
        self.init(capture: e.capture, client: q.src, clientPort: sp, server: q.dst, serverPort: dp)
    }

    init(capture: String, client: IPAddress, clientPort: UInt16, server: IPAddress, serverPort: UInt16) {
        self.capture = capture
        self.client = client
        self.clientPort = clientPort
        self.server = server
        self.serverPort = serverPort
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
    /// The trigger's IP TTL when it was sent TTL-limited (a sweep probe), else nil.
    var probeTTL: UInt8?

    /// Nil unless: the handshake completed, the server sent no payload, and nobody sent a RST (that is
    /// `tcp.rst_injection`'s case, forged toward either end) other than the local client's own abort after the trigger.
    /// A trigger sent more than 2 below the handshake TTL is a TTL-limited probe (`probeTTL`), judged apart.
    init?(_ flow: TCPFlowEvent, trigger: FrameNumber) {
        let segs = flow.segments
        guard flow.payloadBytesServer == 0,
              segs.contains(where: { $0.side == .server && $0.flags.contains(.syn) && $0.flags.contains(.ack) }),
              !segs.contains(where: { $0.side == .server && $0.payloadLength > 0 }),
              let ti = segs.firstIndex(where: { $0.frame == trigger }) ?? segs.firstIndex(where: { $0.frame >= trigger && $0.side == .client && $0.payloadLength > 0 })
        else { return nil }
        let t = segs[ti]
        // Any RST is `tcp.rst_injection`'s case (forged toward either end), except the client's own abort after the
        // trigger when the capture runs on the client (its handshake TTL is an exact initial value, so nothing forged
        // "from" it can be in this capture): a sweep probe gives up with a RST.
        let clientBase = flow.baseline(.client)
        for (k, s) in segs.enumerated() where s.isRST {
            let ownAbort = s.side == .client && k > ti && clientBase.isLocal
                && clientBase.ttl.map { InitialTTL.gap($0, s.ttl) <= 2 } == true
            if !ownAbort { return nil }
        }
        // A request sent with a TTL well below the client's handshake TTL is a TTL-limited probe: it was meant to expire.
        if let h = segs.first(where: { $0.side == .client && $0.flags.contains(.syn) }), InitialTTL.gap(h.ttl, t.ttl) > 2 {
            probeTTL = t.ttl
        } else {
            probeTTL = nil
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

    /// Every flow, compact, until `finish` indexes the servers of `pending` (see `SilentDropControls`).
    var log = DropFlowLog()
    var pending: [Pending] = []
    /// Flows an ICMP time-exceeded quoted: their TTL-limited probes expired on the way, so their silence is expected.
    var expired: Set<ProbeKey> = []

    mutating func observe(icmp e: ICMPErrorEvent) {
        if let k = ProbeKey(timeExceeded: e) { expired.insert(k) }
    }

    /// A TTL-limited probe (CenTrace) that drew neither a time-exceeded nor an answer. Its silence is the method only
    /// when it expired; here a control probe (another label, same server) sent with the same TTL expired at that hop
    /// or got an answer, or one sent with a lower TTL got an answer: the path at that distance works for other names,
    /// so this probe was dropped on the way. `medium` with such a control (one probe of a sweep, no retransmission
    /// judged); nothing without one (the router at that hop may send no time-exceeded) or when the probe expired.
    func probeFinding(_ p: Pending, ttl: UInt8, detector: DetectorID, what: String, labelName: String,
                      controls: SilentDropControls) -> Finding? {
        guard !expired.contains(p.record.key) else { return nil }
        let controls = controls.probes(for: p.record).filter { r in
            guard r.label != p.record.label, let t = r.probeTTL else { return false }
            return (t == ttl && (expired.contains(r.key) || r.answerFrame != nil)) || (t < ttl && r.answerFrame != nil)
        }.sorted { ($0.probeTTL ?? 0, $0.firstFrame) > ($1.probeTTL ?? 0, $1.firstFrame) }
        let s = p.stall
        var evidence: [Evidence] = [.frame(s.triggerFrame, note: "\(what) sent with IP TTL \(ttl) (a TTL-limited probe)"
                                        + (p.record.label.map { " (\(labelName) \($0))" } ?? ""))]
        evidence += s.evidence
        evidence.append(.note("no ICMP time-exceeded quoted this probe: it did not expire on the path"))
        var frames = [s.triggerFrame] + s.transmissions + (s.gaveUpFrame.map { [$0] } ?? [])
        let conf: Confidence
        let ctl: String
        if let c = controls.first, let ct = c.probeTTL {
            conf = .medium
            let how = c.answerFrame.map { "was answered by the server (frame \($0))" } ?? "expired at that hop with a time-exceeded"
            let short = c.answerFrame == nil ? how : "was answered by the server"
            evidence.append(.control(frame: c.answerFrame ?? c.firstFrame,
                                     note: "a probe with \(labelName) \(c.label ?? "(none)") and TTL \(ct) \(short)"))
            frames.append(c.answerFrame ?? c.firstFrame)
            ctl = " while a probe for \(labelName) \(c.label ?? "(none)") with TTL \(ct) \(how)"
        } else {
            // Without a control the probe may have died at a router that sends no time-exceeded: nothing to say.
            return nil
        }
        let label = p.record.label.map { " for \(labelName) \($0)" } ?? ""
        let summary = "The TTL-limited \(what)\(label) to \(p.flow.server) (frame \(s.triggerFrame), TTL \(ttl)) drew neither "
            + "an answer nor an ICMP time-exceeded\(ctl)."
        return Finding(detector: detector, confidence: conf, capture: p.record.capture, flow: p.flow, target: p.target,
                       frames: frames, summary: summary, evidence: evidence)
    }

    /// Finds controls and grades. `what` is "ClientHello" or "HTTP request"; `labelName` "SNI" or "Host".
    func findings(detector: DetectorID, what: String, labelName: String) -> [Finding] {
        var out: [Finding] = []
        // The flows to the candidates' servers, indexed.
        struct ServerID: Hashable { var capture: Int32; var server: IPAddress }
        let wanted = Set(pending.compactMap { p in log.captureID(p.record.capture).map { ServerID(capture: $0, server: p.record.server) } })
        var controls = SilentDropControls()
        if !wanted.isEmpty {
            for r in log.records(where: { wanted.contains(ServerID(capture: $0, server: $1)) }) { controls.add(r) }
        }
        for p in pending {
            if let ttl = p.stall.probeTTL {
                if let f = probeFinding(p, ttl: ttl, detector: detector, what: what, labelName: labelName, controls: controls) { out.append(f) }
                continue
            }
            // Other flows to the same server (another first frame): the earliest answered for another label, the same
            // port preferred; the first observed answered for the same label.
            let control = controls.control(for: p.record)
            let sameLabelOK = controls.sameLabelAnswered(for: p.record)
            let s = p.stall
            var conf: Confidence
            var evidence: [Evidence] = [.frame(s.triggerFrame, note: "\(what)" + (p.record.label.map { " (\(labelName) \($0))" } ?? ""))]
            evidence += s.evidence
            var frames = [s.triggerFrame] + s.transmissions + (s.gaveUpFrame.map { [$0] } ?? [])
            if let c = control {
                let cf = c.frame
                conf = s.retransmissions >= 1 || s.waited >= 5 ? .high : .medium
                evidence.append(.control(frame: cf, note: "another flow to \(p.record.server) with \(labelName) \(c.label ?? "(none)") got an answer (frame \(cf))"))
                frames.append(cf)
            } else {
                conf = s.retransmissions >= 2 || (s.retransmissions >= 1 && (s.waited >= 5 || s.gaveUpFrame != nil)) ? .medium : .low
                evidence.append(.control(frame: nil, note: !controls.hasOtherFlow(than: p.record) ? "no other flow to this server in the capture"
                                                                         : "no other flow to this server with another \(labelName) got an answer"))
            }
            if let ok = sameLabelOK {
                let f = ok.frame
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
