import KZWire

/// The verdicts of the TTL-sweep method, as CenTrace names them (REPORT.md `censor.verdict`).
public enum SweepVerdict: String, Sendable, Hashable, Codable, CaseIterable {
    /// The control sweep has a router answering at the test's terminating TTL: that router is the censor's hop.
    case canIdentifyServer = "CAN_IDENTIFY_SERVER"
    /// No router at that TTL in the control, but one at the TTL just before or after.
    case canIdentifyPossibleServer = "CAN_IDENTIFY_POSSIBLE_SERVER"
    /// Test and control terminate at the same TTL with different responses: the endpoint itself treats them apart.
    case endpointFirewall = "ENDPOINT_FIREWALL"
    /// The identified middlebox address is the server's own address.
    case natFirewall = "NAT_FIREWALL"
    /// Neither the control's probe at that TTL nor its neighbours answered.
    case noCorrespondingResponse = "NO_CORRESPONDING_RESPONSE"
    /// Same terminating TTL, same response: nothing to attribute.
    case noObservedCensorship = "NO_OBSERVED_CENSORSHIP"
    /// A sweep stopped before reaching the server without any terminating response.
    case probeTerminatedEarly = "PROBE_TERMINATED_EARLY"
    /// The test terminates past the end of the control sweep.
    case terminatingTTLPastControl = "TERMINATING_TTL_PAST_CONTROL"

    /// Parses a verdict, also accepting CenTrace's enum member names (`TERMINATED_EARLY`).
    public init?(label: String) {
        let l = label.trimmingSpaces().uppercased()
        if l == "TERMINATED_EARLY" { self = .probeTerminatedEarly; return }
        self.init(rawValue: l)
    }

    /// True for verdicts that name a device on the path.
    public var locatesCensor: Bool { self == .canIdentifyServer || self == .canIdentifyPossibleServer }
}

/// The result of comparing a test sweep (sensitive Host/SNI) with a control sweep (innocuous name, same server).
public struct SweepAnalysis: Sendable, Hashable {
    public var verdict: SweepVerdict
    public var server: IPAddress
    public var testKey: String?
    public var controlKey: String?
    /// First TTL at which the test got a terminating response (or one past its last response, when it only timed out).
    public var testTerminatingTTL: Int?
    public var controlTerminatingTTL: Int?
    public var testResponse: SweepResponseKind
    public var controlResponse: SweepResponseKind
    /// Different response kinds or different reply content at the terminating probes.
    public var payloadsDiffer: Bool
    /// The hop CenTrace's reading names: the test's terminating TTL (the control's router there is `middlebox`).
    public var identifiedHop: Int?
    /// The censor's hop index: `identifiedHop`, or one hop earlier when the evidence shows an in-path filter on the
    /// router before it (see `TTLSweepAnalyzer.compare`).
    public var censorHop: Int?
    /// The censor's router: `middlebox`, or the router at the refined `censorHop`.
    public var censorRouter: IPAddress?
    /// The router answering the control at the censor's hop (after skipping control timeouts when the test only
    /// timed out), and the routers one TTL before and after.
    public var middlebox: IPAddress?
    public var middleboxBefore: IPAddress?
    public var middleboxAfter: IPAddress?
    /// The test's terminating probe also drew a time-exceeded: the device is on the path (a tap), not in it.
    public var onPath: Bool
    /// The verdict rests on weaker ground (a neighbouring hop, control timeouts skipped, …); `note` says why.
    public var ambiguous: Bool
    public var note: String
    /// Frames: the test's terminating request and its responses, and the control's time-exceeded at the censor hop.
    public var evidenceFrames: [FrameNumber]
    /// hop → router from the control sweep, completed by the test sweep at TTLs the control lacks.
    public var path: [(ttl: Int, router: IPAddress)]

