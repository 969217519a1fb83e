import KZWire

/// `icmp.unreachable_injection`: an ICMP destination-unreachable forged on the path (ICLab counts RST/ICMP-unreachable
/// events as the bulk of "probable" injections).
///
/// Judged in `finish`, after every flow is known. The quote (RFC 792; RFC 4443 §3.1) is matched to the TCP or UDP flow it
/// speaks for (client address and port → server address and port). Strong signals: the server answered anyway (in the
/// quoted flow or another flow to the same address in this capture), or the message claims to come from the
/// destination itself while its TTL is more than 2 off that server's TTL in the capture. Weak signals: an
/// administratively-prohibited code (IPv4 9, 10, 13; IPv6 1), a port-unreachable for TCP (hosts answer closed TCP ports
/// with RST, not ICMP). Grading as for forged RSTs: two strong or one strong and two weak → `high`, one strong →
/// `medium`, weak only → `low`. Messages without a quote, or whose quote matches no flow and shows no sign, are not
/// reported.
public struct ICMPUnreachableInjectionDetector: Detector {
    public static let id: DetectorID = "icmp.unreachable_injection"
    var tolerance = 2

    /// A flow's identity; `capture` is an id into `strings`.
    struct FlowKey: Hashable, Sendable {
        var capture: Int32
        var client: IPAddress
        var clientPort: UInt16
        var server: IPAddress
        var serverPort: UInt16
    }
    /// What `finish` reads of a flow; Host and SNI are ids into `strings` (-1: none).
    struct FlowInfo: Sendable {
        var isTCP: Bool
        var answerFrame: FrameNumber?
        var serverTTL: UInt8?
        var serverTTLFrame: FrameNumber?
        var host: Int32
        var sni: Int32
        var proto: String { isTCP ? "tcp" : "udp" }
    }
    /// Every TCP and UDP flow, in the order they ended: a message may quote any of them, and may arrive after the
    /// flow ended. A chunked array while reading (104 bytes a flow; an array's last doubling, 7 MB more for an instant
    /// on the 1 GiB reference, came as the last flows closed, at the run's peak); `finish` builds the table by key,
    /// where a later flow with the same key replaces the earlier. A table kept all along cost twice that at its load
    /// factor, and its last doubling held both copies at the capture's peak.
    var flows = ChunkedQueue<(key: FlowKey, info: FlowInfo)>(chunkShift: 12)
    var errors: [ICMPErrorEvent] = []
    var strings = StringTable()

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        switch event {
        case .icmpError(let e):
            if e.isV6 ? e.type == 1 : e.type == 3 { errors.append(e) }
        case .tcpFlow(let f):
            let base = f.baseline(.server)
            let answer = f.segments.first { $0.side == .server && !$0.isRST }?.frame
            flows.append((FlowKey(capture: strings.id(f.capture), client: f.client, clientPort: f.clientPort, server: f.server, serverPort: f.serverPort),
                          FlowInfo(isTCP: true, answerFrame: answer, serverTTL: base.ttl, serverTTLFrame: base.ttlFrame,
                                   host: strings.id(f.httpRequests.first?.host), sni: strings.id(f.tls?.sni))))
        case .udpFlow(let u):
            flows.append((FlowKey(capture: strings.id(u.capture), client: u.client, clientPort: u.clientPort, server: u.server, serverPort: u.serverPort),
                          FlowInfo(isTCP: false, answerFrame: u.packetsServer > 0 ? u.firstFrame : nil, serverTTL: nil, serverTTLFrame: nil,
                                   host: -1, sni: -1)))
        default:
            break
        }
    }

    private func codeText(_ e: ICMPErrorEvent) -> String {
        let v4: [UInt8: String] = [0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
                                   9: "network administratively prohibited", 10: "host administratively prohibited",
                                   13: "communication administratively prohibited"]
        let v6: [UInt8: String] = [0: "no route", 1: "administratively prohibited", 3: "address unreachable", 4: "port unreachable",
                                   5: "source address failed policy", 6: "reject route"]
        return (e.isV6 ? v6[e.code] : v4[e.code]) ?? "code \(e.code)"
    }

    struct ServerKey: Hashable { var capture: Int32; var server: IPAddress }
    struct PortKey: Hashable { var capture: Int32; var server: IPAddress; var port: UInt16 }
    /// The /24 (/48) of a server and a port: two servers share a prefix exactly when `sameDropPrefix`.
    struct PrefixPortKey: Hashable {
        var capture: Int32
        var v6: Bool
        var prefix: UInt64
        var port: UInt16
        init(capture: Int32, server a: IPAddress, port: UInt16) {
            self.capture = capture
            v6 = a.isV6
            prefix = a.isV6 ? a.high >> 16 : UInt64(a.v4Value >> 8)
            self.port = port
        }
    }
    typealias Answered = (key: FlowKey, frame: FrameNumber)

    /// What the messages' judgements ask of the other flows, gathered in one pass over them: per quoted server, the
    /// earliest answered TCP flow on each port and the TTL of the flow whose baseline came first; per quoted prefix and
    /// port, the earliest answered TCP flow and the earliest to another server than that one's (so that the quoted
    /// server itself can be left out).
    struct Controls {
        var answeredOn: [PortKey: Answered] = [:]
        var ttlOf: [ServerKey: (ttl: UInt8, frame: FrameNumber?)] = [:]
        var prefix: [PrefixPortKey: (first: Answered, other: Answered?)] = [:]

        init(flows: [FlowKey: FlowInfo], servers: Set<ServerKey>, prefixes: Set<PrefixPortKey>) {
            for (k, v) in flows {
                let sk = ServerKey(capture: k.capture, server: k.server)
                if servers.contains(sk) {
                    if v.isTCP, let a = v.answerFrame {
                        let pk = PortKey(capture: k.capture, server: k.server, port: k.serverPort)
                        if answeredOn[pk].map({ a < $0.frame }) ?? true { answeredOn[pk] = (k, a) }
                    }
                    if let t = v.serverTTL, ttlOf[sk].map({ (v.serverTTLFrame ?? 0) < ($0.frame ?? 0) }) ?? true {
                        ttlOf[sk] = (t, v.serverTTLFrame)
                    }
                }
                let pp = PrefixPortKey(capture: k.capture, server: k.server, port: k.serverPort)
                if v.isTCP, let a = v.answerFrame, prefixes.contains(pp) {
                    let c: Answered = (k, a)
                    if var two = prefix[pp] {
                        if a < two.first.frame {
                            if k.server != two.first.key.server { two.other = two.first }
                            two.first = c
                        } else if k.server != two.first.key.server, two.other.map({ a < $0.frame }) ?? true {
                            two.other = c
                        }
                        prefix[pp] = two
                    } else {
                        prefix[pp] = (c, nil)
                    }
                }
            }
        }

        /// The earliest answered TCP flow on `port` to another server than `server` in its prefix.
        func prefixAnswered(capture: Int32, server: IPAddress, port: UInt16) -> Answered? {
            guard let two = prefix[PrefixPortKey(capture: capture, server: server, port: port)] else { return nil }
            return two.first.key.server != server ? two.first : two.other
        }
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var out: [Finding] = []
        guard !errors.isEmpty else {
            flows.removeAll()
            strings = StringTable()
            return
        }
        var flows: [FlowKey: FlowInfo] = [:]
        flows.reserveCapacity(self.flows.count)
        for (k, v) in self.flows { flows[k] = v }
        self.flows.removeAll()
        let errors = self.errors.sorted(by: { $0.frame < $1.frame })
        var servers: Set<ServerKey> = []
        var prefixes: Set<PrefixPortKey> = []
        for e in errors {
            guard let q = e.quoted, let dp = q.dstPort, let cap = strings.existingID(e.capture) else { continue }
            servers.insert(ServerKey(capture: cap, server: q.dst))
            prefixes.insert(PrefixPortKey(capture: cap, server: q.dst, port: dp))
        }
        let controls = Controls(flows: flows, servers: servers, prefixes: prefixes)
        for e in errors {
            // IPv4 code 4 is "fragmentation needed" (path MTU discovery, RFC 1191): ordinary.
            guard let q = e.quoted, let sp = q.srcPort, let dp = q.dstPort, e.isV6 || e.code != 4 else { continue }
            // A capture no flow came from has no flow to match nor control to give.
            let cap = strings.existingID(e.capture)
            let info = cap.flatMap { flows[FlowKey(capture: $0, client: q.src, clientPort: sp, server: q.dst, serverPort: dp)] }
            let isTCP = q.proto.rawValue == 6
            var strong: [(String, Evidence, FrameNumber?)] = []
            var weak: [(String, Evidence)] = []

            if let a = info?.answerFrame {
                strong.append(("the server answered in the same flow (frame \(a))", .frame(a, note: "the server answered this flow"), a))
            } else if isTCP, let cap, let other = controls.answeredOn[PortKey(capture: cap, server: q.dst, port: dp)] {
                let a = other.frame
                strong.append(("\(q.dst) answered another flow in this capture (frame \(a))",
                               .control(frame: a, note: "\(q.dst):\(other.key.serverPort) answered \(other.key.client):\(other.key.clientPort)"), a))
            }
            if e.source == q.dst {
                let ttlRef = info?.serverTTL.map { ($0, info?.serverTTLFrame) }
                    ?? cap.flatMap { controls.ttlOf[ServerKey(capture: $0, server: q.dst)] }.map { ($0.ttl, $0.frame) }
                if let (sttl, sf) = ttlRef, InitialTTL.gap(e.ttl, sttl) > tolerance {
                    strong.append(("it claims to come from \(q.dst) with TTL \(e.ttl) where that host's packets have \(sttl)",
                                   .valueMismatch(field: "ttl", frame: e.frame, expected: "\(sttl)", observed: "\(e.ttl)", baselineFrame: sf), sf))
                }
            }
            let adminCodes: Set<UInt8> = e.isV6 ? [1] : [9, 10, 13]
            let admin = adminCodes.contains(e.code)
            if admin {
                weak.append(("the code says \(codeText(e))", .note("ICMP code \(e.code): \(codeText(e)) (a filter speaking)")))
            }
            // The network behind the router is reachable: another host of the same /24 (/48) answered on the same port.
            var prefixFrame: FrameNumber?
            if strong.isEmpty, isTCP, e.source != q.dst, let cap,
               let other = controls.prefixAnswered(capture: cap, server: q.dst, port: dp) {
                let a = other.frame
                prefixFrame = a
                weak.append(("\(other.key.server) in the same prefix answered on port \(dp) in this capture (frame \(a))",
                             .control(frame: a, note: "\(other.key.server):\(dp) in the same prefix answered \(other.key.client):\(other.key.clientPort)")))
            }
            if isTCP, e.code == (e.isV6 ? 4 : 3) {
                weak.append(("a port unreachable for TCP, which hosts answer with RST", .note("ICMP port unreachable for a TCP segment: TCP hosts answer closed ports with RST")))
            }
            let conf: Confidence
            if strong.count >= 2 || (strong.count == 1 && weak.count >= 2) { conf = .high }
            else if strong.count == 1 { conf = .medium }
            // A router refusing one host "administratively" while the same network behind it answers on the same port:
            // a per-destination filter, which is what codes 9/10/13 announce (RFC 1812 §5.2.7.1).
            else if admin, prefixFrame != nil { conf = .medium }
            else if !weak.isEmpty { conf = .low }
            else { continue }
            var evidence: [Evidence] = [.frame(e.frame, note: "ICMP \(e.isV6 ? "v6 " : "")unreachable (\(codeText(e))) from \(e.source) quoting \(q.src):\(sp) → \(q.dst):\(dp)")]
            evidence += strong.map(\.1) + weak.map(\.1)
            let frames = [e.frame] + strong.compactMap(\.2) + (prefixFrame.map { [$0] } ?? [])
            let proto = info?.proto ?? (isTCP ? "tcp" : q.proto.rawValue == 17 ? "udp" : "icmp")
            let summary = "ICMP \(codeText(e)) in frame \(e.frame) from \(e.source) for \(q.src):\(sp) → \(q.dst):\(dp) looks "
                + (conf == .low ? "like filtering: " : "forged: ") + (strong.map(\.0) + weak.map(\.0)).joined(separator: "; ") + "."
            out.append(Finding(detector: Self.id, confidence: conf, capture: e.capture,
                               flow: FlowRef(proto: proto, client: q.src, clientPort: sp, server: q.dst, serverPort: dp),
                               target: info.map { TargetRef(host: strings[$0.host], sni: strings[$0.sni], qname: nil, ip: q.dst.description) }
                                   ?? TargetRef(ip: q.dst.description), frames: frames, summary: summary,
                               evidence: evidence, injectedFrame: e.frame, claimedSource: e.source.description,
                               injectedTTL: e.ttl, peerTTL: info?.serverTTL))
        }
        for f in out { sink.report(f) }
        self.errors = []
        strings = StringTable()
    }
}
