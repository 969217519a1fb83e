@testable import KZDetect
import KZWire
import Testing

/// The control indexes of the drop detectors against the linear scans they replaced (the detectors' code before the
/// indexes, copied here), on random flows drawn from few captures, servers, ports, labels and first frames so that ties
/// and exclusions happen often.
@Suite("drop control indexes")
struct DropControlIndexTests {
    /// A small deterministic generator (SplitMix64), so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let servers: [IPAddress] = [IPAddress(v4: 0xB901_0203), IPAddress(v4: 0xB901_0204), IPAddress(v4: 0xB901_0305),
                                       IPAddress(v6High: 0x2001_0db8_0000_0001, low: 7), IPAddress(v6High: 0x2001_0db8_0000_0002, low: 7)]
    static let labels: [String?] = [nil, "a.example", "b.example", "c.example"]

    static func randomRecord(_ g: inout SplitMix) -> DropFlowRecord {
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
        var g = SplitMix(state: 1)
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
        var g = SplitMix(state: 2)
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

    @Test func earliestTwoKeepsTheFirstPerExcludedFrame() {
        var g = SplitMix(state: 3)
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