    public static func == (a: SweepAnalysis, b: SweepAnalysis) -> Bool {
        a.verdict == b.verdict && a.middlebox == b.middlebox && a.censorHop == b.censorHop && a.onPath == b.onPath
            && a.evidenceFrames == b.evidenceFrames && a.note == b.note
    }
    public func hash(into h: inout Hasher) { h.combine(verdict); h.combine(middlebox); h.combine(censorHop) }
}

/// Decides where a censor sits from a test sweep and a control sweep. Follows the decision order of CenTrace
/// (censoredplanet/CenTrace `pcap_parse.py` `analysis`), re-derived:
/// 1. either sweep has no terminating response and stopped short of `completeSweepTTL` → PROBE_TERMINATED_EARLY;
/// 2. test terminating TTL T (one past its last response if it only timed out); T > control's last TTL + 1 →
///    TERMINATING_TTL_PAST_CONTROL;
/// 3. same terminating TTL: same response → NO_OBSERVED_CENSORSHIP, else ENDPOINT_FIREWALL;
/// 4. the control's answer at TTL T (if the test timed out, the first control TTL ≥ T that did not time out) names the
///    middlebox → CAN_IDENTIFY_SERVER, or NAT_FIREWALL when that address is the server;
/// 5. else a control router at T−1 or T+1 → CAN_IDENTIFY_POSSIBLE_SERVER; else NO_CORRESPONDING_RESPONSE.
public enum TTLSweepAnalyzer {
    public struct Options: Sendable {
        /// A sweep without a terminating response is complete only if it reached this TTL (CenTrace sweeps to 63).
        public var completeSweepTTL: Int = 63
        /// A silent test sweep is complete when it reached the control's terminating TTL plus this margin.
        public var silentMargin: Int = 1
        public init(completeSweepTTL: Int = 63, silentMargin: Int = 1) {
            self.completeSweepTTL = completeSweepTTL
            self.silentMargin = silentMargin
        }
    }

