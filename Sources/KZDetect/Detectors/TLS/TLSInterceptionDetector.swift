import KZSignatures
import KZWire

/// `tls.interception`: a certificate chain from a known interception CA, or a forged copy of a chain seen in the same
/// capture.
///
/// Signals (thresholds and sources in this target's README.md):
/// - **Known CA**: any certificate of the chain whose issuer (DN assertions or CN), certificate SHA-256/SHA-1 or SPKI
///   SHA-256 is in `tls/interception-cas.csv` (`SignatureDatabase.matchInterceptionCA`): the Kazakh Qaznet Trust
///   Network root and its "Security Certificate" intermediate (2019), the ISCA roots and intermediates (2020–2024).
///   Matched on the issuer, not the validity: OONI saw interception continue with expired intermediates.
/// - **Forged by shape**: another chain for the same SNI in the capture whose leaf has the same Subject and SANs but
///   another issuer, *and* a forgery trait: both validity bounds shifted by the same amount (≤ 7 days; 6 h in 2019)
///   or a serial of the same length differing only in its last ≤ 8 bytes (4 in 2019). "Same name, other issuer" alone
///   is what renewals and multi-CA CDNs look like and gives nothing.
/// - TLS 1.3 (`isTLS13`, or version 0x0304) gives no finding: the certificates are encrypted (RFC 8446 §4.4.2).
///
/// Confidence: high for a known-CA match (scopes other than `fp`/`vbw`/`injb`) or for two shape traits; medium for one
/// trait. When the capture cannot tell which of two chains is the forgery (no signature on either, seen on equally many
/// flows) both flows are reported, capped at medium, and the summary says so.
///
/// State: the chains of TLS ≤ 1.2 flows, kept until `finish`; each distinct chain (and its signature matches) is stored
/// once and shared by the flows that showed it.
public struct TLSInterceptionDetector: Detector {
    public static let id: DetectorID = "tls.interception"

    /// What `judge` reads of a flow besides its TLS facts.
    struct FlowSummary {
        var capture: String
        var client: IPAddress
        var clientPort: UInt16
        var server: IPAddress
        var serverPort: UInt16
        /// The frame of the flow's first segment.
        var firstFrame: FrameNumber?
        /// IP TTL of the server's first SYN segment, and of the segment carrying the certificate (`certFrame`).
        var synAckTTL: UInt8?
        var certTTL: UInt8?
        var flowRef: FlowRef { FlowRef(proto: "tcp", client: client, clientPort: clientPort, server: server, serverPort: serverPort) }
    }

    struct Record {
        var flow: FlowSummary
        /// The flow's TLS facts, `chain` shared with every flow that showed the same chain and `alertFrames` dropped.
        var tls: TLSEvent
        var matches: [(index: Int, match: SignatureMatch)]
        var groupKey: String
        /// The certificate's frame: `certificateFrame`, else `serverHelloFrame`, else the flow's first frame, else 0.
        var certFrame: FrameNumber { tls.certificateFrame ?? tls.serverHelloFrame ?? flow.firstFrame ?? 0 }
    }

    private var records: [Record] = []
    /// Distinct chains seen, with their signature matches.
    private var chains: [[CertificateEvent]: [(index: Int, match: SignatureMatch)]] = [:]
    private var strings: [String: String] = [:]

