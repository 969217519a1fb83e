import Foundation
import Testing
import KZCapture
import KZPipeline
import KZReport
import KZWire

/// The package root, from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let labDir = packageRoot.appendingPathComponent("Fixtures/captures/lab").path

func labCapture(_ scenario: String, _ file: String = "client.pcap") -> String { "\(labDir)/\(scenario)/\(file)" }

@Suite struct ReportTests {
    @Test func jsonIsByteIdenticalAcrossRuns() throws {
        let paths = [labCapture("dns_injection"), labCapture("http_rst_inpath")]
        let a = try ReportJSON.encode(try Analyzer.run(paths: paths, options: AnalysisOptions()).report)
        let b = try ReportJSON.encode(try Analyzer.run(paths: paths, options: AnalysisOptions()).report)
        #expect(a == b)
        #expect(a.contains("\"schema\" : \"kzforensics.report/1\""))
    }

    @Test func accountingBalancesOnEveryFixture() throws {
        let fm = FileManager.default
        let files = (fm.enumerator(atPath: labDir)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count >= 10)
        for f in files {
            let out = try Analyzer.run(paths: ["\(labDir)/\(f)"], options: AnalysisOptions())
            let acc = out.report.accounting
            #expect(acc.decoded + acc.skipped.values.reduce(0, +) == acc.frames, "\(f)")
            #expect(acc.frames > 0, "\(f)")
            #expect(out.report.captures.first?.status == "complete", "\(f)")
        }
    }

    @Test func reportFieldsFollowTheContract() throws {
        let out = try Analyzer.run(paths: [labCapture("tls_interception")], options: AnalysisOptions())
        let json = try ReportJSON.encode(out.report)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["schema", "tool", "captures", "accounting", "flows", "findings", "paths", "anomalies"] {
            #expect(obj[key] != nil, "missing \(key)")
        }
        let findings = try #require(obj["findings"] as? [[String: Any]])
        let f = try #require(findings.first { ($0["detector"] as? String) == "tls.interception" })
        for key in ["id", "detector", "confidence", "capture", "flow", "target", "frames", "summary", "evidence", "hop"] {
            #expect(f.keys.contains(key), "finding lacks \(key)")
        }
        #expect((f["id"] as? String) == "F0001" || (f["id"] as? String)?.hasPrefix("F") == true)
        let flow = try #require(f["flow"] as? [String: Any])
        #expect((flow["server"] as? String)?.hasSuffix(":443") == true)
    }

    @Test func partialCaptureIsAnalysedAndReported() throws {
        let src = labCapture("http_rst_inpath")
        let data = try Data(contentsOf: URL(fileURLWithPath: src))
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("kz-partial-\(getpid()).pcap")
        try data.prefix(data.count - 30).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = try Analyzer.run(paths: [tmp.path], options: AnalysisOptions())
        let cap = try #require(out.report.captures.first)
        #expect(cap.status == "partial")
        #expect(cap.error?.contains("at byte") == true)
        #expect(cap.frames > 0)
        #expect(out.nothingReadable == false)
    }

    @Test func unreadableInputIsReportedNotFatal() throws {
        let out = try Analyzer.run(paths: ["/etc/hostname", labCapture("baseline")], options: AnalysisOptions())
        #expect(out.report.captures[0].status == "unreadable")
        #expect(out.report.captures[1].status == "complete")
        #expect(out.nothingReadable == false)
        let none = try Analyzer.run(paths: ["/nonexistent.pcap"], options: AnalysisOptions())
        #expect(none.nothingReadable)
    }
}

@Suite struct RegressionModeTests {
    /// A broken expectation must make `check` fail: copy a lab case, then edit its truth.
    func withEditedTruth(_ scenario: String, _ edit: (inout [String: Any]) -> Void) throws -> [Regression.CaseResult] {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("kz-check-\(scenario)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let src = URL(fileURLWithPath: "\(labDir)/\(scenario)")
        for f in try fm.contentsOfDirectory(atPath: src.path) {
            try fm.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let truthURL = dir.appendingPathComponent("truth.json")
        var truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: truthURL)) as? [String: Any])
        edit(&truth)
        try JSONSerialization.data(withJSONObject: truth).write(to: truthURL)
        return Regression.runCase(truthPath: truthURL.path, options: AnalysisOptions())
    }

    @Test func passesOnTheCommittedTruth() throws {
        let results = try withEditedTruth("tls_interception") { _ in }
        #expect(results.contains { $0.name.hasSuffix("client.pcap") && $0.passed })
    }

    @Test func failsWhenAnExpectedFindingIsMissing() throws {
        let results = try withEditedTruth("tls_interception") { t in
            var items = t["interfered"] as? [[String: Any]] ?? []
            items.append(["detector": "dns.injection", "capture": "client.pcap", "server": "10.77.9.53:53", "min_confidence": "high"])
            t["interfered"] = items
        }
        let client = try #require(results.first { $0.name.hasSuffix("client.pcap") })
        #expect(!client.passed)
        #expect(client.problems.contains { $0.contains("missing dns.injection") })
    }

    @Test func failsWhenAnInterferedFlowIsDeclaredClean() throws {
        let results = try withEditedTruth("tls_interception") { t in
            t["interfered"] = []
            t["clean"] = [["capture": "client.pcap", "proto": "tcp", "server": "10.77.9.2:443",
                           "target": ["sni": "blocked.kz.example"]]]
        }
        let client = try #require(results.first { $0.name.hasSuffix("client.pcap") })
        #expect(!client.passed)
    }

    @Test func failsOnAWrongSweepHop() throws {
        let results = try withEditedTruth("sweep_sni_onpath") { t in
            var s = t["sweep"] as? [String: Any] ?? [:]
            s["censor_hop"] = 1
            s["router"] = "10.77.0.1"
            s["on_path"] = true
            t["sweep"] = s
            t["interfered"] = []
        }
        let client = try #require(results.first { $0.name.hasSuffix("client.pcap") })
        #expect(client.problems.contains { $0.hasPrefix("sweep:") })
    }
}