    public static func compare(test: TTLSweep, control: TTLSweep, options: Options = Options()) -> SweepAnalysis {
        let testTerm = test.firstTerminatingTTL
        let ctrlTerm = control.firstTerminatingTTL
        var r = SweepAnalysis(verdict: .noCorrespondingResponse, server: test.server, testKey: test.requestKey,
                              controlKey: control.requestKey, testTerminatingTTL: testTerm,
                              controlTerminatingTTL: ctrlTerm, testResponse: test.responseKind,
                              controlResponse: control.responseKind, payloadsDiffer: true, identifiedHop: nil,
                              censorHop: nil, censorRouter: nil,
                              middlebox: nil, middleboxBefore: nil, middleboxAfter: nil, onPath: false,
                              ambiguous: false, note: "", evidenceFrames: [], path: mergedPath(control, test))
        // A sweep with no terminating response is complete when it reached `completeSweepTTL` (CenTrace's 63), or — for
        // the test — when it went past the TTL at which the control reached its terminating answer (the server), so
        // short sweeps with a silent drop still count.
        func early(_ s: TTLSweep) -> Bool {
            if s.probes.isEmpty { return true }
            if s.firstTerminatingTTL != nil || s.maxTTL >= options.completeSweepTTL { return false }
            if s == test, let ct = ctrlTerm, test.maxTTL >= ct + options.silentMargin { return false }
            return true
        }
        if early(test) || early(control) {
            r.verdict = .probeTerminatedEarly
            let which = [early(test) ? "test" : nil, early(control) ? "control" : nil].compactMap { $0 }
            r.note = "\(which.joined(separator: " and ")) sweep stopped at TTL \(early(test) ? test.maxTTL : control.maxTTL) without a terminating response"
            r.testResponse = early(test) ? .unknown : r.testResponse
            r.controlResponse = early(control) ? .unknown : r.controlResponse
            r.ambiguous = true
            return r
        }
        r.payloadsDiffer = differ(test, control)
        var t: Int
        var timedOut = false
        if let tt = testTerm {
            t = tt
        } else {
            t = (test.lastRespondingTTL ?? test.ttls.first ?? 0) + 1
            timedOut = true
        }
        r.testTerminatingTTL = t
        if let tp = test.probe(ttl: t), tp.hasTerminatingResponse {
            r.onPath = tp.isOnPath
            r.evidenceFrames += ([tp.frame].compactMap { $0 } + tp.responses.map(\.frame))
        }
        if t > control.maxTTL + 1 {
            r.verdict = .terminatingTTLPastControl
            r.note = "test terminates at TTL \(t), past the control sweep's last TTL \(control.maxTTL)"
            r.ambiguous = true
            return finish(r)
        }
        if ctrlTerm == t {
            r.verdict = r.payloadsDiffer ? .endpointFirewall : .noObservedCensorship
            if r.payloadsDiffer { r.censorHop = t; r.identifiedHop = t; r.censorRouter = test.server }
            r.note = r.payloadsDiffer
                ? "test and control terminate at the same TTL \(t) with different responses (\(r.testResponse.rawValue) vs \(r.controlResponse.rawValue)\(r.testResponse == r.controlResponse ? ", different content" : "")): the endpoint or a device at the endpoint's hop decides"
                : "test and control terminate at TTL \(t) with the same response"
            return finish(r)
        }
        var notes: [String] = []
        if timedOut { notes.append("test sweep only timed out after TTL \(t - 1)") }
        if var cp = control.probe(ttl: t) {
            var ttl = t
            if timedOut {
                while cp.kind == .timeout, let next = control.probe(ttl: ttl + 1) {
                    ttl += 1
                    cp = next
                }
                if ttl != t {
                    notes.append("control timed out at TTL \(t)…\(ttl - 1); took the router at TTL \(ttl)")
                    r.ambiguous = true
                }
            }
            if let router = cp.timeExceededRouter ?? cp.responses.last?.source {
                r.middlebox = router
                r.evidenceFrames += cp.responses.map(\.frame)
            } else {
                notes.append("control probe at TTL \(ttl) got no response")
            }
        } else {
            notes.append("control has no probe at TTL \(t)")
        }
        r.middleboxBefore = control.probe(ttl: t - 1)?.responses.first?.source
        r.middleboxAfter = control.probe(ttl: t + 1)?.responses.first?.source
        r.censorHop = t
        r.identifiedHop = t
        r.censorRouter = r.middlebox
        if let m = r.middlebox {
            r.verdict = m == test.server ? .natFirewall : .canIdentifyServer
            if r.verdict == .natFirewall { notes.append("the address answering at TTL \(t) is the server itself") }
        } else if r.middleboxBefore != nil || r.middleboxAfter != nil {
            r.verdict = .canIdentifyPossibleServer
            r.ambiguous = true
            notes.append("candidates: \(r.middleboxBefore.map { "\($0) (TTL \(t - 1))" } ?? "none before"), \(r.middleboxAfter.map { "\($0) (TTL \(t + 1))" } ?? "none after")")
        } else {
            r.verdict = .noCorrespondingResponse
            r.ambiguous = true
            r.censorHop = t
        }
        if r.verdict == .canIdentifyServer {
            notes.insert("\(r.testResponse.rawValue) first at TTL \(t) (control: \(ctrlTerm.map { "terminates at TTL \($0)" } ?? "no terminating response")); router at that hop in the control: \(r.middlebox.map { "\($0)" } ?? "?")\(r.onPath ? "; the probe also drew time-exceeded there: on-path" : "; in-path")", at: 0)
        }
        if r.verdict == .canIdentifyServer, !r.onPath, !timedOut, let tp = test.probe(ttl: t) {
            refine(&r, probe: tp, test: test, control: control, notes: &notes)
        } else if r.verdict == .canIdentifyServer, timedOut, t > 1 {
            // The probe with TTL t drew nothing, although the router at hop t answers the control's probe with TTL t
            // with time-exceeded: the blocked probe never reached hop t. It was last handled by router t−1 (which
            // answered the TTL t−1 probe), so the drop happened there, after its TTL check (Linux FORWARD runs after
            // the decrement), or on the link between t−1 and t. Name the last router that saw the probe.
            let before = control.probe(ttl: t - 1)?.timeExceededRouter ?? test.probe(ttl: t - 1)?.timeExceededRouter
            if let router = before {
                // Equally consistent: a filter on router t before its own TTL check (an inline DPI stage ahead of the
                // routing engine). The capture cannot separate these, so the answer is marked ambiguous.
                r.censorHop = t - 1
                r.censorRouter = router
                r.ambiguous = true
                notes.append("silent drop: the blocked probe with TTL \(t) drew no time-exceeded from \(r.middlebox.map { "\($0)" } ?? "?"), which answers the control at that TTL, so it was dropped after router \(t - 1) \(router) handled it and before router \(t)'s TTL check: by router \(t - 1) after its TTL check, by a device on the link, or by a filter on router \(t) ahead of its TTL check; named: router \(t - 1), the last router seen handling the probe (plain CenTrace reading: hop \(t))")
            } else {
                notes.append("silent drop: the device sits between hop \(t - 1) and hop \(t), or is router \(t - 1) filtering after its TTL check; no router answered at TTL \(t - 1), so the capture cannot tell which")
            }
        }
        r.note = notes.joined(separator: "; ")
        return finish(r)
    }

