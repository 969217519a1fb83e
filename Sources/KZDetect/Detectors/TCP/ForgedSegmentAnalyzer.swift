import KZWire

/// One reason to believe a RST or FIN was not sent by the endpoint it names.
struct ForgedSignal: Sendable {
    /// `info` is context shown with a reported packet that does not count towards its grade.
    enum Strength: Sendable { case strong, weak, info }
    /// Independent signal family: ttl, ip_id, shape, burst, seq, ack, race, timing, payload. Signals of one family
    /// count once.
    var category: String
    var strength: Strength
    /// Short phrase for the summary sentence.
    var label: String
    var evidence: [Evidence]
    var frames: [FrameNumber]
    /// A TTL from another initial-TTL bucket (p0f 32/64/128/255): another kind of sender, not route jitter.
    var big = false
}

/// Shared engine of `tcp.rst_injection` and `tcp.fin_injection`.
///
/// Every RST (or FIN) of a flow is compared with the ordinary packets of the side it claims to come from
/// (`TCPSideBaseline`). Strong signals: TTL off the baseline by more than `ttlTolerance` (Hold-On used ±1, we allow
/// ±2 for route jitter); sequence number behind what the peer already acknowledged or behind data the sender already
/// sent (Weaver DATA_SEQ_RST); an ACK for data the peer never sent; the "sender" going on after its RST (Weaver
/// RST_SEQ_DATA, Suricata `suspected_rst_inject`, Zeek `data_after_reset`); bursts (identical RST/ACKs, RST_SEQ_CHANGE
/// and RST_ACK_CHANGE after sheharbano/InjectedResetDetector's thresholds, windows stepping by one as the GFW does,
/// two packet templates claiming one sender within a few milliseconds); a reply faster than half the measured round
/// trip to the claimed sender (after Hold-On's 0.5 × RTT, with a 0.3 margin). Weak signals: IP ID off the side's
/// counter, packet shape (DF, TOS, window, options), RST payload. `high` needs two strong signals, or one strong and
/// two weak, or a TTL from another initial-TTL bucket and one weak; one strong is `medium`; three weak are `medium`;
/// fewer stay `low` (Weaver: "prefer false negatives"; ICLab: a bare RST is weak evidence). A packet that carries its
/// side's TTL, DF and the next value of its IP ID counter is the side's own: its timing or ACK oddities are shown but
/// not counted. A lone TTL mismatch after ≥ 30 s idle is `low` (a NAT or firewall state timeout). The side the capture
/// runs on (exact initial TTL in its handshake) and a side with no ordinary packet are not judged.
struct ForgedSegmentAnalyzer: Sendable {
    enum Kind: Sendable { case rst, fin }

    var kind: Kind
    var ttlTolerance: Int = 2
    /// Consecutive RSTs closer than this with no packet from the peer between them form a burst.
    var burstGap: Double = 0.005
    /// RST_SEQ_CHANGE / RST_ACK_CHANGE pair window (sheharbano/InjectedResetDetector: 2.0 s).
    var pairWindow: Double = 2.0
    /// A reply sooner than this fraction of the claimed sender's round trip cannot come from it (Hold-On used 0.5 for
    /// DNS; TCP stacks answer FINs and data faster than SYNs, so we keep a wider margin).
    var rttFraction: Double = 0.3
    /// Round trips below this are too small to judge (LAN, server-side view of the server).
    var minimumRTT: Double = 0.002
    /// An idle gap this long before a lone TTL mismatch points at a NAT or firewall state timeout.
    var natIdle: Double = 30

    var detector: DetectorID { kind == .rst ? "tcp.rst_injection" : "tcp.fin_injection" }
    private var noun: String { kind == .rst ? "RST" : "FIN" }

    struct Candidate {
        var index: Int
        var signals: [ForgedSignal] = []
        var confidence: Confidence?
        var notes: [Evidence] = []
    }

    /// What the detector knows about a flow from the rest of the capture.
    struct FlowContext: Sendable {
        /// Client sequence numbers quoted by ICMP time-exceeded messages for this flow, with the ICMP frames.
        var expiredClientSeqs: [UInt32: [FrameNumber]] = [:]
        /// Per-side TTL tolerance when the capture justifies a tighter one than `ttlTolerance`.
        var ttlTolerance: [Side: Int] = [:]
    }