@Suite struct GoldenReportTests {
    /// Copies a lab case into a fresh directory, lets `edit` change files there, and runs the case.
    func runCopy(_ scenario: String, record: Bool = false, _ edit: (URL) throws -> Void = { _ in }) throws
        -> (dir: URL, results: [Regression.CaseResult])
    {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("kz-golden-\(scenario)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = URL(fileURLWithPath: "\(labDir)/\(scenario)")
        for f in try fm.contentsOfDirectory(atPath: src.path) {
            try fm.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        try edit(dir)
        return (dir, Regression.runCase(truthPath: dir.appendingPathComponent("truth.json").path, options: AnalysisOptions(),
                                        record: record))
    }

    @Test func committedGoldenReportsMatchWhereverTheCaseIsCopied() throws {
        let (dir, results) = try runCopy("http_rst_inpath")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(results.count == 2)
        for r in results { #expect(r.golden == .matches, "\(r.name): \(r.problems)") }
    }

    @Test func anEditedGoldenReportFailsTheCaseWithADiff() throws {
        let (dir, results) = try runCopy("http_rst_inpath") { d in
            let g = d.appendingPathComponent("client.golden.json")
            let text = try String(contentsOf: g, encoding: .utf8)
            #expect(text.contains("\"tcp.rst_injection\""))
            try text.replacingOccurrences(of: "\"tcp.rst_injection\"", with: "\"tcp.fin_injection\"")
                .write(to: g, atomically: true, encoding: .utf8)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = try #require(results.first { $0.name.hasSuffix("client.pcap") })
        #expect(!client.passed)
        guard case .differs(let diff) = client.golden else { Issue.record("golden not compared: \(client.golden)"); return }
        #expect(diff.contains("-") && diff.contains("\"tcp.fin_injection\""))
        #expect(diff.contains("+") && diff.contains("\"tcp.rst_injection\""))
        #expect(client.problems.contains { $0.contains("client.golden.json") })
        // The server side's golden report was not touched.
        #expect(results.first { $0.name.hasSuffix("server.pcap") }?.golden == .matches)
    }

    @Test func recordRewritesAndShowsTheChangeThenMatches() throws {
        let (dir, results) = try runCopy("http_rst_inpath", record: true) { d in
            let g = d.appendingPathComponent("client.golden.json")
            let text = try String(contentsOf: g, encoding: .utf8)
            try text.replacingOccurrences(of: "\"tcp.rst_injection\"", with: "\"tcp.fin_injection\"")
                .write(to: g, atomically: true, encoding: .utf8)
            try FileManager.default.removeItem(at: d.appendingPathComponent("server.golden.json"))
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = try #require(results.first { $0.name.hasSuffix("client.pcap") })
        guard case .rerecorded(let diff) = client.golden else { Issue.record("not re-recorded: \(client.golden)"); return }
        #expect(diff.contains("\"tcp.fin_injection\""))
        #expect(results.first { $0.name.hasSuffix("server.pcap") }?.golden == .created)
        let again = Regression.runCase(truthPath: dir.appendingPathComponent("truth.json").path, options: AnalysisOptions())
        for r in again { #expect(r.golden == .matches, "\(r.name)") }
    }

    @Test func lineDiffShowsOnlyTheChangedLinesWithContext() {
        let old = (1...40).map { "line \($0)" }.joined(separator: "\n")
        let new = old.replacingOccurrences(of: "line 20", with: "line twenty")
        let d = Regression.lineDiff(old: old, new: new)
        #expect(d.contains("-line 20") && d.contains("+line twenty"))
        #expect(d.contains(" line 19") && d.contains(" line 21"))
        #expect(!d.contains("line 5\n"))
        #expect(Regression.lineDiff(old: "a\nb", new: "a\nb\nc").contains("+c"))
    }
}

@Suite struct ExtractTests {
    @Test func extractWritesEvidenceFramesThatLibpcapReads() throws {
        let out = try Analyzer.run(paths: [labCapture("tls_interception")], options: AnalysisOptions())
        let f = try #require(out.findings.first)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kz-extract-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let written = try Extractor.extract(findings: out.findings, directory: dir)
        let w = try #require(written.first { $0.id == f.id })
        #expect(w.frames >= f.finding.frames.count)
        // Read it back with libpcap: every evidence frame's bytes are there.
        let reader = try CaptureReader(path: w.path, engine: .libpcap)
        var n = 0
        reader.forEachFrame { _ in n += 1 }
        #expect(n == w.frames)
    }
}

@Suite struct KnownFailuresTests {
    @Test func knownFailuresAreReadWithReasons() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("kz-known-\(getpid())")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        try "# case\treason\nthrottling/client.pcap\tthroughput ratio below threshold\nbad line\n"
            .write(to: dir.appendingPathComponent("KNOWN_FAILURES.tsv"), atomically: true, encoding: .utf8)
        let known = Regression.knownFailures(under: [dir.path])
        #expect(known == ["throttling/client.pcap": "throughput ratio below threshold"])
    }
}
