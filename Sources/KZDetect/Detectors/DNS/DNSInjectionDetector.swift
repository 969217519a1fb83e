import Foundation
import KZSignatures
import KZWire

/// `dns.injection`: a forged DNS answer.
///
/// Signals (README.md in this target lists thresholds and sources):
/// - **Race**: two or more responses to the *same* query (same client, resolver, id and question: one
///   `DNSTransactionEvent`) whose answer sets or rcodes differ. Hold-On saw no legitimate case of this in 11.7 M
///   requests. Repeated queries with new ids answered differently (CDNs) are separate transactions and never compared.
/// - **Off baseline**: a response whose IP TTL (beyond ±1), IP ID (zero or counting baseline), DF bit, or round-trip
///   time (below half the fastest other reply; Hold-On) is off the resolver's uncontested responses in the same capture.
/// - **Forged-answer list**: an answer matching `dns/poisoned-answers.csv` (`SignatureDatabase.matchPoisonedDNS`).
/// - **No resolver there**: the response's source is not the queried resolver, or the queried address answered other
///   DNS queries with ICMP port unreachable (RFC 792; RFC 4443 §3.1 code 4), so any answer "from" it was forged (the
///   GFW test method of "How Great is the Great Firewall?", USENIX Security 2021).
///
/// The injected response (`injectedFrame`) is the earliest response whose answers differ from the genuine one; the
/// genuine one is the response with the fewest suspicion signals, ties going to the latest (the injector wins the race,
/// the real resolver answers later: the Hold-On pattern).
///
/// State: every answered transaction is kept until `finish`, because the baseline needs the whole capture; compactly
/// (`DNSTransactionStore`: about 100 bytes for a one-response transaction, strings and addresses interned).
public struct DNSInjectionDetector: Detector {
    public static let id: DetectorID = "dns.injection"

    public struct Thresholds: Sendable, Hashable {
        /// IP TTL tolerance (Hold-On: ±1).
        public var ttlTolerance: Int = 1
        /// A response faster than this fraction of the resolver's RTT floor (fastest other reply) is suspicious
        /// (Hold-On: RTT ≥ 0.5 × expected).
        public var fastFraction: Double = 0.5
        /// …and at least this many seconds faster than the floor (jitter on a LAN resolver is not an injector).
        public var minFastMargin: Double = 0.005
        /// Baseline responses (other than the judged one) needed before TTL/IP ID/DF/RTT verdicts are given.
        public var minBaselineSamples: Int = 3
        /// A TTL off the mode counts only when responses near it are rarer than this fraction of the baseline.
        public var rareTTLFraction: Double = 0.2
        /// Largest IP ID step still "counting" (mod 2^16).
        public var ipIDMaxGap: UInt32 = 2048
        public init() {}
    }

    public var thresholds: Thresholds
    private var store = DNSTransactionStore()
    /// Addresses that answered a DNS query with ICMP port unreachable: (frame of the ICMP error).
    private var portUnreachable: [IPAddress: FrameNumber] = [:]