    /// A flow's graded candidates, before they are grouped into findings.
    struct Judged {
        var flow: TCPFlowEvent
        var candidates: [Candidate]
        var baselines: [Side: TCPSideBaseline]
    }

    func findings(for flow: TCPFlowEvent, context: FlowContext = FlowContext()) -> [Finding] {
        guard let j = judge(flow, context: context) else { return [] }
        return findings(j)
    }

    func findings(_ j: Judged) -> [Finding] { assemble(j.candidates, j.flow.segments, j.baselines, j.flow) }

    /// Re-grades a candidate after a signal was added from outside the flow.
    func regrade(_ j: inout Judged, _ k: Int) { grade(&j.candidates[k], j.flow.segments, j.baselines) }

    func judge(_ flow: TCPFlowEvent, context: FlowContext = FlowContext()) -> Judged? {
        let segs = flow.segments
        guard !segs.isEmpty else { return nil }
        let baselines: [Side: TCPSideBaseline] = [
            .client: flow.baseline(.client),
            .server: flow.baseline(.server),
        ]
        var candidates: [Candidate] = []
        for (i, s) in segs.enumerated() where kind == .rst ? s.isRST : s.isFIN {
            candidates.append(Candidate(index: i))
        }
        guard !candidates.isEmpty else { return nil }
        // A side with no ordinary packet gives nothing to compare with; a side the capture runs on sends its own.
        candidates.removeAll { c in
            guard let b = baselines[segs[c.index].side] else { return true }
            return b.ttl == nil || b.isLocal
        }
        guard !candidates.isEmpty else { return nil }
        for k in candidates.indices {
            guard let base = baselines[segs[candidates[k].index].side],
                  let peer = baselines[segs[candidates[k].index].side.other] else { continue }
            candidates[k].signals = perPacketSignals(candidates[k].index, segs, base, peer, flow, context)
        }
        if kind == .rst { addBurstSignals(&candidates, segs, baselines) }
        for k in candidates.indices { grade(&candidates[k], segs, baselines) }
        return Judged(flow: flow, candidates: candidates, baselines: baselines)
    }

    // MARK: per-packet signals

    private struct Prior {
        var senderNext: UInt32?
        var senderDataStarts: [UInt32: FrameNumber] = [:]
        var senderMaxAck: UInt32?
        var peerAck: UInt32?
        var peerAckFrame: FrameNumber?
        var peerAcks: Set<UInt32> = []
        var peerNext: UInt32?
        var senderFIN = false
        var peerRST = false
    }

    private func maxSeq(_ a: UInt32?, _ b: UInt32) -> UInt32 {
        guard let a else { return b }
        return tcpSeqDistance(b, a) > 0 ? b : a
    }

    private func prior(_ i: Int, _ segs: [SegmentEvent]) -> Prior {
        let side = segs[i].side
        var p = Prior()
        for j in 0..<i {
            let s = segs[j]
            if s.side == side {
                if s.isRST { continue }
                // A SYN starts a new sequence space (port reuse, a capture that starts mid-stream of an old connection).
                if s.flags.contains(.syn) {
                    p.senderNext = nil
                    p.senderDataStarts = [:]
                    p.senderMaxAck = nil
                    p.peerAck = nil
                    p.peerAckFrame = nil
                    p.peerAcks = []
                }
                p.senderNext = maxSeq(p.senderNext, s.seqEnd)
                if s.payloadLength > 0 { p.senderDataStarts[s.seq] = p.senderDataStarts[s.seq] ?? s.frame }
                if s.flags.contains(.ack) { p.senderMaxAck = maxSeq(p.senderMaxAck, s.ack) }
                if s.isFIN { p.senderFIN = true }
            } else {
                if s.isRST { p.peerRST = true; continue }
                if s.flags.contains(.syn) { p.peerNext = nil }
                p.peerNext = maxSeq(p.peerNext, s.seqEnd)
                if s.flags.contains(.ack) {
                    if p.peerAck == nil || tcpSeqDistance(s.ack, p.peerAck ?? 0) > 0 { p.peerAckFrame = s.frame }
                    p.peerAck = maxSeq(p.peerAck, s.ack)
                    p.peerAcks.insert(s.ack)
                }
            }
        }
        return p
    }

