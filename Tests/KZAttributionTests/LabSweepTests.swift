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
        // The committed lab captures, plus a fresh lab run when KZ_EXTRA_LAB names its output directory.
        var roots = [packageRoot.appendingPathComponent("Fixtures/captures/lab")]
        if let extra = ProcessInfo.processInfo.environment["KZ_EXTRA_LAB"] { roots.append(URL(fileURLWithPath: extra)) }
        var dirs: [URL] = []
        for root in roots {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else {
                print("lab captures missing at \(root.path): lab sweep check NOT run there")
                continue
            }
            dirs += names.sorted().map { root.appendingPathComponent($0) }
        }
        var rows: [String] = ["scenario            truth hop/router      got hop/router        centrace-reading      verdict                 path"]
        var checked = 0
        for dir in dirs {
            let d = dir.lastPathComponent
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("truth.json").path),
                  let truth = try? JSONDecoder().decode(Truth.self, from: data), let sw = truth.sweep else { continue }
            checked += 1
            let (packets, bytes) = try loadCapture(dir.appendingPathComponent("client.pcap").path)
            let sweeps = TTLSweepBuilder.sweeps(packets: packets, bytes: bytes)
            let pair = try #require(TTLSweepAnalyzer.pairs(sweeps, controlKeys: [sw.control_target]).first, "\(d): no pair")
            #expect(pair.test.requestKey == sw.blocked_target, "\(d)")
            // Without being told the control name, inference finds the same pair.
            let inferred = TTLSweepAnalyzer.inferredPairs(sweeps)
            #expect(inferred.count == 1 && inferred.first?.test.requestKey == sw.blocked_target
                    && inferred.first?.control.requestKey == sw.control_target, "\(d): inferred pair")
            let a = TTLSweepAnalyzer.compare(test: pair.test, control: pair.control)
            #expect(a.verdict == SweepVerdict(label: sw.verdict), "\(d): verdict")
            #expect(a.onPath == sw.on_path, "\(d): on-path")
            #expect(a.identifiedHop == sw.identified_hop && a.middlebox?.description == sw.identified_router, "\(d): CenTrace reading")
            // The censor itself; for a silent in-path drop nothing in the capture tells router k filtering after its
            // TTL check from a device just before router k+1, so there the trigger hop (CenTrace's reading) is accepted.
            let exact = a.censorHop == sw.censor_hop && a.censorRouter?.description == sw.router
            let silentInPath = a.testResponse == .timeout && !sw.on_path && a.censorHop == sw.identified_hop
            #expect(exact || silentInPath, "\(d): censor")
            let path = PathReport(sweep: a, capture: "client.pcap")
            #expect(path.censor?.index == a.censorHop && path.censor?.router == a.censorRouter?.description, "\(d): path censor")
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
