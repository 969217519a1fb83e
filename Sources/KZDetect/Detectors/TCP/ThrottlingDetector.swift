import KZWire

/// `tcp.throttling`: a flow held far below comparable flows in the same capture — OONI's method for the 2022 Kazakh
/// throttling of `azattyq.org` and `currenttime.tv` (ooni.org 2023-throttling-kz-elections: throttled TLS handshakes
/// took > 2 s, daily medians > 4 s, against a baseline host in the same prefix on the same day).
///
/// Judged in `finish`. Comparable flows: same capture and same server address, else the same /24 (/48). Two measures:
/// - throughput: server goodput (new sequence space, retransmissions not counted) over the time from the first to the
///   last server payload; a flow with at least `minimumBytes` over at least `minimumDuration` s is slow when below
///   `ratio` (1/10) of the median of comparables that carried at least half its bytes (capped at `comparableBytes`,
///   at least `minimumBytes`), and moderately slow (`low` only) below `moderateRatio` (1/4);
/// - TLS handshake time (ClientHello → ServerHello): slow when ≥ `slowHandshake` (2 s) and ≥ `handshakeFactor` (5×)
///   the median of comparables' handshakes.
/// A flow whose longest pause between server payload packets is half its data time or more is idle, not slow, and is
/// not judged on throughput.
/// Grading: one slow measure against same-address comparables → `medium`, prefix-only comparables → `low`; both
/// measures slow → one step higher. Without comparables nothing is reported (a slow server is not interference).
public struct ThrottlingDetector: Detector {
    public static let id: DetectorID = "tcp.throttling"
    var minimumBytes = 16 * 1024
    var minimumDuration = 1.0
    var comparableBytes = 64 * 1024
    var ratio = 0.1
    /// Below this fraction (but not below `ratio`) a flow is reported `low`: 4× slower than a concurrent download from
    /// the same server is worth a look, not proof (the lab's 400 kbit/s tbf runs at about 1/5 of the control).
    var moderateRatio = 0.25
    var slowHandshake = 2.0
    var handshakeFactor = 5.0

