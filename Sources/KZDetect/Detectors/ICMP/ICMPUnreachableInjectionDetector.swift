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

    struct FlowKey: Hashable, Sendable {
        var capture: String
        var client: IPAddress
        var clientPort: UInt16
        var server: IPAddress
        var serverPort: UInt16
    }
    struct FlowInfo: Sendable {
        var proto: String
        var answerFrame: FrameNumber?
        var serverTTL: UInt8?
        var serverTTLFrame: FrameNumber?
        var target: TargetRef
    }
    var flows: [FlowKey: FlowInfo] = [:]
    var errors: [ICMPErrorEvent] = []

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        switch event {
        case .icmpError(let e):
            if e.isV6 ? e.type == 1 : e.type == 3 { errors.append(e) }
        case .tcpFlow(let f):
            let base = TCPSideBaseline(side: .server, segments: f.segments)
            let answer = f.segments.first { $0.side == .server && !$0.isRST }?.frame
            flows[FlowKey(capture: f.capture, client: f.client, clientPort: f.clientPort, server: f.server, serverPort: f.serverPort)] =
                FlowInfo(proto: "tcp", answerFrame: answer, serverTTL: base.ttl, serverTTLFrame: base.ttlFrame,
                         target: tcpFlowTarget(f))
        case .udpFlow(let u):
            flows[FlowKey(capture: u.capture, client: u.client, clientPort: u.clientPort, server: u.server, serverPort: u.serverPort)] =
                FlowInfo(proto: "udp", answerFrame: u.packetsServer > 0 ? u.firstFrame : nil, serverTTL: nil, serverTTLFrame: nil,
                         target: TargetRef(ip: u.server.description))
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

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var out: [Finding] = []
        for e in errors.sorted(by: { $0.frame < $1.frame }) {
            // IPv4 code 4 is "fragmentation needed" (path MTU discovery, RFC 1191): ordinary.
            guard let q = e.quoted, let sp = q.srcPort, let dp = q.dstPort, e.isV6 || e.code != 4 else { continue }
            let key = FlowKey(capture: e.capture, client: q.src, clientPort: sp, server: q.dst, serverPort: dp)
            let info = flows[key]
            let isTCP = q.proto.rawValue == 6
            var strong: [(String, Evidence, FrameNumber?)] = []
            var weak: [(String, Evidence)] = []

            if let a = info?.answerFrame {
                strong.append(("the server answered in the same flow (frame \(a))", .frame(a, note: "the server answered this flow"), a))
            } else if isTCP, let other = flows.filter({ $0.key.capture == e.capture && $0.key.server == q.dst && $0.key.serverPort == dp
                                                        && $0.value.proto == "tcp" && $0.value.answerFrame != nil })
                        .min(by: { ($0.value.answerFrame ?? 0) < ($1.value.answerFrame ?? 0) }), let a = other.value.answerFrame {
                strong.append(("\(q.dst) answered another flow in this capture (frame \(a))",
                               .control(frame: a, note: "\(q.dst):\(other.key.serverPort) answered \(other.key.client):\(other.key.clientPort)"), a))
            }
            if e.source == q.dst {
                let ttlRef = info?.serverTTL.map { ($0, info?.serverTTLFrame) }
                    ?? flows.filter { $0.key.capture == e.capture && $0.key.server == q.dst && $0.value.serverTTL != nil }
                        .min { ($0.value.serverTTLFrame ?? 0) < ($1.value.serverTTLFrame ?? 0) }
                        .flatMap { v in v.value.serverTTL.map { ($0, v.value.serverTTLFrame) } }
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
            if strong.isEmpty, isTCP, e.source != q.dst,
               let other = flows.filter({ $0.key.capture == e.capture && $0.key.server != q.dst && sameDropPrefix($0.key.server, q.dst)
                                          && $0.key.serverPort == dp && $0.value.proto == "tcp" && $0.value.answerFrame != nil })
                   .min(by: { ($0.value.answerFrame ?? 0) < ($1.value.answerFrame ?? 0) }), let a = other.value.answerFrame {
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
                               target: info?.target ?? TargetRef(ip: q.dst.description), frames: frames, summary: summary,
                               evidence: evidence, injectedFrame: e.frame, claimedSource: e.source.description,
                               injectedTTL: e.ttl, peerTTL: info?.serverTTL))
        }
        for f in out { sink.report(f) }
        errors = []
        flows = [:]
    }
}