    private func perPacketSignals(_ i: Int, _ segs: [SegmentEvent], _ base: TCPSideBaseline, _ peer: TCPSideBaseline,
                                  _ flow: TCPFlowEvent, _ context: FlowContext) -> [ForgedSignal] {
        let c = segs[i]
        var out: [ForgedSignal] = []
        let pr = prior(i, segs)
        // A kernel's reply for a dead connection takes its seq from the ACK of the segment it answers (RFC 9293
        // §3.10.7.1). Only when some packet of the peer carried that ACK is the RST explained as such a reply, and only
        // then are its IP ID and DF (filled from a shared control socket) exempt from comparison.
        let kernelReset = kind == .rst && c.looksLikeKernelNoSocketReset && pr.peerAcks.contains(c.seq)
        let tolerance = context.ttlTolerance[c.side] ?? ttlTolerance
        // The packet carries the side's TTL, DF and the next value of its IP ID counter: it is the side's own. Timing and
        // ACK oddities then mean the side reacted to data injected toward it (Airtel: the client acknowledges a block
        // page the server never sent), which is evidence about other packets, not about this one.
        var ownCounter = false
        if let bttl = base.ttl, InitialTTL.gap(c.ttl, bttl) <= ttlTolerance, base.ipIDPattern == .incrementing,
           base.df == nil || base.df == c.df,
           let j = base.ordinary.last(where: { $0 < i && segs[$0].ipID != 0 }) {
            let d = Int(UInt16(truncatingIfNeeded: c.ipID &- segs[j].ipID))
            ownCounter = d >= 1 && d <= 64
        }
        let reactionStrength: ForgedSignal.Strength = ownCounter ? .info : .strong
        let reactionNote = ownCounter ? " (yet TTL, DF and IP ID show the \(c.side.rawValue)'s own packet: it reacted to data injected toward it)" : ""

        // TTL
        if let bttl = base.ttl, InitialTTL.gap(c.ttl, bttl) > tolerance {
            let bucketNote = InitialTTL.bucket(c.ttl) != InitialTTL.bucket(bttl) ? ", a different initial TTL" : ""
            out.append(ForgedSignal(category: "ttl", strength: .strong,
                                    label: "TTL \(c.ttl) where the \(c.side.rawValue)'s packets have \(bttl)\(bucketNote)",
                                    evidence: [.valueMismatch(field: "ttl", frame: c.frame, expected: "\(bttl)",
                                                              observed: "\(c.ttl)", baselineFrame: base.ttlFrame)],
                                    frames: [c.frame] + (base.ttlFrame.map { [$0] } ?? []),
                                    big: !bucketNote.isEmpty))
        }

        // IP ID
        if !kernelReset {
            switch base.ipIDPattern {
            case .incrementing:
                if c.ipID == 0 {
                    out.append(ForgedSignal(category: "ip_id", strength: .weak,
                                            label: "IP ID 0 while the \(c.side.rawValue) counts up",
                                            evidence: [.valueMismatch(field: "ip_id", frame: c.frame,
                                                                      expected: "counter", observed: "0",
                                                                      baselineFrame: base.neighbourIPID(before: i, in: segs)?.frame)],
                                            frames: [c.frame]))
                } else if let nb = base.neighbourIPID(before: i, in: segs) {
                    let delta = Int(Int16(bitPattern: UInt16(truncatingIfNeeded: c.ipID &- nb.id)))
                    if delta < -64 || delta > 1024 {
                        out.append(ForgedSignal(category: "ip_id", strength: .weak,
                                                label: "IP ID \(TCPIPText.hex(c.ipID)) far from the \(c.side.rawValue)'s counter (\(TCPIPText.hex(nb.id)))",
                                                evidence: [.valueMismatch(field: "ip_id", frame: c.frame, expected: "near \(TCPIPText.hex(nb.id))",
                                                                          observed: TCPIPText.hex(c.ipID), baselineFrame: nb.frame)],
                                                frames: [c.frame, nb.frame]))
                    }
                }
            case .zero:
                if c.ipID != 0, let bdf = base.df, c.df != bdf {
                    out.append(ForgedSignal(category: "ip_id", strength: .weak,
                                            label: "IP ID \(TCPIPText.hex(c.ipID)) where the \(c.side.rawValue) always sends 0",
                                            evidence: [.valueMismatch(field: "ip_id", frame: c.frame, expected: "0",
                                                                      observed: TCPIPText.hex(c.ipID), baselineFrame: base.ttlFrame)],
                                            frames: [c.frame]))
                }
            case .unknown:
                break
            }
        }

        // Shape: DF, TOS, window, options.
        var shape: [Evidence] = []
        var shapeWords: [String] = []
        if !kernelReset, let bdf = base.df, c.df != bdf {
            shape.append(.valueMismatch(field: "df", frame: c.frame, expected: "\(bdf)", observed: "\(c.df)", baselineFrame: base.ttlFrame))
            shapeWords.append(c.df ? "DF set" : "DF clear")
        }
        if let btos = base.tos, c.tos != btos {
            shape.append(.valueMismatch(field: "tos", frame: c.frame, expected: "\(btos)", observed: "\(c.tos)", baselineFrame: base.ttlFrame))
            shapeWords.append("TOS \(c.tos)")
        }
        if let wr = base.windowRange {
            let odd: Bool
            switch kind {
            case .rst: odd = c.window != 0 && !wr.contains(c.window)
            case .fin: odd = Int(c.window) * 2 < Int(wr.lowerBound) || Int(c.window) > Int(wr.upperBound) * 2
            }
            if odd {
                shape.append(.valueMismatch(field: "window", frame: c.frame, expected: "\(wr.lowerBound)–\(wr.upperBound)",
                                            observed: "\(c.window)", baselineFrame: nil))
                shapeWords.append("window \(c.window)")
            }
        }
        if kind == .fin, base.usesTimestamps, !c.hasTimestamps {
            shape.append(.valueMismatch(field: "options", frame: c.frame, expected: "timestamps", observed: "none", baselineFrame: nil))
            shapeWords.append("no timestamps")
        }
        if !shape.isEmpty {
            out.append(ForgedSignal(category: "shape", strength: .weak,
                                    label: "packet shape unlike the \(c.side.rawValue)'s (\(shapeWords.joined(separator: ", ")))",
                                    evidence: shape, frames: [c.frame]))
        }

        // Sequence number. A FIN retransmission repeats its first transmission's seq, which the peer may have acknowledged.
        let finRetransmission = kind == .fin && segs[..<i].contains { $0.side == c.side && $0.isFIN && $0.seq == c.seq }
        let seqExplainedByPeerAck = (kernelReset && pr.peerAcks.contains(c.seq)) || finRetransmission
        var stale: String?
        var staleFrames: [FrameNumber] = [c.frame]
        if !seqExplainedByPeerAck {
            // The peer's ACK only counts up to what the side had really sent: an ACK beyond that (crafted probes, or
            // data injected toward the peer) says nothing about this packet.
            var peerAck = pr.peerAck
            if let pa = peerAck, let sn = pr.senderNext, tcpSeqDistance(pa, sn) > 0 { peerAck = sn }
            if let pa = peerAck, tcpSeqDistance(c.seq, pa) < 0 {
                stale = "seq \(c.seq) is behind \(pa), which the \(c.side.other.rawValue) had already acknowledged"
                if let f = pr.peerAckFrame { staleFrames.append(f) }
            } else if !kernelReset, let sn = pr.senderNext, tcpSeqDistance(c.seq, sn) < -1 {
                stale = "seq \(c.seq) is behind \(sn), where the \(c.side.rawValue)'s own data had already reached"
            }
            if stale != nil, let f = pr.senderDataStarts[c.seq] {
                stale = "DATA_SEQ_RST: seq equals that of the \(c.side.rawValue)'s earlier data in frame \(f), so it was computed from a stale packet"
                staleFrames.append(f)
            }
        }
        if let stale {
            out.append(ForgedSignal(category: "seq", strength: .strong, label: stale,
                                    evidence: [.frame(c.frame, note: stale)], frames: staleFrames))
        } else if !seqExplainedByPeerAck, let sn = pr.senderNext, tcpSeqDistance(c.seq, sn) > 1 {
            let t = "seq \(c.seq) is ahead of anything the \(c.side.rawValue) had sent (\(sn))"
            out.append(ForgedSignal(category: "seq", strength: .weak, label: t, evidence: [.frame(c.frame, note: t)], frames: [c.frame]))
        }

        // ACK of data that never reached the claimed sender: every transmission of the last byte acknowledged expired
        // on the path (each drew an ICMP time-exceeded quoting it), as a sweep's TTL-limited probes do.
        if c.side == .server, c.flags.contains(.ack), !context.expiredClientSeqs.isEmpty {
            let covering = segs[..<i].filter { $0.side == .client && $0.payloadLength > 0 && !$0.isRST
                && tcpSeqDistance(c.ack, $0.seq) > 0 && tcpSeqDistance(c.ack, $0.seqEnd) <= 0 }
            let quotes = covering.first.flatMap { context.expiredClientSeqs[$0.seq] } ?? []
            if let first = covering.first, covering.allSatisfy({ $0.seq == first.seq }), quotes.count >= covering.count {
                let t = "acknowledges the client's data in frame\(covering.count == 1 ? "" : "s") \(TCPIPText.frames(covering.map(\.frame))), "
                    + "which never reached the server: every transmission expired on the path (ICMP time-exceeded in frame\(quotes.count == 1 ? "" : "s") \(TCPIPText.frames(quotes)))"
                out.append(ForgedSignal(category: "ack", strength: .strong, label: t, evidence: [.frame(c.frame, note: t)],
                                        frames: [c.frame] + covering.map(\.frame) + quotes))
            }
        }

        // ACK of data never sent.
        if c.flags.contains(.ack), let pn = pr.peerNext, tcpSeqDistance(c.ack, pn) > 1 {
            let t = "acknowledges \(c.ack), beyond anything the \(c.side.other.rawValue) had sent (\(pn))" + reactionNote
            out.append(ForgedSignal(category: "ack", strength: reactionStrength, label: t, evidence: [.frame(c.frame, note: t)], frames: [c.frame]))
        }

        // The sender goes on after its RST/FIN.
        if let j = continuation(after: i, segs, base, pr) {
            let s = segs[j]
            let t: String
            switch kind {
            case .rst: t = s.payloadLength > 0
                ? "RST_SEQ_DATA: the \(c.side.rawValue) sent in-sequence data after its \"RST\" (frame \(s.frame))"
                : "the \(c.side.rawValue) kept the connection going after its \"RST\" (frame \(s.frame))"
            case .fin: t = "the \(c.side.rawValue) sent data reaching past the FIN's sequence number after it (frame \(s.frame))"
            }
            out.append(ForgedSignal(category: "race", strength: .strong, label: t,
                                    evidence: [.frame(s.frame, note: t)], frames: [c.frame, s.frame]))
        }

        // Too fast for the claimed sender.
        if c.flags.contains(.ack), let rtt = roundTrip(to: c.side, segs, flow), rtt >= minimumRTT,
           let trig = trigger(acknowledgedBy: c, before: i, segs) {
            let elapsed = secondsBetween(segs[trig].time, c.time)
            if elapsed >= 0, elapsed < rttFraction * rtt {
                let t = "arrived \(TCPIPText.ms(elapsed)) after the packet it acknowledges (frame \(segs[trig].frame)), "
                    + "but the \(c.side.rawValue) is \(TCPIPText.ms(rtt)) away (round trip)" + reactionNote
                out.append(ForgedSignal(category: "timing", strength: reactionStrength, label: t,
                                        evidence: [.timing(field: "reply_after_trigger", frame: c.frame,
                                                           expectedSeconds: rtt, observedSeconds: elapsed)],
                                        frames: [c.frame, segs[trig].frame]))
            }
        }

        // RST payload (Zeek RST_with_data; injectors sometimes carry text).
        if kind == .rst, c.payloadLength > 0 {
            let t = "the RST carries \(c.payloadLength) bytes of payload"
            out.append(ForgedSignal(category: "payload", strength: .weak, label: t, evidence: [.frame(c.frame, note: t)], frames: [c.frame]))
        }
        return out
    }