    /// What `finish` reads of one flow: numbers, addresses and ids into `strings`. The flow and target references are
    /// built only for the flows that become findings or are quoted as their controls.
    struct Record: Sendable {
        var capture: Int32
        var host: Int32
        var sni: Int32
        var client: IPAddress
        var server: IPAddress
        var clientPort: UInt16
        var serverPort: UInt16
        var bytes: Int
        var dataSeconds: Double
        var firstData: FrameNumber?
        var lastData: FrameNumber?
        var handshake: Double?
        /// ClientHello and ServerHello frames, when `handshake` was measured.
        var hello: (clientHello: FrameNumber, serverHello: FrameNumber)?
        /// The longest pause between two server payload packets.
        var longestGap: Double
        var throughput: Double? { dataSeconds > 0 ? Double(bytes) / dataSeconds : nil }
        var helloFrames: [FrameNumber] { hello.map { [$0.clientHello, $0.serverHello] } ?? [] }
        var flow: FlowRef { FlowRef(proto: "tcp", client: client, clientPort: clientPort, server: server, serverPort: serverPort) }
    }
    /// The flows that can be judged or compared (see `observe`), in observation order.
    var records: [Record] = []
    var strings = StringTable()

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        // A TTL-limited probe carries a request meant to expire on the path: its timing measures nothing.
        guard case .tcpFlow(let flow) = event, !flow.isTTLLimitedProbe else { return }
        let data = flow.segments.filter { $0.side == .server && $0.payloadLength > 0 && !$0.isRST }
        var hs: Double?
        var hello: (FrameNumber, FrameNumber)?
        if let tls = flow.tls, let ch = tls.clientHelloFrame, let sh = tls.serverHelloFrame,
           let a = flow.segments.first(where: { $0.frame == ch }), let b = flow.segments.first(where: { $0.frame == sh }) {
            hs = secondsBetween(a.time, b.time)
            hello = (ch, sh)
        }
        let span = (data.first.flatMap { f in data.last.map { secondsBetween(f.time, $0.time) } }) ?? 0
        var gap = 0.0
        for k in data.indices.dropFirst() { gap = max(gap, secondsBetween(data[k - 1].time, data[k].time)) }
        // Goodput: new sequence space only. A shaper drops packets and the server retransmits them, so counting
        // retransmitted bytes would credit the throttled flow with throughput it never delivered.
        var unique = 0
        var highest: UInt32?
        for s in data {
            let end = s.seqEnd
            guard let h = highest else { unique += s.payloadLength; highest = end; continue }
            if tcpSeqDistance(end, h) > 0 {
                unique += Int(tcpSeqDistance(end, tcpSeqDistance(s.seq, h) > 0 ? s.seq : h))
                highest = end
            }
        }
        let bytes = data.isEmpty ? flow.payloadBytesServer : unique
        // Only a flow judged on throughput, a comparable for throughput (a throughput and at least the fewest bytes
        // `need` asks in `finish`) or one with a handshake time is ever read in `finish`: the rest need not be kept.
        let judged = bytes >= minimumBytes && span >= minimumDuration && span > 0
        let comparable = span > 0 && Double(bytes) / span > 0 && bytes >= min(comparableBytes, minimumBytes)
        guard judged || comparable || hs != nil else { return }
        records.append(Record(capture: strings.id(flow.capture), host: strings.id(flow.httpRequests.first?.host),
                              sni: strings.id(flow.tls?.sni), client: flow.client, server: flow.server,
                              clientPort: flow.clientPort, serverPort: flow.serverPort, bytes: bytes, dataSeconds: span,
                              firstData: data.first?.frame, lastData: data.last?.frame, handshake: hs, hello: hello,
                              longestGap: gap))
    }

    static func median(_ v: [Double]) -> Double? {
        let s = v.sorted()
        guard !s.isEmpty else { return nil }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        var out: [Finding] = []
        // Flows by (capture, server) and by (capture, prefix), in record order: each flow is compared only with its
        // own groups, so finishing costs the sum of the groups' squares, not the square of all flows.
        struct ServerKey: Hashable { var capture: Int32; var server: IPAddress }
        struct PrefixKey: Hashable { var capture: Int32; var v6: Bool; var prefix: UInt64 }
        func prefixKey(_ r: Record) -> PrefixKey {
            PrefixKey(capture: r.capture, v6: r.server.isV6,
                      prefix: r.server.isV6 ? r.server.high >> 16 : UInt64(r.server.v4Value >> 8))
        }
        var byServer: [ServerKey: [Int]] = [:]
        var byPrefix: [PrefixKey: [Int]] = [:]
        for (i, r) in records.enumerated() {
            byServer[ServerKey(capture: r.capture, server: r.server), default: []].append(i)
            byPrefix[prefixKey(r), default: []].append(i)
        }
        let records = self.records
        for (k, r) in records.enumerated() {
            func comparables(_ ok: (Record) -> Bool) -> (list: [Record], sameAddress: Bool) {
                let same = (byServer[ServerKey(capture: r.capture, server: r.server)] ?? []).filter { $0 != k && ok(records[$0]) }
                if !same.isEmpty { return (same.map { records[$0] }, true) }
                let near = (byPrefix[prefixKey(r)] ?? []).filter { $0 != k && ok(records[$0]) }
                return (near.map { records[$0] }, false)
            }
            var slow: [String] = []
            var evidence: [Evidence] = []
            var frames: [FrameNumber] = []
            var sameAddress = true
            // A flow whose data time is mostly one pause is idle (keep-alive, user think time), not slow.
            var moderate = false
            if r.bytes >= minimumBytes, r.dataSeconds >= minimumDuration, r.longestGap < 0.5 * r.dataSeconds, let tp = r.throughput {
                // Comparables carry at least half as many bytes, so slow start weighs on both alike.
                let need = min(comparableBytes, max(minimumBytes, r.bytes / 2))
                let (list, same) = comparables { $0.bytes >= need && ($0.throughput ?? 0) > 0 }
                if let med = Self.median(list.compactMap(\.throughput)), tp < ratio * med || tp < moderateRatio * med {
                    moderate = tp >= ratio * med
                    slow.append("\(Int(tp)) B/s against a median of \(Int(med)) B/s over \(list.count) comparable flow\(list.count == 1 ? "" : "s")")
                    evidence.append(.note("throughput \(Int(tp)) B/s (\(r.bytes) bytes in \(TCPIPText.fixed1(r.dataSeconds)) s) vs median \(Int(med)) B/s of \(list.count) flow(s) to the \(same ? "same address" : "same prefix")"))
                    if let c = list.first?.firstData { evidence.append(.control(frame: c, note: "comparable flow \(list[0].flow.client) → \(list[0].flow.server)")) }
                    frames += [r.firstData, r.lastData].compactMap { $0 }
                    sameAddress = sameAddress && same
                }
            }
            if let h = r.handshake, h >= slowHandshake {
                let (list, same) = comparables { $0.handshake != nil }
                if let med = Self.median(list.compactMap(\.handshake)), h >= handshakeFactor * med {
                    slow.append("a TLS handshake of \(TCPIPText.fixed1(h)) s against a median of \(TCPIPText.fixed1(med)) s")
                    evidence.append(.timing(field: "tls_handshake", frame: r.helloFrames.last, expectedSeconds: med, observedSeconds: h))
                    if let c = list.first?.helloFrames.last { evidence.append(.control(frame: c, note: "comparable handshake \(list[0].flow.client) → \(list[0].flow.server)")) }
                    frames += r.helloFrames
                    sameAddress = sameAddress && same
                }
            }
            guard !slow.isEmpty else { continue }
            var conf: Confidence = sameAddress ? .medium : .low
            if slow.count == 2 { conf = sameAddress ? .high : .medium }
            // Between 1/10 and 1/4 of the comparables' throughput: a hint only.
            if moderate && slow.count == 1 { conf = .low }
            let summary = "The flow to \(r.flow.server) ran far below comparable flows to the \(sameAddress ? "same address" : "same prefix") in this capture: "
                + slow.joined(separator: "; ") + "."
            let target = TargetRef(host: strings[r.host], sni: strings[r.sni], qname: nil, ip: r.server.description)
            out.append(Finding(detector: Self.id, confidence: conf, capture: strings[r.capture] ?? "", flow: r.flow, target: target,
                               frames: frames, summary: summary, evidence: evidence))
        }
        for f in out.sorted(by: { ($0.frames.first ?? 0) < ($1.frames.first ?? 0) }) { sink.report(f) }
        self.records = []
        strings = StringTable()
    }
}