    /// In-path filters on a router act after its TTL check (Linux FORWARD runs after the TTL decrement), so the first
    /// triggering probe has TTL hop+1 and a plain reading names the router one hop past the censor. A bump-in-the-wire
    /// device between hops t−1 and t gives the same sweep. Two kinds of evidence tell them apart:
    /// - the interference response is an ICMP error sent from a router address that the control saw at hop j → hop j;
    /// - the forged TCP response's TTL, with a standard initial TTL, puts its sender at hop t−1 (and before the server)
    ///   → the router at t−1 sent it.
    /// Without such evidence the plain reading stands and the note says the censor may sit one hop earlier.
    static func refine(_ r: inout SweepAnalysis, probe tp: SweepProbe, test: TTLSweep, control: TTLSweep,
                       notes: inout [String]) {
        let t = tp.ttl
        guard let resp = tp.primaryResponse else { return }
        let controlRouters = Dictionary(control.path.map { ($0.router, $0.ttl) }, uniquingKeysWith: min)
        if resp.kind == .icmpOther {
            if let j = controlRouters[resp.source], j < t {
                r.censorHop = j
                r.censorRouter = resp.source
                notes.append("the ICMP error came from \(resp.source), the control's router at hop \(j): censor at hop \(j)")
            }
            return
        }
        let e = InjectorHopEstimate.estimate(injectedTTL: resp.ttl, triggerTTL: UInt8(clamping: t), peerTTL: test.serverTTL)
        if e.trusted, e.hopIndex == t - 1, let router = control.probe(ttl: t - 1)?.timeExceededRouter {
            r.censorHop = t - 1
            r.censorRouter = router
            notes.append("the \(resp.kind.rawValue) arrived with TTL \(resp.ttl) (\(e.routersTraversed) routers from initial \(e.initialTTL.rawValue)): sent by hop \(t - 1), so the censor is router \(router) filtering after its TTL check; plain CenTrace reading: hop \(t) \(r.middlebox.map { "\($0)" } ?? "?")")
        } else if e.trusted, e.hopIndex == t {
            notes.append("the \(resp.kind.rawValue)'s TTL \(resp.ttl) agrees with a sender at hop \(t)")
        } else {
            notes.append("in-path: the censor is at hop \(t) or is router \(t - 1) filtering after its TTL check; the \(resp.kind.rawValue)'s TTL \(resp.ttl) does not settle it\(e.copying != .none ? " (\(e.copying.rawValue))" : "")")
        }
    }