    /// Round trip from the capture point to `side` and back, from the handshake: last SYN → first SYN-ACK for the
    /// server, last SYN-ACK → first ACK for the client. Measured here so a retransmitted SYN does not inflate it; the
    /// smaller of this and the flow layer's value is used.
    private func roundTrip(to side: Side, _ segs: [SegmentEvent], _ flow: TCPFlowEvent) -> Double? {
        var own: Double?
        if let sa = segs.firstIndex(where: { $0.side == .server && $0.flags.contains(.syn) && $0.flags.contains(.ack) }) {
            switch side {
            case .server:
                if let s = segs[..<sa].last(where: { $0.side == .client && $0.flags.contains(.syn) && !$0.flags.contains(.ack) }) {
                    own = secondsBetween(s.time, segs[sa].time)
                }
            case .client:
                let lastSA = segs.indices.last { $0 >= sa && segs[$0].side == .server && segs[$0].flags.contains(.syn) } ?? sa
                if let a = segs[(lastSA + 1)...].first(where: { $0.side == .client && $0.flags.contains(.ack) && !$0.flags.contains(.syn) }) {
                    own = secondsBetween(segs[lastSA].time, a.time)
                }
            }
        }
        let given = side == .server ? flow.synToSynAck : flow.synAckToAck
        switch (own, given) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        default: return nil
        }
    }

    /// The first later segment from the same side that a genuine sender could not have sent after this RST/FIN.
    private func continuation(after i: Int, _ segs: [SegmentEvent], _ base: TCPSideBaseline, _ pr: Prior) -> Int? {
        let c = segs[i]
        for j in (i + 1)..<segs.count {
            let s = segs[j]
            guard s.side == c.side, !s.isRST else { continue }
            if let bttl = base.ttl, InitialTTL.gap(s.ttl, bttl) > ttlTolerance { continue }
            switch kind {
            case .rst:
                if s.payloadLength > 0, tcpSeqDistance(s.seqEnd, pr.senderNext ?? s.seq) > 0 { return j }
                if s.isFIN { return j }
                if s.flags.contains(.ack) {
                    let beyondOwn = pr.senderMaxAck.map { tcpSeqDistance(s.ack, $0) > 0 } ?? true
                    let beyondRST = c.flags.contains(.ack) ? tcpSeqDistance(s.ack, c.ack) > 0 : true
                    if beyondOwn && beyondRST { return j }
                }
            case .fin:
                // The FIN occupies the sequence number after its own payload.
                let finSeq = c.seq &+ UInt32(truncatingIfNeeded: c.payloadLength)
                let dataEnd = s.seq &+ UInt32(truncatingIfNeeded: s.payloadLength)
                if s.payloadLength > 0, tcpSeqDistance(dataEnd, finSeq) > 0 { return j }
                if s.isFIN, s.seq &+ UInt32(truncatingIfNeeded: s.payloadLength) != finSeq { return j }
            }
        }
        return nil
    }

    /// The earliest packet of the other side holding the last byte this segment acknowledges.
    private func trigger(acknowledgedBy c: SegmentEvent, before i: Int, _ segs: [SegmentEvent]) -> Int? {
        for j in 0..<i {
            let s = segs[j]
            guard s.side != c.side, !s.isRST, s.seqEnd != s.seq else { continue }
            if tcpSeqDistance(c.ack, s.seq) > 0, tcpSeqDistance(c.ack, s.seqEnd) <= 0 {
                return j
            }
        }
        return nil
    }

    // MARK: bursts

    private func addBurstSignals(_ cands: inout [Candidate], _ segs: [SegmentEvent], _ baselines: [Side: TCPSideBaseline]) {
        for side in [Side.client, .server] {
            let ks = cands.indices.filter { segs[cands[$0].index].side == side }
            guard ks.count >= 2, let base = baselines[side] else { continue }
            var notes: [Int: [(String, [FrameNumber])]] = [:]
            func add(_ a: Int, _ b: Int, _ t: String) {
                let fr = [segs[cands[a].index].frame, segs[cands[b].index].frame]
                notes[a, default: []].append((t, fr))
                notes[b, default: []].append((t, fr))
            }
            for n in 1..<ks.count {
                let (a, b) = (ks[n - 1], ks[n])
                let (ia, ib) = (cands[a].index, cands[b].index)
                let (x, y) = (segs[ia], segs[ib])
                let gap = secondsBetween(x.time, y.time)
                let peerBetween = segs[(ia + 1)..<ib].contains { $0.side != side }
                if gap <= burstGap && !peerBetween {
                    if x.flags.contains(.ack), y.flags.contains(.ack), x.seq == y.seq, x.ack == y.ack,
                       x.ttl == y.ttl, !base.hasCaptureDuplicates {
                        add(a, b, "a burst of identical RST/ACKs within \(TCPIPText.ms(gap)) with nothing from the \(side.other.rawValue) in between")
                    }
                    if InitialTTL.gap(x.ttl, y.ttl) > ttlTolerance || x.df != y.df {
                        // Only the packet(s) unlike the side's own packets are blamed; the other may be genuine.
                        let t = "two different packet templates (TTL \(x.ttl)/\(y.ttl), DF \(x.df)/\(y.df)) claim the \(side.rawValue) within \(TCPIPText.ms(gap))"
                        let fr = [x.frame, y.frame]
                        for (k, s) in [(a, x), (b, y)] {
                            let deviates = base.ttl.map { InitialTTL.gap(s.ttl, $0) > ttlTolerance } ?? true
                                || (base.df.map { $0 != s.df } ?? false)
                            if deviates { notes[k, default: []].append((t, fr)) }
                        }
                    }
                    if y.window == x.window &+ 1 && x.window != 0 {
                        add(a, b, "RST windows step by one (\(x.window) → \(y.window)), a counter of an injector")
                    }
                }
                if gap <= pairWindow {
                    let pr = prior(ia, segs)
                    if !pr.senderFIN, !pr.peerRST, tcpSeqDistance(y.seq, x.seq) > 2,
                       pr.senderNext.map({ tcpSeqDistance(y.seq, $0) > 0 }) ?? true,
                       pr.peerAck.map({ tcpSeqDistance(y.seq, $0) > 2 }) ?? true {
                        add(a, b, "RST_SEQ_CHANGE: a second RST \(TCPIPText.ms(gap)) later jumps to seq \(y.seq) from \(x.seq), beyond the sender's data")
                    }
                    if x.flags.contains(.ack), y.flags.contains(.ack), x.ack != y.ack, let pn = pr.peerNext,
                       tcpSeqDistance(x.ack, pn) > 1 || tcpSeqDistance(y.ack, pn) > 1 {
                        add(a, b, "RST_ACK_CHANGE: RSTs carry different ACKs (\(x.ack), \(y.ack)) beyond what the \(side.other.rawValue) sent")
                    }
                }
            }
            for (k, list) in notes {
                var seen = Set<String>()
                let uniq = list.filter { seen.insert($0.0).inserted }
                let frames = Array(Set(uniq.flatMap { $0.1 })).sorted()
                // The partners are named in the note only: a genuine packet next to a forged one is not evidence.
                cands[k].signals.append(ForgedSignal(category: "burst", strength: .strong,
                                                     label: uniq.map { $0.0 }.joined(separator: "; "),
                                                     evidence: uniq.map { .note($0.0) } + [.note("burst frames \(frames.map(String.init).joined(separator: ", "))")],
                                                     frames: [segs[cands[k].index].frame]))
            }
        }
    }

    // MARK: grading and findings

    private func grade(_ c: inout Candidate, _ segs: [SegmentEvent], _ baselines: [Side: TCPSideBaseline]) {
        var strong = Set<String>(), weak = Set<String>()
        for s in c.signals {
            switch s.strength {
            case .strong: strong.insert(s.category)
            case .weak: weak.insert(s.category)
            case .info: break
            }
        }
        weak.subtract(strong)
        var conf: Confidence?
        let bigTTL = c.signals.contains { $0.category == "ttl" && $0.big }
        if strong.count >= 2 || (strong.count == 1 && weak.count >= 2) || (bigTTL && weak.count >= 1) { conf = .high }
        else if strong.count == 1 || weak.count >= 3 { conf = .medium }
        else if !weak.isEmpty { conf = .low }
        let i = c.index
        if strong == ["ttl"], conf != nil {
            var idle = 0.0
            if i >= 1 { idle = max(idle, secondsBetween(segs[i - 1].time, segs[i].time)) }
            if i >= 2 { idle = max(idle, secondsBetween(segs[i - 2].time, segs[i - 1].time)) }
            if idle >= natIdle {
                conf = .low
                c.notes.append(.timing(field: "idle_before", frame: segs[i].frame, expectedSeconds: natIdle, observedSeconds: idle))
                c.notes.append(.note("the flow was idle \(Int(idle)) s before this \(noun): a NAT or firewall state timeout is a likely sender, so only the TTL speaks against it"))
            }
        }
        let hasTTL = c.signals.contains { $0.category == "ttl" }
        if conf != nil, hasTTL, let pttl = baselines[segs[i].side.other]?.ttl, InitialTTL.gap(segs[i].ttl, pttl) <= 1 {
            c.notes.append(.note("TTL \(segs[i].ttl) matches the \(segs[i].side.other.rawValue)'s own TTL as seen here (\(pttl)): the injector may copy the TTL of the triggering packet, so its hop distance cannot be read from it"))
        }
        if let conf, conf >= .medium, !hasTTL {
            c.notes.append(.note("TTL \(segs[i].ttl) is the \(segs[i].side.rawValue)'s own: the injector copies the TTL of the triggering packet or sits next to the \(segs[i].side.rawValue), so the TTL gives no hop distance"))
        }
        c.confidence = conf
    }

    private func assemble(_ cands: [Candidate], _ segs: [SegmentEvent], _ baselines: [Side: TCPSideBaseline],
                          _ flow: TCPFlowEvent) -> [Finding] {
        // One finding per claimed side, TTL, and low-or-not: a weakly odd packet never rides on a forged one's finding.
        struct Key: Hashable, Comparable {
            var side: Side
            var ttl: UInt8
            var low: Bool
            static func < (a: Key, b: Key) -> Bool {
                a.side != b.side ? a.side == .client : a.ttl != b.ttl ? a.ttl < b.ttl : !a.low && b.low
            }
        }
        var groups: [Key: [Candidate]] = [:]
        for c in cands where c.confidence != nil {
            groups[Key(side: segs[c.index].side, ttl: segs[c.index].ttl, low: c.confidence == .low), default: []].append(c)
        }
        var out: [Finding] = []
        for key in groups.keys.sorted(by: { a, b in
            let fa = groups[a]?.first.map { segs[$0.index].frame } ?? 0
            let fb = groups[b]?.first.map { segs[$0.index].frame } ?? 0
            return fa != fb ? fa < fb : a < b
        }) {
            guard let group = groups[key], let first = group.first else { continue }
            let conf = group.compactMap(\.confidence).max() ?? .low
            var evidence: [Evidence] = []
            var frames: [FrameNumber] = []
            var labels: [String] = []
            var seenLabel = Set<String>()
            for c in group {
                frames.append(segs[c.index].frame)
                for s in c.signals {
                    for e in s.evidence where !evidence.contains(e) { evidence.append(e) }
                    frames += s.frames
                    if s.strength != .info, seenLabel.insert(s.category).inserted { labels.append(s.label) }
                }
                for e in c.notes where !evidence.contains(e) { evidence.append(e) }
            }
            let own = group.map { segs[$0.index].frame }
            let addr = key.side == .client ? flow.client : flow.server
            let plural = own.count == 1 ? "\(noun) in frame \(own[0])" : "\(own.count) \(noun)s (frames \(TCPIPText.frames(own)))"
            let summary = "\(plural) claiming to come from the \(key.side.rawValue) \(addr) "
                + (conf == .low ? "differs from its real packets: " : "look\(own.count == 1 ? "s" : "") forged: ")
                + labels.joined(separator: "; ") + "."
            out.append(Finding(detector: detector, confidence: conf, capture: flow.capture, flow: flow.flowRef,
                               target: tcpFlowTarget(flow), frames: frames, summary: summary, evidence: evidence,
                               injectedFrame: segs[first.index].frame, claimedSource: addr.description,
                               injectedTTL: key.ttl, peerTTL: baselines[key.side]?.ttl))
        }
        return out
    }
}

/// Text helpers shared by the TCP/IP detectors.
enum TCPIPText {
    static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
    static func ms(_ s: Double) -> String {
        s < 0.001 ? "\(Int((s * 1_000_000).rounded())) µs" : "\(fixed1(s * 1000)) ms"
    }
    /// One decimal place without Foundation.
    static func fixed1(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        let t = Int((abs(x) * 10).rounded())
        return (x < 0 && t != 0 ? "-" : "") + "\(t / 10).\(t % 10)"
    }
    static func frames(_ f: [FrameNumber]) -> String {
        let s = Array(Set(f)).sorted()
        guard let a = s.first, let b = s.last else { return "" }
        if s.count > 2 && b - a == s.count - 1 { return "\(a)–\(b)" }
        return s.map(String.init).joined(separator: ", ")
    }
}
