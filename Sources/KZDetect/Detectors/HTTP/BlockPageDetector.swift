#if canImport(Glibc)
import Glibc
#endif
import KZSignatures
import KZWire

/// `http.block_page`: a response that is a block page, or an injected response racing the real one.
///
/// Signals per response (thresholds and sources in this target's README.md):
/// - **Signature**: body and header patterns (OONI pattern types on `body`/`header.<name>`/`status`) and SHA-256 of the
///   normalised body, via `SignatureDatabase.matchBlockPage`. A row of scope `fp` (a known non-censorship page) voids
///   the other signature matches on that response. Strong when `confidence_no_fp` ≥ 5 and the scope is not `vbw`
///   (vague blocking word) or `injb` (injected notice that is not censorship); otherwise weak.
/// - **Block host**: a redirect (301, 302, 303, 307, 308; RFC 9110 §15.4) whose `Location` host, or a meta refresh /
///   iframe URL in the body, is in `http/block-hosts.csv`. Strong.
/// - **451** (RFC 7725 §3): weak (any server may send it); cited through its signature row when the database has one.
/// - **Race**: more final responses than requests on one connection with differing content, the later one starting at
///   or before the earlier one's sequence number (the first is taken as the injected one; without recorded segments
///   the race is unconfirmed and alone gives only `low`), or a server→client overlap conflict (same sequence range,
///   different bytes) touching the response.
///   Strong for "something injected"; with no signature it is reported as an injected response of unknown kind.
/// - Supporting only: the response's first segment arrives with an IP TTL more than 1 away from the server's SYN-ACK.
///
/// Confidence: high with a strong signature, or a race plus any other signal; medium with a race alone or a weak
/// signature plus a TTL mismatch or unconfirmed race; low with a weak signature or an unconfirmed race alone. No
/// signal, no finding.
public struct BlockPageDetector: Detector {
    public static let id: DetectorID = "http.block_page"

