import KZDetect
import KZFlow
import KZProtocols
import KZSignatures
import KZWire

/// Receives the flow table's events for one capture, runs the application-layer parsers, pairs DNS transactions, and
/// turns finished flows into `AnalysisEvent`s (drained by `CaptureAnalyzer` after each packet).
struct PipelineSink: FlowEventSink {
    let capture: String
    let views: ViewSet
    /// Build detector events (off for the views).
    let detect: Bool
    /// Run the application-layer parsers (HTTP, TLS, DNS): for the detectors or a view that prints their output.
    /// `kzforensics flows` alone needs neither: it is flows and reassembly only.
    let parseApps: Bool
    var apps: [FlowID: FlowAppState] = [:]
    var dns: DNSTransactionTracker
    /// Released DNS transactions (views only) and the distinct query names.
    var dnsTransactions: [DNSTransactionEvent] = []
    var dnsQueryNames: Set<String> = []
    var events: [AnalysisEvent] = []
    var flowCounts = (tcp: 0, udp: 0, other: 0)
    /// Flows closed since the heap was last trimmed (`MallocTuning.trim`).
    var closedSinceTrim = 0
    var flowRows: [FlowRow] = []
    /// When set, each flow's row goes here as the flow closes instead of into `flowRows`.
    let flowRowHandler: FlowRowHandler?
    var viewHTTP: [HTTPViewRow] = []
    var viewTLS: [TLSViewRow] = []
    var anomalyCounts: [String: (count: Int, first: FrameNumber)] = [:]
    /// Flows quoted by an ICMP time-exceeded (TTL-limited probes).
    var probedFlows: Set<FlowKey> = []

    /// What every flow's `FlowAppState` keeps (lean unless views are collected) and the signatures for its early
    /// body verdicts.
    let appConfig: FlowAppState.Config

    init(capture: String, views: ViewSet = [], detect: Bool = true, signatures: SignatureDatabase? = nil,
         flowRowHandler: FlowRowHandler? = nil) {
        self.capture = capture
        self.flowRowHandler = flowRowHandler
        self.views = views
        self.detect = detect
        parseApps = detect || !views.isDisjoint(with: [.dns, .http, .tls])
        appConfig = views.contains(.http) || views.contains(.tls)
            ? .full : FlowAppState.Config(lean: true, signatures: signatures, detect: detect)
        dns = DNSTransactionTracker(capture: capture)
    }

