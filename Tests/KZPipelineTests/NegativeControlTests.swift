import Foundation
import Testing
import KZPipeline
import KZReport

/// The lab's negative controls (`Fixtures/captures/lab/control_*`): real traffic through real kernel stacks with no
/// censor on the path (a server's own RSTs, a NAT's timeout RST, CDN-like DNS rotation, loss/reordering/duplication
/// under HTTP and TLS 1.3). Issue 6: none of them may give a finding above `low`.
@Suite struct NegativeControlTests {
    func controls() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: labDir)) ?? []
        return names.filter { $0.hasPrefix("control_") }.sorted()
    }

    @Test func everyControlPassesCheckWithNothingAboveLow() throws {
        let names = controls()
        #expect(names.count >= 4, "lab negative controls missing under \(labDir)")
        for n in names {
            let results = Regression.runCase(truthPath: "\(labDir)/\(n)/truth.json", options: AnalysisOptions())
            #expect(results.count == 2, "\(n): \(results.map(\.name))")
            for r in results { #expect(r.passed, "\(r.name): \(r.problems)") }
            for cap in ["client.pcap", "server.pcap"] {
                let report = try Analyzer.run(paths: [labCapture(n, cap)], options: AnalysisOptions()).report
                let above = report.findings.filter { $0.confidence != "low" }
                #expect(above.isEmpty, "\(n)/\(cap): \(above.map { "\($0.detector) \($0.confidence): \($0.summary)" })")
            }
        }
    }

    /// The NAT's RST is still shown (at `low`, with the reason), not silently dropped: it is the one frame of the
    /// control the server never sent, listed in the truth's `middlebox_frames`.
    @Test func natTimeoutResetIsShownAtLowWithItsReason() throws {
        let truthURL = URL(fileURLWithPath: "\(labDir)/control_nat_rst/truth.json")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: truthURL)) as? [String: Any])
        let middlebox = try #require(truth["middlebox_frames"] as? [[String: Any]])
        #expect(middlebox.count == 1)
        let frame = try #require(middlebox.first?["frames"] as? [Int]).first
        let report = try Analyzer.run(paths: [labCapture("control_nat_rst")], options: AnalysisOptions()).report
        #expect(report.findings.count == 1)
        let f = try #require(report.findings.first)
        #expect(f.detector == "tcp.rst_injection" && f.confidence == "low")
        #expect(frame != nil && f.frames.contains(frame ?? -1), "finding frames \(f.frames), NAT RST \(String(describing: frame))")
        let json = String(decoding: try JSONEncoder().encode(f), as: UTF8.self)
        #expect(json.contains("NAT or firewall state timeout"), "\(json)")
    }
}