    static func finish(_ r: SweepAnalysis) -> SweepAnalysis {
        var r = r
        r.evidenceFrames = Array(Set(r.evidenceFrames)).sorted()
        return r
    }

    static func differ(_ a: TTLSweep, _ b: TTLSweep) -> Bool {
        let ta = a.firstTerminatingTTL, tb = b.firstTerminatingTTL
        if (ta == nil) != (tb == nil) { return true }
        guard let x = ta, let y = tb, let pa = a.probe(ttl: x), let pb = b.probe(ttl: y) else { return false }
        if pa.kind != pb.kind { return true }
        return pa.replySignature != pb.replySignature
    }

    static func mergedPath(_ control: TTLSweep, _ test: TTLSweep) -> [(ttl: Int, router: IPAddress)] {
        var byTTL: [Int: IPAddress] = [:]
        for (t, r) in test.path { byTTL[t] = r }
        for (t, r) in control.path { byTTL[t] = r }
        return byTTL.keys.sorted().compactMap { t in byTTL[t].map { (t, $0) } }
    }

    /// Pairs sweeps to one (client, server, port) with different request keys when none is a known control name.
    /// The control is the only sweep whose terminating answer looks like a working exchange (HTTP, TLS or a plain ACK
    /// of the request, not RST/FIN/ICMP error or silence); when several or none look healthy, the one that got farthest
    /// before an answer, with silence counting as no answer, provided it is strictly farthest. Groups already covered
    /// by `already` are skipped. Sorted like `sweeps`.
    public static func inferredPairs(_ sweeps: [TTLSweep], already: [(test: TTLSweep, control: TTLSweep)] = [])
        -> [(test: TTLSweep, control: TTLSweep)]
    {
        struct GroupKey: Hashable { var client: IPAddress; var server: IPAddress; var port: UInt16 }
        var groups: [GroupKey: [TTLSweep]] = [:]
        var order: [GroupKey] = []
        for s in sweeps where s.requestKey != nil {
            let k = GroupKey(client: s.client, server: s.server, port: s.serverPort)
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(s)
        }
        var out: [(test: TTLSweep, control: TTLSweep)] = []
        for k in order {
            guard let g = groups[k], g.count >= 2,
                  !already.contains(where: { $0.test.client == k.client && $0.test.server == k.server && $0.test.serverPort == k.port })
            else { continue }
            func healthy(_ s: TTLSweep) -> Bool { [.http, .tls, .ack].contains(s.responseKind) }
            var control: TTLSweep?
            let good = g.filter(healthy)
            if good.count == 1 {
                control = good[0]
            } else {
                func reach(_ s: TTLSweep) -> Int { s.firstTerminatingTTL ?? 0 }
                let ranked = g.sorted { reach($0) > reach($1) }
                if reach(ranked[0]) > reach(ranked[1]) { control = ranked[0] }
            }
            guard let c = control else { continue }
            for t in g where t != c { out.append((t, c)) }
        }
        return out
    }

    /// Names commonly used as the innocuous control request.
    public static let defaultControlKeys: Set<String> = ["example.com", "www.example.com", "example.org", "example.net"]

    /// Pairs the sweeps of one capture: for each (client, server, port), each sweep whose request key is not a control
    /// key is paired with the control sweep (the one whose key is in `controlKeys`). Sorted like `sweeps`.
    public static func pairs(_ sweeps: [TTLSweep], controlKeys: Set<String> = defaultControlKeys)
        -> [(test: TTLSweep, control: TTLSweep)]
    {
        var out: [(test: TTLSweep, control: TTLSweep)] = []
        for s in sweeps where !(s.requestKey.map(controlKeys.contains) ?? true) {
            if let c = sweeps.first(where: {
                $0.server == s.server && $0.serverPort == s.serverPort && $0.client == s.client
                    && ($0.requestKey.map(controlKeys.contains) ?? false)
            }) {
                out.append((s, c))
            }
        }
        return out
    }
}