    mutating func note(_ name: String, frame: FrameNumber, count: Int = 1) {
        if var e = anomalyCounts[name] {
            e.count += count
            e.first = min(e.first, frame)
            anomalyCounts[name] = e
        } else {
            anomalyCounts[name] = (count, frame)
        }
    }

    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) {
        guard parseApps else { return }
        let st: FlowAppState
        if let existing = apps[flow.id] {
            st = existing
        } else {
            guard chunk.bytes.count > 0 else { return }
            st = FlowAppState(config: appConfig)
            apps[flow.id] = st
        }
        if st.app == nil {
            guard chunk.bytes.count > 0 else { return }
            let guess = ProtocolSniffer.guess(firstBytes: chunk.bytes, serverPort: flow.responder.port, transport: .tcp)
            st.start(guess)
        }
        let forward = chunk.direction == .forward
        let ctx = flow
        var pending: [(DNSMessage, Bool, Int)] = []
        st.feed(chunk.bytes, forward: forward, frame: chunk.frame) { m, fwd, frame in pending.append((m, fwd, frame)) }
        for (m, fwd, frame) in pending {
            let src = fwd ? ctx.originator : ctx.responder
            let dst = fwd ? ctx.responder : ctx.originator
            dns.message(m, .init(src: src.address, srcPort: src.port, dst: dst.address, dstPort: dst.port, frame: frame,
                                 time: chunk.timestamp, ttl: chunk.ttl, ipID: chunk.ipID, df: false, transport: "tcp"))
        }
        if dns.hasReleased { takeDNSTransactions() }
    }

    /// Hands the transactions the tracker released (query order) to the detectors as events.
    mutating func takeDNSTransactions() {
        for t in dns.takeReleased() {
            dnsQueryNames.insert(t.qname.lowercased())
            if views.contains(.dns) { dnsTransactions.append(t) }
            if detect { events.append(.dnsTransaction(t)) }
        }
    }

    mutating func datagram(_ flow: FlowContext, _ d: Datagram) {
        guard parseApps else { return }
        let src = flow.sender(d.direction)
        let dst = d.direction == .forward ? flow.responder : flow.originator
        guard src.port == 53 || dst.port == 53 || src.port == 5353 || dst.port == 5353 ||
            ProtocolSniffer.guess(firstBytes: d.payload, serverPort: flow.responder.port, transport: .udp) == .dns
        else { return }
        let r = DNSMessage.parse(d.payload)
        for a in r.anomalies { note(a.name, frame: d.frame) }
        guard let m = r.message else { return }
        dns.message(m, .init(src: src.address, srcPort: src.port, dst: dst.address, dstPort: dst.port, frame: d.frame,
                             time: d.timestamp, ttl: d.ttl, ipID: d.ipID, df: d.df, transport: "udp"))
        if dns.hasReleased { takeDNSTransactions() }
    }

    mutating func icmp(_ flow: FlowContext, _ m: ICMPMessage) {
        if m.icmp.isTimeExceeded, let q = m.quotedFlow { probedFlows.insert(q) }
        guard m.icmp.isUnreachable || m.icmp.isTimeExceeded || (m.icmp.isV6 ? m.icmp.type == 4 : m.icmp.type == 12) else { return }
        guard detect else { return }
        let dst = m.direction == .forward ? flow.responder.address : flow.originator.address
        events.append(.icmpError(ICMPErrorEvent(capture: capture, frame: m.frame, time: m.timestamp, source: m.source,
                                                destination: dst, ttl: m.ttl, ipID: m.ipID, isV6: m.icmp.isV6,
                                                type: m.icmp.type, code: m.icmp.code, quoted: m.icmp.quoted)))
    }

    mutating func flowClosed(_ flow: FlowContext, _ r: FlowRecord) {
        closedSinceTrim += 1
        if closedSinceTrim >= 4096 {
            closedSinceTrim = 0
            MallocTuning.trim()
        }
        for a in r.anomalies { note(a.name, frame: a.firstFrame, count: a.count) }
        if views.contains(.flows) {
            if let h = flowRowHandler { h(capture, FlowRow(r)) } else { flowRows.append(FlowRow(r)) }
        }
        switch r.proto {
        case .tcp:
            flowCounts.tcp += 1
            let st = apps.removeValue(forKey: flow.id) ?? FlowAppState()
            st.finish()
            for a in st.anomalies { note(a.name, frame: a.frame ?? r.firstFrame) }
            let probed = probedFlows.remove(r.key) != nil
            if detect {
                var ev = tcpEvent(r, st)
                ev.isTTLLimitedProbe = probed || (!r.forward.ttl.isEmpty && r.forward.ttl.min <= 32)
                events.append(.tcpFlow(ev))
            }
            if views.contains(.http) || views.contains(.tls) { collectAppViews(r, st) }
        case .udp:
            flowCounts.udp += 1
            guard detect else { return }
            events.append(.udpFlow(UDPFlowEvent(capture: capture, client: r.originator.address, clientPort: r.originator.port,
                                                server: r.responder.address, serverPort: r.responder.port,
                                                firstFrame: r.firstFrame, packetsClient: r.forward.packets,
                                                packetsServer: r.reverse.packets)))
        default:
            flowCounts.other += 1
        }
    }

    func tcpEvent(_ r: FlowRecord, _ st: FlowAppState) -> TCPFlowEvent {
        var segs: [SegmentEvent] = []
        segs.reserveCapacity(r.forward.segments.count + r.reverse.segments.count)
        for d in r.directions {
            for s in d.segments {
                segs.append(SegmentEvent(frame: s.frame, time: Timestamp(nanoseconds: s.timestamp),
                                         side: s.direction == .forward ? .client : .server, seq: s.seq, ack: s.ack,
                                         flags: s.tcpFlags, window: s.window, ttl: s.ttl, ipID: s.ipID, df: s.df,
                                         tos: s.tos, payloadLength: Int(s.payloadLength), optionOrder: s.optionKinds,
                                         optionCount: UInt8(s.optionKinds.nonzeroBitCount),
                                         mss: s.mss == 0 ? nil : s.mss, hasTimestamps: s.hasTimestamps,
                                         badChecksum: s.badChecksum))
            }
        }
        segs.sort { $0.frame < $1.frame }
        let conflicts = r.overlapConflicts.map {
            OverlapConflictEvent(side: $0.direction == .forward ? .client : .server, firstFrame: $0.firstFrame,
                                 secondFrame: $0.secondFrame, seqStart: $0.seq, length: $0.length)
        }
        let (reqs, resps) = st.detectorHTTP()
        return TCPFlowEvent(capture: capture, client: r.originator.address, clientPort: r.originator.port,
                            server: r.responder.address, serverPort: r.responder.port, firstTime: r.firstTimestamp,
                            lastTime: r.lastTimestamp, connState: r.connState.rawValue, history: r.history,
                            segments: segs, segmentsDropped: r.forward.segmentsDropped + r.reverse.segmentsDropped,
                            payloadBytesClient: r.forward.payloadBytes, payloadBytesServer: r.reverse.payloadBytes,
                            synToSynAck: r.handshake.synToSynAck, synAckToAck: r.handshake.synAckToAck,
                            overlapConflicts: conflicts, httpRequests: reqs, httpResponses: resps, tls: st.detectorTLS())
    }

    mutating func collectAppViews(_ r: FlowRecord, _ st: FlowAppState) {
        let client = r.originator.address.withPort(r.originator.port)
        let server = r.responder.address.withPort(r.responder.port)
        let responses = views.contains(.http) ? st.httpResponses.filter { !$0.isInterim } : []
        for (i, q) in st.httpRequests.enumerated() where views.contains(.http) {
            viewHTTP.append(HTTPViewRow(capture: capture, client: client, server: server, request: q,
                                        response: i < responses.count ? responses[i] : nil,
                                        extraResponses: i == st.httpRequests.count - 1 ? Array(responses.dropFirst(i + 1)) : []))
        }
        if views.contains(.http), st.httpRequests.isEmpty, !responses.isEmpty {
            viewHTTP.append(HTTPViewRow(capture: capture, client: client, server: server, request: nil,
                                        response: responses[0], extraResponses: Array(responses.dropFirst())))
        }
        if views.contains(.tls), st.app == .tls || st.clientHello != nil {
            viewTLS.append(TLSViewRow(capture: capture, client: client, server: server, clientHello: st.clientHello,
                                      serverHello: st.serverHello, chain: st.chain, alerts: st.alerts))
        }
    }
}

/// One HTTP request and the response(s) that followed it on the same connection.
public struct HTTPViewRow: Sendable {
    public var capture: String
    public var client: String
    public var server: String
    public var request: HTTPRequest?
    public var response: HTTPResponse?
    /// Responses beyond one per request (an injected response racing the real one shows up here).
    public var extraResponses: [HTTPResponse]
}

/// One TLS handshake as seen in the clear.
public struct TLSViewRow: Sendable {
    public var capture: String
    public var client: String
    public var server: String
    public var clientHello: TLSClientHello?
    public var serverHello: TLSServerHello?
    public var chain: TLSCertificateChain?
    public var alerts: [TLSAlert]
}
