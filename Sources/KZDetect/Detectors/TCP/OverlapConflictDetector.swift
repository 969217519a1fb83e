import KZWire

/// `tcp.overlap_conflict`: two segments for the same sequence range with different bytes, as the reassembler reported
/// them (Zeek `rexmit_inconsistency`, Suricata `reassembly_overlap_different_data`): the signature of an on-path
/// injector racing the real endpoint (quantum-insert style, forged block pages).
///
/// One finding per flow and side. `medium` on the conflict alone (a broken middlebox or a retransmission with changed
/// bytes can do this too); `high` when one of the two copies also arrives with a TTL more than 2 off the side's
/// handshake TTL, which then names the injected copy. Without a TTL hint the first arrival is named as the likely
/// injected one (an injector near the client wins the race).
public struct OverlapConflictDetector: Detector {
    public static let id: DetectorID = "tcp.overlap_conflict"
    var tolerance = 2

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event, !flow.overlapConflicts.isEmpty else { return }
        let byFrame = Dictionary(flow.segments.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        for side in [Side.client, .server] {
            let conflicts = flow.overlapConflicts.filter { $0.side == side }
                .sorted { ($0.firstFrame, $0.secondFrame) < ($1.firstFrame, $1.secondFrame) }
            guard let first = conflicts.first else { continue }
            let base = flow.baseline(side)
            var evidence: [Evidence] = []
            var frames: [FrameNumber] = []
            var injected: FrameNumber?
            var injectedTTL: UInt8?
            for c in conflicts {
                evidence.append(.overlapConflict(first: c.firstFrame, second: c.secondFrame, seqStart: c.seqStart, length: c.length))
                frames += [c.firstFrame, c.secondFrame]
                guard injected == nil, let bttl = base.ttl,
                      let a = byFrame[c.firstFrame], let b = byFrame[c.secondFrame] else { continue }
                let offA = InitialTTL.gap(a.ttl, bttl) > tolerance, offB = InitialTTL.gap(b.ttl, bttl) > tolerance
                if offA != offB {
                    let odd = offA ? a : b
                    injected = odd.frame
                    injectedTTL = odd.ttl
                    evidence.append(.valueMismatch(field: "ttl", frame: odd.frame, expected: "\(bttl)", observed: "\(odd.ttl)",
                                                   baselineFrame: base.ttlFrame))
                    if let bf = base.ttlFrame { frames.append(bf) }
                }
            }
            let addr = side == .client ? flow.client : flow.server
            let bytes = conflicts.reduce(0) { $0 + $1.length }
            let which = injected.map { "frame \($0) arrived with a TTL unlike the \(side.rawValue)'s, so it is the injected copy" }
                ?? "the first arrival (frame \(first.firstFrame)) is the likely injected copy"
            let summary = "\(conflicts.count == 1 ? "Two segments" : "\(conflicts.count) pairs of segments") from the "
                + "\(side.rawValue) \(addr) carry different bytes for the same \(bytes) sequence bytes "
                + "(first frames \(first.firstFrame) and \(first.secondFrame)); \(which)."
            sink.report(Finding(detector: Self.id, confidence: injected != nil ? .high : .medium, capture: flow.capture,
                                flow: flow.flowRef, target: tcpFlowTarget(flow), frames: frames, summary: summary,
                                evidence: evidence, injectedFrame: injected ?? first.firstFrame,
                                claimedSource: addr.description,
                                injectedTTL: injectedTTL ?? byFrame[first.firstFrame]?.ttl, peerTTL: base.ttl))
        }
    }
}
