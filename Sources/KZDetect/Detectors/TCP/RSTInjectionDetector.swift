import KZWire

/// `tcp.rst_injection`: a RST (or RST+ACK) forged by a middlebox, not sent by the endpoint it claims.
///
/// Each RST of a finished flow is compared with the ordinary packets of the side it names (see
/// `ForgedSegmentAnalyzer` for the signals and grading). Findings are grouped per claimed side and TTL, so two
/// injectors in one flow (the GFW's RST/ACK triplet and its bare-RST sibling) give two findings, each with its own
/// `injectedTTL` for hop attribution. A genuine endpoint RST (same TTL, in window, after its own data) and a kernel's
/// reply to a segment for a dead connection produce no signal; a lone TTL mismatch after a long idle gap (a NAT's
/// state-timeout RST) is reported as `low` at most.
///
/// Judged in `finish`, with what the rest of the capture shows:
/// - ICMP time-exceeded quotes: a RST "from the server" acknowledging client data whose every transmission expired on
///   the path (a sweep probe) cannot come from the server (strong, `ack`).
/// - Steady TTL: when every ordinary packet of an address in the capture (at least `steadyPackets`, across flows) has
///   one TTL, route jitter is not in evidence and Hold-On's ±1 replaces the ±2 tolerance for packets claiming it.
/// - Template: a RST with exactly the header template (claimed address and side, TTL, DF, flags, window, options)
///   of a RST judged forged at `medium` or more on another flow of the capture, on signals of its own, comes from the
///   same injector (strong, `template`). One pass: a template match never vouches for another.
public struct RSTInjectionDetector: Detector {
    public static let id: DetectorID = "tcp.rst_injection"
    var analyzer = ForgedSegmentAnalyzer(kind: .rst)
    var steadyPackets = 8

    struct AddressKey: Hashable { var capture: String; var address: IPAddress }
    struct Template: Hashable {
        var capture: String
        var address: IPAddress
        var side: Side
        var ttl: UInt8
        var df: Bool
        var flags: UInt16
        var window: UInt16
        var optionCount: UInt8
        var hasTimestamps: Bool
    }
    var flows: [TCPFlowEvent] = []
    var expired: [ProbeKey: [UInt32: [FrameNumber]]] = [:]
    /// TTLs of each address's ordinary packets (within ±2 of their flow's baseline), across the capture.
    var ttls: [AddressKey: SeenTTLs] = [:]

    /// The TTL values seen (a 256-bit set) and how many packets carried them.
    struct SeenTTLs {
        var low: UInt128 = 0                                     // TTLs 0...127
        var high: UInt128 = 0                                    // TTLs 128...255
        var packets = 0
        var distinct: Int { low.nonzeroBitCount + high.nonzeroBitCount }
        mutating func add(low l: UInt128, high h: UInt128, packets n: Int) {
            low |= l
            high |= h
            packets += n
        }
    }

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        switch event {
        case .icmpError(let e):
            if let k = ProbeKey(timeExceeded: e), let seq = e.quoted?.tcpSeq { expired[k, default: [:]][seq, default: []].append(e.frame) }
        case .tcpFlow(let flow):
            for side in [Side.client, .server] {
                let base = flow.baseline(side)
                guard let bttl = base.ttl else { continue }
                // The side's TTLs gathered here first: two table updates per side, not two per segment.
                var seen = (UInt128(0), UInt128(0)), count = 0
                for s in flow.segments where s.side == side && !s.isRST && !s.isFIN && InitialTTL.gap(s.ttl, bttl) <= 2 {
                    if s.ttl < 128 { seen.0 |= 1 << s.ttl } else { seen.1 |= 1 << (s.ttl - 128) }
                    count += 1
                }
                guard count > 0 else { continue }
                let key = AddressKey(capture: flow.capture, address: side == .client ? flow.client : flow.server)
                ttls[key, default: SeenTTLs()].add(low: seen.0, high: seen.1, packets: count)
            }
            if flow.segments.contains(where: { $0.isRST }) { flows.append(Self.kept(flow)) }
        default:
            break
        }
    }

    /// The part of a flow `ForgedSegmentAnalyzer` reads (addresses, ports, segments, handshake timings) and
    /// `tcpFlowTarget` names (the first request's Host, the SNI): HTTP bodies, certificate chains and overlap records
    /// are dropped before the flow waits for `finish`.
    static func kept(_ flow: TCPFlowEvent) -> TCPFlowEvent {
        var f = flow
        f.httpRequests = flow.httpRequests.first.map { [HTTPRequestEvent(frame: $0.frame, method: "", target: "", host: $0.host)] } ?? []
        f.httpResponses = []
        f.overlapConflicts = []
        f.tls = flow.tls.map { TLSEvent(clientHelloFrame: nil, sni: $0.sni, serverHelloFrame: nil, negotiatedVersion: nil,
                                        certificateFrame: nil, chain: [], alertFrames: [], isTLS13: false) }
        return f
    }

    func template(_ flow: TCPFlowEvent, _ s: SegmentEvent) -> Template {
        Template(capture: flow.capture, address: s.side == .client ? flow.client : flow.server, side: s.side, ttl: s.ttl,
                 df: s.df, flags: s.flags.rawValue, window: s.window, optionCount: s.optionCount, hasTimestamps: s.hasTimestamps)
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var judged: [ForgedSegmentAnalyzer.Judged] = []
        for flow in flows {
            var ctx = ForgedSegmentAnalyzer.FlowContext()
            ctx.expiredClientSeqs = expired[ProbeKey(capture: flow.capture, client: flow.client, clientPort: flow.clientPort,
                                                     server: flow.server, serverPort: flow.serverPort)] ?? [:]
            for side in [Side.client, .server] {
                let key = AddressKey(capture: flow.capture, address: side == .client ? flow.client : flow.server)
                if let t = ttls[key], t.packets >= steadyPackets, t.distinct == 1 { ctx.ttlTolerance[side] = 1 }
            }
            if let j = analyzer.judge(flow, context: ctx) { judged.append(j) }
        }
        // Templates of RSTs forged on their own evidence.
        var forged: [Template: FrameNumber] = [:]
        for j in judged {
            for c in j.candidates where (c.confidence ?? .low) >= .medium {
                let s = j.flow.segments[c.index]
                let t = template(j.flow, s)
                if forged[t].map({ s.frame < $0 }) ?? true { forged[t] = s.frame }
            }
        }
        for n in judged.indices {
            for k in judged[n].candidates.indices where (judged[n].candidates[k].confidence ?? .low) < .medium {
                let s = judged[n].flow.segments[judged[n].candidates[k].index]
                guard let ref = forged[template(judged[n].flow, s)], ref != s.frame else { continue }
                let t = "the same header template (TTL \(s.ttl), DF \(s.df ? 1 : 0), window \(s.window), \(s.hasTimestamps ? "timestamps" : "no timestamps")) as the forged RST in frame \(ref) claiming the same \(s.side.rawValue)"
                judged[n].candidates[k].signals.append(ForgedSignal(category: "template", strength: .strong, label: t,
                                                                    evidence: [.frame(ref, note: t)], frames: [s.frame, ref]))
                analyzer.regrade(&judged[n], k)
            }
        }
        for j in judged {
            for f in analyzer.findings(j) { sink.report(f) }
        }
        flows = []
        expired = [:]
        ttls = [:]
    }
}
