@testable import KZDetect
import KZWire
import Testing
import KZTestSupport

/// The control indexes of the drop detectors against the linear scans they replaced (the detectors' code before the
/// indexes, copied here), on random flows drawn from few captures, servers, ports, labels and first frames so that ties
/// and exclusions happen often.
@Suite("drop control indexes")
struct DropControlIndexTests {
    static let servers: [IPAddress] = [IPAddress(v4: 0xB901_0203), IPAddress(v4: 0xB901_0204), IPAddress(v4: 0xB901_0305),
                                       IPAddress(v6High: 0x2001_0db8_0000_0001, low: 7), IPAddress(v6High: 0x2001_0db8_0000_0002, low: 7)]
    static let labels: [String?] = [nil, "a.example", "b.example", "c.example"]

    static func randomRecord(_ g: inout TestRandom) -> DropFlowRecord {
        let flow = TCPFlowEvent(capture: "x", client: IPAddress(v4: 0x0A00_0002), clientPort: 50000, server: servers[0],
                                serverPort: 443, firstTime: Timestamp(nanoseconds: 0), lastTime: Timestamp(nanoseconds: 0),
                                connState: "", history: "", segments: [], payloadBytesClient: 0, payloadBytesServer: 0)
        var r = DropFlowRecord(flow, label: nil)
        r.capture = ["a.pcap", "b.pcap"][Int.random(in: 0...1, using: &g)]
        r.server = servers.randomElement(using: &g)!
        r.serverPort = [80, 443, 8443][Int.random(in: 0...2, using: &g)]
        r.clientPort = UInt16.random(in: 50000...50003, using: &g)
        r.firstFrame = Int.random(in: 0...12, using: &g)
        r.label = labels.randomElement(using: &g)!
        r.synAckFrame = Bool.random(using: &g) ? Int.random(in: 1...40, using: &g) : nil
        r.answerFrame = Bool.random(using: &g) ? Int.random(in: 1...40, using: &g) : nil
        r.probeTTL = Int.random(in: 0...3, using: &g) == 0 ? UInt8.random(in: 5...8, using: &g) : nil
        return r
    }

    @Test func handshakeControlsChooseWhatTheScanChose() {
        var g = TestRandom(seed: 1)
        for _ in 0..<300 {
            let records = (0..<Int.random(in: 0...30, using: &g)).map { _ in Self.randomRecord(&g) }
            var index = HandshakeControls()
            for r in records { index.add(r) }
            for c in (0..<10).map({ _ in Self.randomRecord(&g) }) {
                // The scan of `SYNDropDetector.finish` before the index.
                let reached = records.indices.filter { records[$0].capture == c.capture && records[$0].synAckFrame != nil }
                let same = reached.filter { records[$0].server == c.server }
                    .min { (records[$0].serverPort == c.serverPort ? 0 : 1, records[$0].firstFrame)
                        < (records[$1].serverPort == c.serverPort ? 0 : 1, records[$1].firstFrame) }
                let prefix = same == nil
                    ? reached.filter { sameDropPrefix(records[$0].server, c.server) }.min { records[$0].firstFrame < records[$1].firstFrame }
                    : nil
                let s = index.sameServer(capture: c.capture, server: c.server, port: c.serverPort)
                #expect(s?.seq == same)
                #expect(s?.frame == same.flatMap { records[$0].synAckFrame })
                #expect(s?.serverPort == same.map { records[$0].serverPort })
                if same == nil {
                    let p = index.samePrefix(capture: c.capture, server: c.server)
                    #expect(p?.seq == prefix)
                    #expect(p?.server == prefix.map { records[$0].server })
                    #expect(p?.frame == prefix.flatMap { records[$0].synAckFrame })
                }
            }
        }
    }

    @Test func silentDropControlsChooseWhatTheScanChose() {
        var g = TestRandom(seed: 2)
        for _ in 0..<300 {
            let records = (0..<Int.random(in: 0...30, using: &g)).map { _ in Self.randomRecord(&g) }
            var index = SilentDropControls()
            for r in records { index.add(r) }
            // Judged flows: some recorded (as the detectors record every flow, candidates included), some not.
            let judged = records.shuffled(using: &g).prefix(5) + (0..<5).map { _ in Self.randomRecord(&g) }
            for p in judged {
                // The scans of `SilentDropJudge.findings` before the index.
                let others = records.indices.filter {
                    records[$0].capture == p.capture && records[$0].firstFrame != p.firstFrame && records[$0].server == p.server
                }
                let control = others.filter { records[$0].answerFrame != nil && records[$0].label != p.label }
                    .min { (records[$0].serverPort == p.serverPort ? 0 : 1, records[$0].firstFrame)
                        < (records[$1].serverPort == p.serverPort ? 0 : 1, records[$1].firstFrame) }
                let sameLabelOK = others.first { records[$0].answerFrame != nil && records[$0].label == p.label && records[$0].label != nil }
                let c = index.control(for: p)
                #expect(c?.seq == control)
                #expect(c?.frame == control.flatMap { records[$0].answerFrame })
                #expect(c?.label == control.flatMap { records[$0].label })
                let ok = index.sameLabelAnswered(for: p)
                #expect(ok?.seq == sameLabelOK)
                #expect(ok?.frame == sameLabelOK.flatMap { records[$0].answerFrame })
                #expect(index.hasOtherFlow(than: p) == !others.isEmpty)
                // The probe scan's candidates, in record order.
                let probes = records.filter { $0.capture == p.capture && $0.server == p.server && $0.probeTTL != nil }
                #expect(index.probes(for: p).map(\.firstFrame) == probes.map(\.firstFrame))
                #expect(index.probes(for: p).map(\.label) == probes.map(\.label))
            }
        }
    }

