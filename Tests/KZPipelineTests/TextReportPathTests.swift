import Foundation
import KZPipeline
import KZReport
import Testing

/// The text report puts a path under each finding whose server it leads to (same capture), and lists the paths no
/// finding leads to under "Paths". Checked on the lab's TTL sweeps (paths with and without findings), IPv4 and IPv6.
@Suite struct TextReportPathTests {
    @Test func pathsSitUnderTheirFindingsAndTheRestAreListedApart() throws {
        var sawPathUnderFinding = false
        for sweep in ["sweep_http_inpath", "sweep_http_onpath", "sweep_sni_drop", "sweep_sni_inpath", "http_rst_inpath_v6"] {
            let dir = "\(labDir)/\(sweep)"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".pcap") }.sorted()
            #expect(!files.isEmpty, "\(sweep)")
            for f in files {
                var o = AnalysisOptions()
                o.threads = 1
                let r = try Analyzer.run(paths: ["\(dir)/\(f)"], options: o).report
                let text = TextReport.render(r)
                func prefix(_ p: PathRecord) -> String {
                    p.server.contains(":") && !p.server.contains(".") ? "[\(p.server)]" : p.server
                }
                for finding in r.findings {
                    // The block of this finding: from its id line to the next blank line.
                    guard let start = text.range(of: "\n\(finding.id)  ") else { Issue.record("no block for \(finding.id)"); continue }
                    let block = text[start.upperBound...].prefix { _ in true }.split(separator: "\n\n", maxSplits: 1).first ?? ""
                    let expected = finding.flow.flatMap { flow in
                        r.paths.first { $0.capture == finding.capture && flow.server.hasPrefix(prefix($0)) }
                    }
                    if let p = expected {
                        #expect(block.contains("  path      " + TextReport.pathLine(p)), "\(sweep)/\(f) \(finding.id)")
                        sawPathUnderFinding = true
                    } else {
                        #expect(!block.contains("  path      "), "\(sweep)/\(f) \(finding.id)")
                    }
                }
                let unmatched = r.paths.filter { p in !r.findings.contains { $0.flow?.server.hasPrefix(prefix(p)) ?? false } }
                #expect(text.contains("\nPaths\n") == !unmatched.isEmpty, "\(sweep)/\(f)")
                for p in unmatched { #expect(text.contains("  \(p.server) (\(p.capture)): " + TextReport.pathLine(p)), "\(sweep)/\(f)") }
            }
        }
        #expect(sawPathUnderFinding)
    }

    /// Several paths per report: each finding gets the first path of its own capture that leads to its server, an
    /// IPv6 server matches only in brackets, and only the paths no finding leads to are listed apart.
    @Test func severalPathsGoToTheirOwnFindings() throws {
        var o = AnalysisOptions()
        o.threads = 1
        var r = try Analyzer.run(paths: ["\(labDir)/http_rst_onpath/client.pcap"], options: o).report
        let f = try #require(r.findings.first { $0.flow != nil })
        let server = try #require(f.flow?.server)                  // "addr:port"
        let colon = try #require(server.lastIndex(of: ":"))
        let addr = String(server[..<colon])
        func path(_ to: String, _ capture: String, router: String) -> PathRecord {
            PathRecord(server: to, capture: capture, hops: [PathHopRecord(index: 1, router: router, asn: nil, country: nil)],
                       censor: nil)
        }
        r.paths = [
            path("192.0.2.77", f.capture, router: "10.9.9.1"),      // nobody's server: listed apart
            path(addr, "other.pcap", router: "10.9.9.2"),           // the server, but another capture
            path(addr, f.capture, router: "10.9.9.3"),              // this finding's path
            path("2001:db8::5", f.capture, router: "10.9.9.4"),     // IPv6, no finding
        ]
        let text = TextReport.render(r)
        let block = text.components(separatedBy: "\n\(f.id)  ")[1].components(separatedBy: "\n\n")[0]
        #expect(block.contains("  path      " + TextReport.pathLine(r.paths[2])))
        #expect(!block.contains("10.9.9.2") && !block.contains("10.9.9.1"))
        let apart = text.components(separatedBy: "\nPaths\n")
        #expect(apart.count == 2)
        let listed = apart.last ?? ""
        #expect(listed.contains("192.0.2.77 (\(f.capture))") && listed.contains("2001:db8::5 (\(f.capture))"))
        // The other capture's path to the same server counts as matched (by server), as the finding's own does.
        #expect(!listed.contains("(other.pcap)") && !listed.contains("10.9.9.3"))
    }
}