    /// The stored copy of `s`, so that equal strings of many records share one buffer.
    private mutating func shared(_ s: String) -> String {
        if let k = strings[s] { return k }
        strings[s] = s
        return s
    }

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event, let tls = flow.tls, !tls.isTLS13, tls.negotiatedVersion != 0x0304,
              let leaf = tls.chain.first else { return }
        // The same chain gives the same matches: keep one copy of both.
        if let i = chains.index(forKey: tls.chain) {
            let (chain, matches) = chains[i]
            append(flow, tls, chain: chain, matches: matches, leaf: leaf)
            return
        }
        var matches: [(index: Int, match: SignatureMatch)] = []
        if let db = context.signatures {
            for (i, c) in tls.chain.enumerated() {
                for m in db.matchInterceptionCA(issuerDN: c.issuer, issuerCN: c.issuerCN, certSHA256: c.sha256,
                                                certSHA1: c.sha1, spkiSHA256: c.spkiSHA256) {
                    matches.append((i, m))
                }
            }
        }
        chains[tls.chain] = matches
        append(flow, tls, chain: tls.chain, matches: matches, leaf: leaf)
    }

    private mutating func append(_ flow: TCPFlowEvent, _ tls: TLSEvent, chain: [CertificateEvent],
                                 matches: [(index: Int, match: SignatureMatch)], leaf: CertificateEvent) {
        var t = tls
        t.chain = chain
        t.alertFrames = []
        t.sni = tls.sni.map { shared($0) }
        let certFrame = tls.certificateFrame ?? tls.serverHelloFrame ?? flow.segments.first?.frame ?? 0
        let summary = FlowSummary(capture: shared(flow.capture), client: flow.client, clientPort: flow.clientPort,
                                  server: flow.server, serverPort: flow.serverPort, firstFrame: flow.segments.first?.frame,
                                  synAckTTL: flow.segments.first { $0.side == .server && $0.flags.contains(.syn) }?.ttl,
                                  certTTL: flow.segments.first { $0.frame == certFrame }?.ttl)
        let key = shared((tls.sni ?? leaf.subjectCN ?? leaf.subject).lowercased())
        records.append(Record(flow: summary, tls: t, matches: matches, groupKey: key))
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        let ordered = records.sorted {
            ($0.tls.certificateFrame ?? $0.tls.serverHelloFrame ?? 0, $0.flow.capture)
                < ($1.tls.certificateFrame ?? $1.tls.serverHelloFrame ?? 0, $1.flow.capture)
        }
        // Leaves per SNI: sha256 → (first record index, flow count, has a signature).
        var leaves: [String: [String: (first: Int, flows: Int, signed: Bool)]] = [:]
        for (i, r) in ordered.enumerated() {
            guard let leaf = r.tls.chain.first else { continue }
            let strong = r.matches.contains { Self.isStrong($0.match) }
            var entry = leaves[r.groupKey, default: [:]][leaf.sha256] ?? (i, 0, false)
            entry.flows += 1
            entry.signed = entry.signed || strong
            leaves[r.groupKey, default: [:]][leaf.sha256] = entry
        }
        for r in ordered {
            if let f = judge(r, ordered: ordered, leaves: leaves[r.groupKey] ?? [:]) { sink.report(f) }
        }
        records = []
        chains = [:]
        strings = [:]
    }

    static func isStrong(_ m: SignatureMatch) -> Bool {
        m.scope != .fp && m.scope != .vbw && m.scope != .injb
    }

    func judge(_ r: Record, ordered: [Record], leaves: [String: (first: Int, flows: Int, signed: Bool)]) -> Finding? {
        guard let leaf = r.tls.chain.first else { return nil }
        let certFrame = r.certFrame
        var evidence: [Evidence] = []
        var frames: [FrameNumber] = [certFrame]
        var reasons: [String] = []
        var confidence: Confidence?

        // Known interception CAs.
        let sigs = r.matches.filter { !$0.match.isFalsePositiveMarker }
        if !sigs.isEmpty {
            for (i, m) in sigs {
                let c = r.tls.chain[i]
                evidence.append(.signatureMatch(id: m.id, rev: m.rev, location: "chain[\(i)].\(m.location)",
                                                frame: certFrame,
                                                detail: "\(c.subjectCN ?? c.subject) issued by \(c.issuerCN ?? c.issuer): "
                                                    + "\(m.pattern) (\(m.scope.rawValue)"
                                                    + (m.countries.isEmpty ? ")" : ", \(m.countries.joined(separator: ","))")
                                                    + ")"))
            }
            let cites = Array(Set(sigs.map(\.match.citation))).sorted()
            reasons.append("chain issued by a known interception CA (\(cites.joined(separator: ", ")))")
            confidence = sigs.contains { Self.isStrong($0.match) } ? .high : .medium
        }

        // Shape: compare with other leaves for the same name.
        let mine = leaves[leaf.sha256]
        var ambiguous = false
        for (sha, other) in leaves.sorted(by: { $0.value.first < $1.value.first }) where sha != leaf.sha256 {
            let o = ordered[other.first]
            guard let oLeaf = o.tls.chain.first else { continue }
            let shape = CertificateShape(leaf, oLeaf)
            guard shape.subjectCopied, shape.sansCopied, shape.issuerDiffers, shape.forgeryTraits > 0 else { continue }
            // Which of the two is the forgery?
            let mineSigned = mine?.signed ?? false
            if other.signed && !mineSigned { continue }
            var thisAmbiguous = false
            if !mineSigned && !other.signed {
                let myFlows = mine?.flows ?? 1
                if myFlows > other.flows { continue }
                if myFlows == other.flows { thisAmbiguous = true }
            }
            ambiguous = ambiguous || thisAmbiguous
            let oFrame = o.tls.certificateFrame ?? o.tls.serverHelloFrame ?? 0
            frames.append(oFrame)
            evidence.append(.control(frame: oFrame, note: "leaf for the same name in flow \(o.flow.flowRef.client) → "
                                     + "\(o.flow.flowRef.server): subject and SANs equal, issuer \(oLeaf.issuer)"))
            evidence.append(.certificate(frame: oFrame, subject: oLeaf.subject, issuer: oLeaf.issuer, sha256: oLeaf.sha256))
            evidence.append(.valueMismatch(field: "issuer", frame: certFrame, expected: oLeaf.issuer,
                                           observed: leaf.issuer, baselineFrame: oFrame))
            var traits: [String] = []
            if let shift = shape.validityShift {
                evidence.append(.valueMismatch(field: "not_before", frame: certFrame, expected: oLeaf.notBefore,
                                               observed: leaf.notBefore, baselineFrame: oFrame))
                evidence.append(.valueMismatch(field: "not_after", frame: certFrame, expected: oLeaf.notAfter,
                                               observed: leaf.notAfter, baselineFrame: oFrame))
                traits.append("validity shifted by \(Self.duration(-shift))")
            }
            if shape.serialAltered {
                evidence.append(.valueMismatch(field: "serial", frame: certFrame, expected: oLeaf.serialHex,
                                               observed: leaf.serialHex, baselineFrame: oFrame))
                traits.append("serial differs only in its last \(shape.serialDifferingBytes) byte"
                              + (shape.serialDifferingBytes == 1 ? "" : "s"))
            }
            reasons.append("leaf copies the subject and SANs of the chain in frame \(oFrame) with another issuer, "
                           + traits.joined(separator: " and "))
            let shapeConfidence: Confidence = shape.forgeryTraits >= 2 && !thisAmbiguous ? .high : .medium
            confidence = max(confidence ?? .low, shapeConfidence)
        }
        guard let conf = confidence else { return nil }

        for c in r.tls.chain {
            evidence.append(.certificate(frame: certFrame, subject: c.subject, issuer: c.issuer, sha256: c.sha256))
        }
        if let ch = r.tls.clientHelloFrame { frames.append(ch) }
        let name = r.tls.sni ?? leaf.subjectCN ?? leaf.subject
        var summary = "TLS certificate for \(name) in frame \(certFrame) is issued by \(leaf.issuerCN ?? leaf.issuer): "
            + reasons.joined(separator: "; ") + "."
        if ambiguous && sigs.isEmpty {
            summary += " The capture alone cannot tell which of the two chains is genuine."
        }
        return Finding(detector: Self.id, confidence: conf, capture: r.flow.capture, flow: r.flow.flowRef,
                       target: TargetRef(sni: r.tls.sni, ip: "\(r.flow.server)"), frames: frames, summary: summary,
                       evidence: evidence, injectedFrame: certFrame,
                       claimedSource: r.flow.server.withPort(r.flow.serverPort),
                       injectedTTL: r.flow.certTTL, peerTTL: r.flow.synAckTTL)
    }

    static func duration(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let s = abs(seconds)
        if s % 3600 == 0 { return "\(sign)\(s / 3600) h" }
        if s % 60 == 0 { return "\(sign)\(s / 60) min" }
        return "\(sign)\(s) s"
    }
}