    public init(thresholds: Thresholds = Thresholds()) { self.thresholds = thresholds }

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        switch event {
        case .dnsTransaction(let t):
            store.add(t)
        case .icmpError(let e):
            // Port unreachable: ICMPv4 type 3 code 3, ICMPv6 type 1 code 4, quoting a datagram to port 53.
            let portUnreach = e.isV6 ? (e.type == 1 && e.code == 4) : (e.type == 3 && e.code == 3)
            guard portUnreach, let q = e.quoted, q.proto == .udp, q.dstPort == 53, q.dst == e.source else { return }
            if let f = portUnreachable[q.dst], f <= e.frame { return }
            portUnreachable[q.dst] = e.frame
        case .tcpFlow, .udpFlow:
            break
        }
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        // Baselines from uncontested transactions, keyed by responding address.
        var baselines: [IPAddress: ResolverBaseline] = [:]
        for i in store.singles.indices {
            let (source, resolver, r, queryTime) = store.singleResponse(i)
            guard source == resolver else { continue }
            baselines[source, default: ResolverBaseline(countingGap: thresholds.ipIDMaxGap)].add(.init(
                frame: r.frame, time: r.time, ttl: r.ttl, ipID: r.ipID, df: r.df,
                rtt: r.time.seconds - queryTime.seconds))
        }
        let ordered = store.order.sorted { store.sortKey($0) < store.sortKey($1) }
        // Judging reads the store and the baselines only: with workers to spare (`--threads 2`), contiguous parts of
        // the query order are judged side by side and their findings reported part after part, so the order is the
        // same as one thread's.
        let workers = min(max(1, context.workers), ordered.count / 4096)
        if workers > 1 {
            let parts = UnsafeMutableBufferPointer<[Finding]>.allocate(capacity: workers)
            parts.initialize(repeating: [])
            defer { parts.deinitialize(); parts.deallocate() }
            let job = JudgeJob(detector: self, baselines: baselines, context: context, ordered: ordered, parts: parts)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = job.ordered.count * w / workers, hi = job.ordered.count * (w + 1) / workers
                var found: [Finding] = []
                for slot in job.ordered[lo..<hi] {
                    if let f = job.detector.judge(job.detector.store.transaction(slot), baselines: job.baselines,
                                                  context: job.context) { found.append(f) }
                }
                job.parts[w] = found
            }
            for part in parts { for f in part { sink.report(f) } }
        } else {
            for slot in ordered {
                if let f = judge(store.transaction(slot), baselines: baselines, context: context) { sink.report(f) }
            }
        }
        store = DNSTransactionStore()
    }

    /// What the workers of `finish` share: read-only inputs, and one output slot each.
    private struct JudgeJob: @unchecked Sendable {
        let detector: DNSInjectionDetector
        let baselines: [IPAddress: ResolverBaseline]
        let context: DetectorContext
        let ordered: [DNSTransactionStore.Slot]
        let parts: UnsafeMutableBufferPointer<[Finding]>
    }

    // MARK: - Judging one transaction

    /// Suspicion signals of one response.
    struct ResponseSignals {
        var evidence: [Evidence] = []
        var frames: [FrameNumber] = []
        var poisoned = 0
        var offBaseline = 0
        var sourceMismatch = false
        var expectedTTL: UInt8?
        var count: Int { poisoned + offBaseline + (sourceMismatch ? 1 : 0) }
    }

    func signals(for r: DNSResponseEvent, in t: DNSTransactionEvent, baselines: [IPAddress: ResolverBaseline],
                 context: DetectorContext) -> ResponseSignals {
        var s = ResponseSignals()
        let th = thresholds
        if let db = context.signatures {
            for answer in r.answers {
                let value = answer.hasPrefix("CNAME ") ? String(answer.dropFirst(6)) : answer
                if let m = db.matchPoisonedDNS(address: value), !m.isFalsePositiveMarker {
                    s.poisoned += 1
                    s.evidence.append(.signatureMatch(id: m.id, rev: m.rev, location: "dns.answer", frame: r.frame,
                                                      detail: "answer \(value) is a known forged answer (\(m.scope.rawValue)"
                                                          + (m.countries.isEmpty ? ")" : ", \(m.countries.joined(separator: ","))")
                                                          + ")"))
                }
            }
        }
        if r.source != t.resolver {
            s.sourceMismatch = true
            s.evidence.append(.valueMismatch(field: "source", frame: r.frame, expected: "\(t.resolver)",
                                             observed: "\(r.source)", baselineFrame: t.queryFrame))
        }
        guard let b = baselines[r.source] else { return s }
        if let m = b.ttlMismatch(r.ttl, excluding: r.frame, minSamples: th.minBaselineSamples,
                                 tolerance: th.ttlTolerance, rareFraction: th.rareTTLFraction) {
            s.offBaseline += 1
            s.expectedTTL = m.expected
            s.frames.append(m.baselineFrame)
            s.evidence.append(.valueMismatch(field: "ttl", frame: r.frame, expected: "\(m.expected)",
                                             observed: "\(r.ttl)", baselineFrame: m.baselineFrame))
        }
        let rtt = r.time.seconds - t.queryTime.seconds
        if let floor = b.floorRTT(excluding: r.frame, minSamples: th.minBaselineSamples),
           rtt >= 0, rtt < th.fastFraction * floor, floor - rtt >= th.minFastMargin {
            s.offBaseline += 1
            s.evidence.append(.timing(field: "dns_rtt", frame: r.frame, expectedSeconds: floor, observedSeconds: rtt))
        }
        if let m = b.ipIDMismatch(r.ipID, at: r.time, excluding: r.frame, minSamples: th.minBaselineSamples,
                                  maxGap: th.ipIDMaxGap) {
            s.offBaseline += 1
            s.frames.append(m.baselineFrame)
            s.evidence.append(.valueMismatch(field: "ip_id", frame: r.frame, expected: m.expected,
                                             observed: "\(r.ipID)", baselineFrame: m.baselineFrame))
        }
        if let m = b.dfMismatch(r.df, excluding: r.frame, minSamples: th.minBaselineSamples) {
            s.offBaseline += 1
            s.frames.append(m.baselineFrame)
            s.evidence.append(.valueMismatch(field: "df", frame: r.frame, expected: m.expected ? "1" : "0",
                                             observed: r.df ? "1" : "0", baselineFrame: m.baselineFrame))
        }
        return s
    }

    /// Answer-set key: rcode plus the sorted answers (order within a message is not meaningful for A/AAAA sets).
    static func answerKey(_ r: DNSResponseEvent) -> String {
        "\(r.rcode)|" + r.answers.map { $0.lowercased() }.sorted().joined(separator: ",")
    }

    func judge(_ t: DNSTransactionEvent, baselines: [IPAddress: ResolverBaseline], context: DetectorContext) -> Finding? {
        guard !t.responses.isEmpty else { return nil }
        let rs = t.responses
        let sigs = rs.map { signals(for: $0, in: t, baselines: baselines, context: context) }
        // One response (nearly every transaction) has nothing to differ from: no answer keys to build.
        let keys = rs.count > 1 ? rs.map(Self.answerKey) : []
        let differing = rs.count > 1 && Set(keys).count >= 2
        let noResolverFrame = portUnreachable[t.resolver]

        // Which responses are forged.
        var forged: [Int] = []
        var genuine: Int?
        if differing {
            // Genuine: fewest suspicion signals; ties to the latest arrival.
            var best = rs.count - 1
            for i in stride(from: rs.count - 1, through: 0, by: -1) where sigs[i].count < sigs[best].count { best = i }
            genuine = best
            forged = rs.indices.filter { keys[$0] != keys[best] }
        } else {
            forged = rs.indices.filter { sigs[$0].count > 0 || noResolverFrame != nil }
        }
        guard !forged.isEmpty else { return nil }

        var evidence: [Evidence] = []
        var frames: [FrameNumber] = [t.queryFrame] + rs.map(\.frame)
        var strong = 0, weak = 0
        var reasons: [String] = []
        if differing {
            strong += 1
            reasons.append("\(Set(keys).count) different answers to one query")
        }
        evidence.append(.dnsAnswers(query: t.queryFrame, qname: t.qname, answers: rs.map {
            DNSAnswerEvidence(frame: $0.frame, answers: $0.answers, ttl: $0.ttl, ipID: $0.ipID,
                              delaySeconds: $0.time.seconds - t.queryTime.seconds)
        }))
        // In-transaction TTL comparison: the forged reply comes from another distance than the genuine one.
        var ttlDiffersFromGenuine = false
        if let g = genuine {
            for i in forged where abs(Int(rs[i].ttl) - Int(rs[g].ttl)) > thresholds.ttlTolerance {
                ttlDiffersFromGenuine = true
                evidence.append(.valueMismatch(field: "ttl", frame: rs[i].frame, expected: "\(rs[g].ttl)",
                                               observed: "\(rs[i].ttl)", baselineFrame: rs[g].frame))
            }
            if ttlDiffersFromGenuine { weak += 1; reasons.append("IP TTL differs from the genuine reply") }
            // Packet shape against the genuine reply: one host does not flip DF between replies, and a counting IP ID
            // (genuine reply plus the resolver's other replies) does not jump.
            let gr = rs[g]
            // The resolver's counter around the genuine reply (its 256 nearest baseline replies in time): a counter is local in
            // time, and copying a capture-wide baseline per contested query would cost O(replies) each.
            var local = baselines[gr.source]?.window(around: gr.time, count: 256)
                ?? ResolverBaseline(countingGap: thresholds.ipIDMaxGap)
            local.add(.init(frame: gr.frame, time: gr.time, ttl: gr.ttl, ipID: gr.ipID, df: gr.df,
                            rtt: gr.time.seconds - t.queryTime.seconds))
            var shapeDiffers = false
            for i in forged {
                let already = Set(sigs[i].evidence.compactMap { e -> String? in
                    if case .valueMismatch(let field, _, _, _, _) = e { field } else { nil }
                })
                if rs[i].df != gr.df, !already.contains("df") {
                    shapeDiffers = true
                    evidence.append(.valueMismatch(field: "df", frame: rs[i].frame, expected: gr.df ? "1" : "0",
                                                   observed: rs[i].df ? "1" : "0", baselineFrame: gr.frame))
                }
                if !already.contains("ip_id"),
                   let m = local.ipIDMismatch(rs[i].ipID, at: rs[i].time, excluding: rs[i].frame, minSamples: 2,
                                              maxGap: thresholds.ipIDMaxGap) {
                    shapeDiffers = true
                    frames.append(m.baselineFrame)
                    evidence.append(.valueMismatch(field: "ip_id", frame: rs[i].frame, expected: m.expected,
                                                   observed: "\(rs[i].ipID)", baselineFrame: m.baselineFrame))
                }
            }
            if shapeDiffers { weak += 1; reasons.append("DF bit or IP ID differs from the genuine reply") }
        }
        var poisoned = 0, offBaseline = 0, sourceMismatch = false
        for i in forged {
            evidence += sigs[i].evidence
            frames += sigs[i].frames
            poisoned += sigs[i].poisoned
            offBaseline += sigs[i].offBaseline
            sourceMismatch = sourceMismatch || sigs[i].sourceMismatch
        }
        if poisoned > 0 { strong += 1; reasons.append("answer on the forged-answer list") }
        if offBaseline > 0 {
            weak += offBaseline
            reasons.append("\(offBaseline) header/timing value\(offBaseline == 1 ? "" : "s") off the resolver's baseline")
        }
        if sourceMismatch { weak += 1; reasons.append("answered from an address other than the resolver") }
        if let f = noResolverFrame {
            strong += 1
            frames.append(f)
            reasons.append("the resolver address answered ICMP port unreachable")
            evidence.append(.frame(f, note: "ICMP port unreachable from \(t.resolver) for DNS: no resolver runs there"))
        }

        let confidence: Confidence
        if poisoned > 0 || noResolverFrame != nil || (differing && weak >= 1) || strong >= 2 {
            confidence = .high
        } else if differing || weak >= 2 {
            confidence = .medium
        } else {
            confidence = .low
        }

        let first = forged.min { rs[$0].frame < rs[$1].frame } ?? forged[0]
        let fr = rs[first]
        let peerTTL: UInt8? = genuine.map { rs[$0].ttl } ?? sigs[first].expectedTTL
        let answersText = fr.answers.isEmpty ? "no answer (rcode \(fr.rcode))" : fr.answers.joined(separator: ", ")
        let summary = "DNS \(Self.qtypeName(t.qtype)) query for \(t.qname) (frame \(t.queryFrame)) got a likely forged "
            + "answer \(answersText) in frame \(fr.frame): " + reasons.joined(separator: "; ") + "."
        return Finding(detector: Self.id, confidence: confidence, capture: t.capture,
                       flow: FlowRef(proto: t.transport, client: t.client, clientPort: t.clientPort,
                                     server: t.resolver, serverPort: t.resolverPort),
                       target: TargetRef(qname: t.qname, ip: "\(t.resolver)"),
                       frames: frames, summary: summary, evidence: evidence, injectedFrame: fr.frame,
                       claimedSource: "\(fr.source)", injectedTTL: fr.ttl, peerTTL: peerTTL)
    }

    static func qtypeName(_ q: UInt16) -> String {
        switch q {
        case 1: "A"
        case 5: "CNAME"
        case 28: "AAAA"
        case 65: "HTTPS"
        default: "type \(q)"
        }
    }
}