    /// Redirect status codes (RFC 9110 §15.4.2–15.4.9).
    public static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event, !flow.httpResponses.isEmpty else { return }
        for f in Self.judge(flow, context: context) { sink.report(f) }
    }

    // MARK: - Judging

    struct Signals {
        var strong = 0
        var weak = 0
        var race = false
        /// Two responses for one request, but the segments were not recorded, so the sequence space is unknown.
        var unconfirmedRace = false
        var ttlMismatch = false
        var evidence: [Evidence] = []
        var frames: [FrameNumber] = []
        var reasons: [String] = []
        var injectedFrame: FrameNumber?
    }

    static func judge(_ flow: TCPFlowEvent, context: DetectorContext) -> [Finding] {
        let responses = flow.httpResponses.filter { $0.status >= 200 || $0.status < 100 }   // drop 1xx interim
        guard !responses.isEmpty else { return [] }
        let serverOverlaps = flow.overlapConflicts.filter { $0.side == .server }

        // Race by count: more final responses than requests, adjacent pair with differing content. When the segments
        // are known, the pair must start in the same sequence space (the later one at or before the earlier one's
        // start): a server answering an unparsed extra request (e.g. 400 after a pipelined bad request) writes its
        // second response *after* the first and is no race.
        var racedIndex: Int?
        var racedWith: Int?
        var raceSeqConfirmed = false
        if !flow.httpRequests.isEmpty, responses.count > flow.httpRequests.count {
            for i in 0..<(responses.count - 1) where !sameContent(responses[i], responses[i + 1]) {
                let a = flow.segments.first { $0.side == .server && $0.frame == responses[i].firstFrame }
                let b = flow.segments.first { $0.side == .server && $0.frame == responses[i + 1].firstFrame }
                if let a, let b {
                    guard Int32(bitPattern: b.seq &- a.seq) <= 0 else { continue }
                    raceSeqConfirmed = true
                }
                racedIndex = i
                racedWith = i + 1
                break
            }
        }

        var findings: [Finding] = []
        var overlapUsed = false
        for (i, resp) in responses.enumerated() {
            var s = Signals()
            signatureSignals(resp, context: context, into: &s)
            if i == racedIndex, let j = racedWith {
                s.race = raceSeqConfirmed
                s.unconfirmedRace = !raceSeqConfirmed
                s.injectedFrame = resp.firstFrame
                s.frames += [responses[j].firstFrame]
                s.reasons.append("a second, different response (frame \(responses[j].firstFrame)) answered the same request")
                s.evidence.append(.frame(responses[j].firstFrame,
                                         note: "later response, status \(responses[j].status): likely the genuine one"))
            }
            // Overlap conflicts in the server→client direction within (or right before) this response.
            let touching = serverOverlaps.filter {
                let lo = min($0.firstFrame, $0.secondFrame), hi = max($0.firstFrame, $0.secondFrame)
                return hi >= resp.firstFrame && lo <= resp.lastFrame
            }
            let overlaps = touching.isEmpty && !overlapUsed && i == 0 && !serverOverlaps.isEmpty
                ? serverOverlaps : touching
            if !overlaps.isEmpty {
                overlapUsed = true
                s.race = true
                s.unconfirmedRace = false
                if s.injectedFrame == nil { s.injectedFrame = overlaps.map(\.firstFrame).min() }
                for o in overlaps {
                    s.evidence.append(.overlapConflict(first: o.firstFrame, second: o.secondFrame, seqStart: o.seqStart,
                                                       length: o.length))
                    s.frames += [o.firstFrame, o.secondFrame]
                }
                s.reasons.append("server data overlapping with different bytes (\(overlaps.count) conflict\(overlaps.count == 1 ? "" : "s"))")
            }
            guard s.strong + s.weak > 0 || s.race || s.unconfirmedRace else { continue }

            // TTL of the response's first segment vs the server's SYN-ACK (supporting only).
            let synAck = flow.segments.first { $0.side == .server && $0.flags.contains(.syn) }
            let injFrame = s.injectedFrame ?? resp.firstFrame
            let injSeg = flow.segments.first { $0.frame == injFrame }
            if let sa = synAck, let seg = injSeg, abs(Int(seg.ttl) - Int(sa.ttl)) > 1 {
                s.ttlMismatch = true
                s.frames.append(sa.frame)
                s.evidence.append(.valueMismatch(field: "ttl", frame: seg.frame, expected: "\(sa.ttl)",
                                                 observed: "\(seg.ttl)", baselineFrame: sa.frame))
                s.reasons.append("IP TTL \(seg.ttl) differs from the server's SYN-ACK (\(sa.ttl))")
            }

            let confidence: Confidence
            if s.strong > 0 || (s.race && (s.weak > 0 || s.ttlMismatch)) {
                confidence = .high
            } else if s.race || (s.weak > 0 && (s.ttlMismatch || s.unconfirmedRace)) || s.weak >= 2 {
                confidence = .medium
            } else {
                confidence = .low
            }

            let request = requestFor(responseIndex: i, requests: flow.httpRequests)
            let host = request?.host
            var frames = s.frames + [resp.firstFrame, resp.lastFrame]
            if let r = request { frames.append(r.frame) }
            let what = s.strong + s.weak > 0 ? "a block page" : "an injected response"
            let forWhat = host.map { " for \($0)\(request.map { $0.target } ?? "")" } ?? ""
            let summary = "HTTP \(resp.status) response in frame \(resp.firstFrame)\(forWhat) looks like \(what): "
                + s.reasons.joined(separator: "; ") + "."
            let claimed = flow.server.withPort(flow.serverPort)
            findings.append(Finding(
                detector: id, confidence: confidence, capture: flow.capture, flow: flow.flowRef,
                target: TargetRef(host: host, ip: "\(flow.server)"), frames: frames, summary: summary,
                evidence: s.evidence, injectedFrame: injFrame, claimedSource: claimed,
                injectedTTL: injSeg?.ttl, peerTTL: synAck?.ttl))
        }
        return findings
    }

    static func sameContent(_ a: HTTPResponseEvent, _ b: HTTPResponseEvent) -> Bool {
        guard a.status == b.status else { return false }
        if let x = a.bodySHA256, let y = b.bodySHA256 { return x == y }
        return a.body == b.body
    }

    /// The request a response answers: responses pair with requests in order (RFC 9112 §9.3.2); extra responses go to
    /// the last request.
    static func requestFor(responseIndex i: Int, requests: [HTTPRequestEvent]) -> HTTPRequestEvent? {
        guard !requests.isEmpty else { return nil }
        return requests[min(i, requests.count - 1)]
    }

    static func signatureSignals(_ resp: HTTPResponseEvent, context: DetectorContext, into s: inout Signals) {
        var matches: [SignatureMatch] = []
        var blockHostMatches: [(SignatureMatch, String)] = []
        if let db = context.signatures {
            let facts = resp.bodyFacts
                ?? bodyFacts(body: resp.body, headers: resp.headers, status: resp.status, signatures: db)
            matches = facts.signatureMatches
            var urls: [(String, String)] = []
            if redirectStatuses.contains(resp.status), let loc = resp.header("Location") { urls.append(("header.location", loc)) }
            urls += facts.embeddedURLs.map { ("body", $0) }
            for (where_, url) in urls {
                if let host = SignatureDatabase.host(fromURL: url), let m = db.matchBlockHost(host) {
                    blockHostMatches.append((m, where_))
                }
            }
        }
        if let fp = matches.first(where: \.isFalsePositiveMarker) {
            s.evidence.append(.signatureMatch(id: fp.id, rev: fp.rev, location: fp.location, frame: resp.firstFrame,
                                              detail: "known non-censorship page; other signature matches ignored"))
            matches = []
            blockHostMatches = []
        }
        var saw451Signature = false
        for m in matches {
            let row = context.signatures?.blockPagePatterns.first { $0.name == m.id }
            let confNoFP = row?.confidenceNoFP ?? 5
            let isStrong = m.kind == .blockPageHash
                || (confNoFP >= 5 && m.scope != .vbw && m.scope != .injb && m.location != "status")
            if m.location == "status" && m.pattern == "451" { saw451Signature = true }
            if isStrong { s.strong += 1 } else { s.weak += 1 }
            s.evidence.append(.signatureMatch(id: m.id, rev: m.rev, location: m.location, frame: resp.firstFrame,
                                              detail: "\(m.kind.rawValue) \(m.scope.rawValue)"
                                                  + (m.kind == .blockPageHash ? "" : " confidence_no_fp=\(confNoFP)")
                                                  + (m.countries.isEmpty ? "" : " \(m.countries.joined(separator: ","))")))
            s.reasons.append("matches \(m.citation) (\(m.location))")
        }
        for (m, where_) in blockHostMatches {
            s.strong += 1
            s.evidence.append(.signatureMatch(id: m.id, rev: m.rev, location: where_, frame: resp.firstFrame,
                                              detail: "redirect to block host \(m.pattern) (\(m.scope.rawValue))"))
            s.reasons.append("redirects to block host \(m.pattern) (\(m.citation))")
        }
        if resp.status == 451 && !saw451Signature {
            s.weak += 1
            s.evidence.append(.frame(resp.firstFrame, note: "HTTP 451 Unavailable For Legal Reasons (RFC 7725)"))
            s.reasons.append("status 451 Unavailable For Legal Reasons")
        }
    }

    /// The body-derived signals of one response (signature matches, embedded URLs). The pipeline calls this when a
    /// response completes and keeps only the result, so a long-lived flow does not hold its bodies; `signatureSignals`
    /// computes it itself for events that still carry the body. Same result either way.
    /// `bodySHA256`: the SHA-256 of the whole body, when known; `bodyIsPrefix`: `body` is a capped prefix of it (see
    /// `SignatureDatabase.matchBlockPage`).
    public static func bodyFacts(body: [UInt8], headers: [HTTPHeader], status: Int,
                                 signatures db: SignatureDatabase, bodySHA256: String? = nil,
                                 bodyIsPrefix: Bool = false) -> HTTPBodyFacts {
        HTTPBodyFacts(signatureMatches: db.matchBlockPage(body: body, headers: headers.map { (name: $0.name, value: $0.value) },
                                                          status: status, bodySHA256: bodySHA256,
                                                          bodyIsPrefix: bodyIsPrefix),
                      embeddedURLs: embeddedURLs(body))
    }

    /// URLs a block page sends the browser to without a redirect status: `<meta http-equiv="refresh"
    /// content="0; url=…">` and `<iframe src="…">`. A small ASCII scanner over the first 64 KiB, not an HTML parser;
    /// at most 8 URLs.
    static func embeddedURLs(_ body: [UInt8]) -> [String] {
        guard !body.isEmpty else { return [] }
        let raw = body.count > 65_536 ? Array(body.prefix(65_536)) : body
        /// ASCII case-insensitive search (the needles are lowercase), without a lowercased copy of the body. A needle
        /// with a non-letter byte (`-`, `<`, `=`, `>`) is found by `memchr` on that byte, then checked around it.
        func find(_ needle: StaticString, from: Int) -> Int? {
            let n = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
            guard from >= 0, n.count <= raw.count else { return nil }
            return raw.withUnsafeBufferPointer { h -> Int? in
                @inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
                @inline(__always) func matches(at i: Int) -> Bool {
                    var k = 0
                    while k < n.count && lower(h[i + k]) == n[k] { k += 1 }
                    return k == n.count
                }
                let last = h.count - n.count
                guard from <= last else { return nil }
                if let a = n.firstIndex(where: { !($0 >= 0x61 && $0 <= 0x7A) }) {
                    // Candidates start at (anchor position − a), in increasing order.
                    var p = from + a
                    while p <= last + a {
                        guard let hit = memchr(h.baseAddress! + p, Int32(n[a]), last + a - p + 1) else { return nil }
                        let at = h.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                        if matches(at: at - a) { return at - a }
                        p = at + 1
                    }
                    return nil
                }
                var i = from
                while i <= last {
                    if lower(h[i]) == n[0] && matches(at: i) { return i }
                    i += 1
                }
                return nil
            }
        }
        /// The value after `idx`, skipping `=`, quotes and spaces, up to a quote, `>` or white space.
        func value(after idx: Int) -> String {
            var j = idx
            while j < raw.count, [0x20, 0x22, 0x27, 0x3D].contains(raw[j]) { j += 1 }
            let start = j
            while j < raw.count, ![0x22, 0x27, 0x3E, 0x20, 0x09, 0x0A, 0x0D].contains(raw[j]) { j += 1 }
            return String(decoding: raw[start..<j], as: UTF8.self)
        }
        var out: [String] = []
        var pos = 0
        while out.count < 8, let m = find("http-equiv", from: pos) {
            pos = m + 10
            let tagEnd = find(">", from: m) ?? raw.count
            if let u = find("url=", from: m), u < tagEnd { out.append(value(after: u + 4)) }
        }
        pos = 0
        while out.count < 8, let m = find("<iframe", from: pos) {
            pos = m + 7
            let tagEnd = find(">", from: m) ?? raw.count
            if let u = find("src", from: m), u < tagEnd { out.append(value(after: u + 3)) }
        }
        return out.filter { !$0.isEmpty }
    }
}
