import KZWire

/// `ip.ttl_anomaly`: packets that claim one side of a TCP connection but arrive from a different hop distance.
///
/// Per flow and side, the baseline is the handshake TTL (SYN for the client, SYN-ACK for the server), else the most
/// frequent TTL of the side's packets. Only **non-RST, non-FIN** packets are judged here (forged data, ACKs, block
/// pages): RSTs and FINs belong to `tcp.rst_injection` / `tcp.fin_injection`, which weigh TTL with their other signals,
/// so one forged packet never yields two findings. A packet is off when its TTL differs from the baseline by more than
/// 2 (Hold-On used ±1 for DNS; we allow route jitter). Grading: same initial-TTL bucket (p0f 32/64/128/255) → `low`;
/// another bucket → `medium`; `high` when an off-distance packet carries bytes that the real side also sent (the two
/// copies of the same sequence range race, or the reassembler saw a conflicting overlap with it). A shift that persists
/// for the rest of the flow over at least `routeChangeRun` packets is a route change and is not reported. When the off
/// TTL equals the other side's TTL as seen here (±1), the finding says the injector may copy the triggering packet's
/// TTL (Triplet Censors, FOCI 2020), which makes the TTL useless for hop distance. A side whose handshake TTL is an exact
/// initial value is the host the capture runs on: its lower TTLs are its own TTL-limited probes and are not judged. On a
/// flow the pipeline marks `isTTLLimitedProbe` (seen from elsewhere, e.g. the server), the client's lower TTLs are not
/// judged either.
public struct TTLAnomalyDetector: Detector {
    public static let id: DetectorID = "ip.ttl_anomaly"
    var tolerance = 2
    var routeChangeRun = 10

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event else { return }
        for side in [Side.client, .server] {
            if let f = judge(flow, side) { sink.report(f) }
        }
    }

    func judge(_ flow: TCPFlowEvent, _ side: Side) -> Finding? {
        let segs = flow.segments
        let base = flow.baseline(side)
        guard let bttl = base.ttl, !base.isLocal else { return nil }
        var own = segs.indices.filter { segs[$0].side == side && !segs[$0].isRST && !segs[$0].isFIN }
        // A TTL-limited probe's client packets are sent with a small TTL on purpose (CenTrace, traceroute): the lower
        // TTLs are the method, not an injection. Only packets arriving *above* the client's baseline are judged.
        if side == .client && flow.isTTLLimitedProbe {
            own = own.filter { segs[$0].ttl >= bttl }
        }
        let off = own.filter { InitialTTL.gap(segs[$0].ttl, bttl) > tolerance }
        guard let firstOff = off.first else { return nil }
        let after = own.filter { $0 >= firstOff }
        if after.count == off.count, off.count >= routeChangeRun, after.allSatisfy({ off.contains($0) }) { return nil }

        var evidence: [Evidence] = []
        var frames: [FrameNumber] = base.ttlFrame.map { [$0] } ?? []
        var raced: [(FrameNumber, FrameNumber)] = []
        let conflictFrames = Set(flow.overlapConflicts.filter { $0.side == side }.flatMap { [$0.firstFrame, $0.secondFrame] })
        let normal = own.filter { InitialTTL.gap(segs[$0].ttl, bttl) <= tolerance && segs[$0].payloadLength > 0 }
        for i in off {
            let s = segs[i]
            frames.append(s.frame)
            if evidence.count < 12 {
                evidence.append(.valueMismatch(field: "ttl", frame: s.frame, expected: "\(bttl)", observed: "\(s.ttl)",
                                               baselineFrame: base.ttlFrame))
            }
            guard s.payloadLength > 0 else { continue }
            if conflictFrames.contains(s.frame) {
                raced.append((s.frame, s.frame))
                continue
            }
            if let j = normal.first(where: {
                tcpSeqDistance(segs[$0].seqEnd, s.seq) > 0 && tcpSeqDistance(s.seqEnd, segs[$0].seq) > 0
            }) {
                raced.append((s.frame, segs[j].frame))
            }
        }
        let offTTLs = Array(Set(off.map { segs[$0].ttl })).sorted()
        let bucketChange = offTTLs.contains { InitialTTL.bucket($0) != InitialTTL.bucket(bttl) }
        var conf: Confidence = bucketChange ? .medium : .low
        if !raced.isEmpty {
            conf = .high
            for (a, b) in raced.prefix(4) {
                let t = a == b ? "frame \(a) is part of a conflicting overlap"
                    : "frame \(a) carries bytes the \(side.rawValue) also sent with its own TTL in frame \(b): two senders race"
                evidence.append(.frame(a, note: t))
                frames.append(b)
            }
        }
        let peer = flow.baseline(side.other)
        if let pttl = peer.ttl, offTTLs.contains(where: { InitialTTL.gap($0, pttl) <= 1 }) {
            evidence.append(.note("TTL \(offTTLs.map(String.init).joined(separator: "/")) matches the \(side.other.rawValue)'s own TTL as seen here (\(pttl)): the injector may copy the TTL of the triggering packet, so its hop distance cannot be read from it"))
        }
        if off.count > 12 { evidence.append(.note("\(off.count - 12) more packets with the same mismatch")) }
        let addr = side == .client ? flow.client : flow.server
        let first = segs[firstOff]
        let what = off.count == 1 ? "1 packet (frame \(first.frame))" : "\(off.count) packets (frames \(TCPIPText.frames(off.map { segs[$0].frame })))"
        let summary = "\(what) claiming to come from the \(side.rawValue) \(addr) arrived with "
            + "\(InitialTTL.describe(first.ttl)) while its handshake had \(InitialTTL.describe(bttl))"
            + (raced.isEmpty ? "." : ", and carried bytes the real \(side.rawValue) also sent.")
        return Finding(detector: Self.id, confidence: conf, capture: flow.capture, flow: flow.flowRef,
                       target: tcpFlowTarget(flow), frames: frames, summary: summary, evidence: evidence,
                       injectedFrame: first.frame, claimedSource: addr.description, injectedTTL: first.ttl, peerTTL: bttl)
    }
}
