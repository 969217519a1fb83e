import Testing
import KZSignatures
import KZWire
@testable import KZDetect

@Suite struct RegistryTests {
    @Test func registryListsEveryBuiltInDetectorOnce() {
        let ids = DetectorRegistry.ids
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(Set(["dns.injection", "http.block_page", "tls.interception"] as [DetectorID]).isSubset(of: Set(ids)))
        #expect(DetectorRegistry.makeAll().map { type(of: $0).id } == ids)
        let (some, unknown) = DetectorRegistry.make(only: ["dns.injection", "no.such"])
        #expect(some.map { type(of: $0).id } == ["dns.injection"])
        #expect(unknown == ["no.such"])
    }

    @Test func idsFollowTheReportNames() {
        // REPORT.md "Detector names": area.snake_case.
        for id in DetectorRegistry.ids {
            let parts = id.rawValue.split(separator: ".")
            #expect(parts.count == 2)
            #expect(id.rawValue.allSatisfy { $0.isLowercase || $0 == "." || $0 == "_" })
        }
    }

    static func finding(_ detector: DetectorID, frames: [FrameNumber], client: String = "10.0.0.2:1",
                        summary: String = "s") -> Finding {
        Finding(detector: detector, confidence: .medium, capture: "c.pcap",
                flow: FlowRef(proto: "tcp", client: client, server: "192.0.2.1:80"), target: nil, frames: frames,
                summary: summary, evidence: [])
    }

    @Test func runnerSortsByFirstFrameThenDetectorThenFlow() {
        let input = [
            Self.finding("tls.interception", frames: [9]),
            Self.finding("http.block_page", frames: []),
            Self.finding("tcp.rst_injection", frames: [5, 6]),
            Self.finding("dns.injection", frames: [5]),
            Self.finding("dns.injection", frames: [5], client: "10.0.0.1:9"),
            Self.finding("dns.injection", frames: [5]),                       // exact duplicate
        ]
        let sorted = DetectorRunner.sorted(input)
        #expect(sorted.map(\.detector) == ["dns.injection", "dns.injection", "tcp.rst_injection", "tls.interception",
                                           "http.block_page"])
        #expect(sorted.map { $0.flow?.client ?? "" }.prefix(2) == ["10.0.0.1:9", "10.0.0.2:1"])
        // Order does not depend on input order.
        #expect(DetectorRunner.sorted(input.reversed()) == sorted)
    }

    @Test func runnerFeedsAllDetectorsAndFinishesOnce() throws {
        // A DNS race (judged in finish) and a block page (judged in observe) through all built-in detectors.
        let dns = AnalysisEvent.dnsTransaction(DNSTransactionEvent(
            capture: "mix.pcap", client: addr("10.0.0.2"), clientPort: 5353, resolver: addr("8.8.8.8"),
            resolverPort: 53, transport: "udp", queryFrame: 20, queryTime: at(1), id: 1, qname: "x.example", qtype: 1,
            responses: [DNSResponseEvent(frame: 21, time: at(1.002), source: addr("8.8.8.8"), ttl: 40, ipID: 0,
                                         df: false, rcode: 0, answers: ["10.0.0.9"]),
                        DNSResponseEvent(frame: 22, time: at(1.03), source: addr("8.8.8.8"), ttl: 120, ipID: 0,
                                         df: false, rcode: 0, answers: ["192.0.2.7"])]))
        let http = AnalysisEvent.tcpFlow(tcpFlow(
            requests: [HTTPRequestEvent(frame: 4, method: "GET", target: "/", host: "h.example")],
            responses: [HTTPResponseEvent(firstFrame: 5, lastFrame: 5, status: 451, headers: [], body: [],
                                          bodySHA256: nil, complete: true)]))
        var runner = DetectorRunner(detectors: DetectorRegistry.makeAll(), context: DetectorContext(signatures: nil))
        runner.observe(dns)
        runner.observe(http)
        let first = runner.finish()
        #expect(first.map(\.detector) == ["http.block_page", "dns.injection"])
        #expect(runner.finish() == first)
    }
}