    /// What `finish` rebuilds from the log is what was added, for the servers it asks, in order; probes whole.
    @Test func flowLogRebuildsTheRecordsOfTheServersAsked() {
        var g = TestRandom(seed: 5)
        for _ in 0..<100 {
            let records = (0..<Int.random(in: 0...30, using: &g)).map { _ in Self.randomRecord(&g) }
            var log = DropFlowLog()
            for r in records { log.add(r) }
            let capture = ["a.pcap", "b.pcap"].randomElement(using: &g)!
            let server = Self.servers.randomElement(using: &g)!
            let id = log.captureID(capture)
            let rebuilt = log.records(where: { $0 == id && $1 == server })
            let expected = records.filter { $0.capture == capture && $0.server == server }
            #expect(rebuilt.count == expected.count)
            for (a, b) in zip(rebuilt, expected) {
                #expect(a.capture == b.capture && a.server == b.server && a.serverPort == b.serverPort)
                #expect(a.firstFrame == b.firstFrame && a.label == b.label)
                #expect(a.synAckFrame == b.synAckFrame && a.answerFrame == b.answerFrame && a.probeTTL == b.probeTTL)
                if b.probeTTL != nil { #expect(a.key == b.key) }
            }
        }
    }

    @Test func earliestTwoKeepsTheFirstPerExcludedFrame() {
        var g = TestRandom(seed: 3)
        for _ in 0..<500 {
            let cs = (0..<Int.random(in: 1...12, using: &g)).map { k in
                DropControl(server: Self.servers[0], serverPort: 443, firstFrame: Int.random(in: 0...4, using: &g), seq: k,
                            frame: k, label: nil)
            }
            var two = EarliestTwo(cs[0])
            for c in cs.dropFirst() { two.offer(c, before: { $0.startsBefore($1) }) }
            for f in 0...5 {
                let ref = cs.filter { $0.firstFrame != f }.min { $0.startsBefore($1) }
                #expect(two.first(notStartingAt: f) == ref)
            }
        }
    }
}

/// `ICMPUnreachableInjectionDetector.Controls` against the scans of the flow map it replaced (answer and TTL frames
/// unique per flow, as frames are in a capture, so that the scans' choice did not depend on the map's order).
@Suite("icmp.unreachable_injection controls")
struct ICMPControlsTests {
    typealias D = ICMPUnreachableInjectionDetector

    @Test func controlsChooseWhatTheScansChose() {
        var g = TestRandom(seed: 4)
        let servers = DropControlIndexTests.servers
        for _ in 0..<300 {
            var flows: [D.FlowKey: D.FlowInfo] = [:]
            var frames = Array(1...200).shuffled(using: &g)
            for _ in 0..<Int.random(in: 0...30, using: &g) {
                let k = D.FlowKey(capture: Int32.random(in: 0...1, using: &g), client: IPAddress(v4: 0x0A00_0002),
                                  clientPort: UInt16.random(in: 50000...50005, using: &g), server: servers.randomElement(using: &g)!,
                                  serverPort: [80, 443][Int.random(in: 0...1, using: &g)])
                let ttl: UInt8? = Bool.random(using: &g) ? UInt8.random(in: 50...64, using: &g) : nil
                flows[k] = D.FlowInfo(isTCP: Int.random(in: 0...3, using: &g) > 0,
                                      answerFrame: Bool.random(using: &g) ? frames.removeLast() : nil,
                                      serverTTL: ttl, serverTTLFrame: ttl == nil ? nil : frames.removeLast(), host: -1, sni: -1)
            }
            var wantServers: Set<D.ServerKey> = []
            var wantPrefixes: Set<D.PrefixPortKey> = []
            for cap in Int32(0)...1 {
                for s in servers {
                    wantServers.insert(D.ServerKey(capture: cap, server: s))
                    for port: UInt16 in [80, 443] { wantPrefixes.insert(D.PrefixPortKey(capture: cap, server: s, port: port)) }
                }
            }
            let controls = D.Controls(flows: flows, servers: wantServers, prefixes: wantPrefixes)
            for cap in Int32(0)...1 {
                for dst in servers {
                    for dp: UInt16 in [80, 443] {
                        let other = flows.filter { $0.key.capture == cap && $0.key.server == dst && $0.key.serverPort == dp
                            && $0.value.proto == "tcp" && $0.value.answerFrame != nil }
                            .min(by: { ($0.value.answerFrame ?? 0) < ($1.value.answerFrame ?? 0) })
                        let o = controls.answeredOn[D.PortKey(capture: cap, server: dst, port: dp)]
                        #expect(o?.key == other?.key)
                        #expect(o?.frame == other?.value.answerFrame)
                        let prefix = flows.filter { $0.key.capture == cap && $0.key.server != dst && sameDropPrefix($0.key.server, dst)
                            && $0.key.serverPort == dp && $0.value.proto == "tcp" && $0.value.answerFrame != nil }
                            .min(by: { ($0.value.answerFrame ?? 0) < ($1.value.answerFrame ?? 0) })
                        let p = controls.prefixAnswered(capture: cap, server: dst, port: dp)
                        #expect(p?.key == prefix?.key)
                        #expect(p?.frame == prefix?.value.answerFrame)
                    }
                    let ttl = flows.filter { $0.key.capture == cap && $0.key.server == dst && $0.value.serverTTL != nil }
                        .min { ($0.value.serverTTLFrame ?? 0) < ($1.value.serverTTLFrame ?? 0) }
                    let t = controls.ttlOf[D.ServerKey(capture: cap, server: dst)]
                    #expect(t?.ttl == ttl?.value.serverTTL)
                    #expect(t?.frame == ttl?.value.serverTTLFrame)
                }
            }
        }
    }
}
