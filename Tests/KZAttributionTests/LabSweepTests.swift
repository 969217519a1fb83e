import Foundation
import KZAttribution
import KZWire
import Testing

/// The lab's TTL sweeps (Fixtures/captures/lab/sweep_*): test and control sweeps in one client capture, told apart by
/// Host/SNI. Each must name the lab's censor (truth `sweep.censor_hop`/`router`), keep CenTrace's plain reading
/// (`identified_hop`/`identified_router`), the verdict, and on-path vs in-path.
@Suite struct LabSweepTests {
    struct Truth: Decodable {
        struct Sweep: Decodable {
            var blocked_target: String
            var control_target: String
            var censor_hop: Int
            var router: String
            var on_path: Bool
            var verdict: String
            var identified_hop: Int
            var identified_router: String
        }
        struct Censor: Decodable { var inject_ttl: Int?; var mechanism: String }
        var sweep: Sweep?
        var censor: Censor?
    }

    @Test func everyLabSweepNamesTheCensor() throws {
        let root = packageRoot.appendingPathComponent("Fixtures/captures/lab")
        guard let dirs = try? FileManager.default.contentsOfDirectory(atPath: root.path) else {
            print("lab fixtures missing at \(root.path): lab sweep check NOT run")
            return
        }
        var rows: [String] = ["scenario            truth hop/router      got hop/router        centrace-reading      verdict                 path"]
        var checked = 0
        for d in dirs.sorted() {
            let dir = root.appendingPathComponent(d)
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("truth.json").path),
                  let truth = try? JSONDecoder().decode(Truth.self, from: data), let sw = truth.sweep else { continue }
            checked += 1
            let (packets, bytes) = try loadCapture(dir.appendingPathComponent("client.pcap").path)
            let sweeps = TTLSweepBuilder.sweeps(packets: packets, bytes: bytes)
            let pair = try #require(TTLSweepAnalyzer.pairs(sweeps, controlKeys: [sw.control_target]).first, "\(d): no pair")
            #expect(pair.test.requestKey == sw.blocked_target, "\(d)")
            let a = TTLSweepAnalyzer.compare(test: pair.test, control: pair.control)
            #expect(a.verdict == SweepVerdict(label: sw.verdict), "\(d): verdict")
            #expect(a.onPath == sw.on_path, "\(d): on-path")
            #expect(a.identifiedHop == sw.identified_hop && a.middlebox?.description == sw.identified_router, "\(d): CenTrace reading")
            #expect(a.censorHop == sw.censor_hop && a.censorRouter?.description == sw.router, "\(d): censor")
            let path = PathReport(sweep: a, capture: "client.pcap")
            #expect(path.censor?.index == sw.censor_hop && path.censor?.router == sw.router, "\(d): path censor")
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
            rows.append(pad(d, 20) + pad("\(sw.censor_hop) \(sw.router)", 22)
                        + pad("\(a.censorHop.map(String.init) ?? "-") \(a.censorRouter?.description ?? "-")", 22)
                        + pad("\(a.identifiedHop.map(String.init) ?? "-") \(a.middlebox?.description ?? "-")", 22)
                        + pad(a.verdict.rawValue + (a.onPath ? " on" : " in"), 24) + renderPathLine(path))
        }
        print(rows.joined(separator: "\n"))
        #expect(checked >= 4, "lab sweep scenarios found: \(checked)")
    }
}
