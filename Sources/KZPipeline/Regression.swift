import Foundation
import KZDetect
import KZReport

/// Ground truth written by the lab beside each capture (`truth.json`, schema `kzforensics.truth/1`).
public struct Truth: Decodable, Sendable {
    public struct CaptureRef: Decodable, Sendable { public var file: String; public var vantage: String? }
    public struct Target: Decodable, Sendable, Hashable {
        public var host: String?
        public var sni: String?
        public var qname: String?
        public var ip: String?
    }
    public struct Censor: Decodable, Sendable {
        public var hop: Int?
        public var router: String?
        public var style: String?
        public var inject_ttl: Int?
        public var first_trigger_ttl: Int?
    }
    public struct Interfered: Decodable, Sendable {
        public var detector: String
        public var capture: String
        public var proto: String?
        public var server: String?
        public var target: Target?
        public var injected_frames: [Int]?
        public var min_confidence: String?
    }
    public struct Clean: Decodable, Sendable {
        public var capture: String
        public var proto: String?
        public var server: String?
        public var target: Target?
    }
    public struct Sweep: Decodable, Sendable {
        public var blocked_target: String?
        public var control_target: String?
        public var first_trigger_ttl: Int?
        public var censor_hop: Int?
        public var router: String?
        public var on_path: Bool?
        public var verdict: String?
    }
    public var schema: String
    public var scenario: String
    public var description: String?
    public var captures: [CaptureRef]
    public var censor: Censor?
    public var interfered: [Interfered]
    public var clean: [Clean]
    public var sweep: Sweep?
}

/// `kzforensics check DIR…`: analyses every capture that has a `truth.json` beside it and compares the report with the
/// truth: every interfered flow found by its detector at the required confidence, no finding above `low` on a clean
/// flow, and for sweeps the censor hop and router. One line per case, then `N passed, N failed`.
public enum Regression {
    public struct CaseResult: Sendable {
        public var name: String
        public var passed: Bool
        public var problems: [String]
        public var summary: String
        /// What happened to the golden report beside the capture (`<capture>.golden.json`).
        public var golden: GoldenStatus = .absent
    }

    /// The golden report of a capture: its full JSON report as last recorded, compared byte for byte (after the
    /// capture's directory is removed from paths, so a clone anywhere compares equal). Re-recorded only with
    /// `check --record`, which shows the diff of every change.
    public enum GoldenStatus: Sendable, Equatable {
        /// No golden file and not recording.
        case absent
        case matches
        /// The report differs from the golden file: a unified diff, golden (`-`) to current (`+`).
        case differs(diff: String)
        /// `--record` wrote a new golden file (none existed).
        case created
        /// `--record` rewrote the golden file; the diff shows what changed.
        case rerecorded(diff: String)
        case unchanged
    }

    /// `client.pcap` → `client.golden.json` (in the same directory).
    public static func goldenPath(forCapture path: String) -> String {
        let base = (path as NSString).deletingPathExtension
        return base + ".golden.json"
    }

    /// The deterministic JSON report with the capture directory stripped from every path in it, ending in a newline.
    public static func goldenText(_ report: Report, captureDir: String) throws -> String {
        var text = try ReportJSON.encode(report)
        let prefix = captureDir.hasSuffix("/") ? captureDir : captureDir + "/"
        text = text.replacingOccurrences(of: prefix, with: "")
        return text + "\n"
    }

    /// A line diff (longest common subsequence; hunks with `context` lines around each change), `-` for `old` lines
    /// and `+` for `new` ones, capped at `maxLines` output lines.
    public static func lineDiff(old: String, new: String, context: Int = 2, maxLines: Int = 80) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false)
        // Trim the common head and tail so the LCS table stays small for reports that differ in a few lines.
        var head = 0
        while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let x = Array(a[head..<(a.count - tail)]), y = Array(b[head..<(b.count - tail)])
        var ops: [(Character, Substring)] = []
        if x.count * y.count <= 4_000_000 {
            var lcs = [[Int32]](repeating: [Int32](repeating: 0, count: y.count + 1), count: x.count + 1)
            for i in stride(from: x.count - 1, through: 0, by: -1) {
                for j in stride(from: y.count - 1, through: 0, by: -1) {
                    lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
                }
            }
            var i = 0, j = 0
            while i < x.count || j < y.count {
                if i < x.count, j < y.count, x[i] == y[j] { ops.append((" ", x[i])); i += 1; j += 1 }
                else if i < x.count, j == y.count || lcs[i + 1][j] >= lcs[i][j + 1] { ops.append(("-", x[i])); i += 1 }
                else { ops.append(("+", y[j])); j += 1 }
            }
        } else {
            ops = x.map { ("-", $0) } + y.map { ("+", $0) }
        }
        let all: [(Character, Substring)] = a[max(0, head - context)..<head].map { (" ", $0) } + ops
            + a[(a.count - tail)..<min(a.count, a.count - tail + context)].map { (" ", $0) }
        let firstLine = max(0, head - context) + 1
        var keep = [Bool](repeating: false, count: all.count)
        for (k, op) in all.enumerated() where op.0 != " " {
            for m in max(0, k - context)...min(all.count - 1, k + context) { keep[m] = true }
        }
        var out: [String] = ["@@ golden line \(firstLine) @@"]
        var skipped = false
        for (k, op) in all.enumerated() {
            if keep[k] { out.append("\(op.0)\(op.1)"); skipped = false }
            else if !skipped { out.append("…"); skipped = true }
            if out.count >= maxLines { out.append("… (diff cut at \(maxLines) lines)"); break }
        }
        return out.joined(separator: "\n")
    }

    /// Known failures: `KNOWN_FAILURES.tsv` files (case name, tab, reason) found under the walked directories. A listed
    /// case that fails is reported as `XFAIL` with its reason and does not fail the run; a listed case that passes is
    /// reported as `XPASS` so the entry gets removed. Every entry is a documented gap, not a silenced test.
    public static func knownFailures(under dirs: [String]) -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for d in dirs {
            guard let e = fm.enumerator(atPath: d) else { continue }
            for case let rel as String in e where rel.hasSuffix("KNOWN_FAILURES.tsv") {
                guard let text = try? String(contentsOfFile: d + "/" + rel, encoding: .utf8) else { continue }
                for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                    let cols = line.split(separator: "\t", maxSplits: 1).map(String.init)
                    if cols.count == 2 { out[cols[0]] = cols[1] }
                }
            }
        }
        return out
    }

    public static func truthFiles(under dirs: [String]) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for d in dirs {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: d, isDirectory: &isDir), !isDir.boolValue {
                if d.hasSuffix("truth.json") { out.append(d) }
                continue
            }
            guard let e = fm.enumerator(atPath: d) else { continue }
            for case let rel as String in e where rel.hasSuffix("truth.json") { out.append(d + "/" + rel) }
        }
        return out.sorted()
    }

    public static func runCase(truthPath: String, options: AnalysisOptions, record: Bool = false) -> [CaseResult] {
        let dir = (truthPath as NSString).deletingLastPathComponent
        guard let data = FileManager.default.contents(atPath: truthPath) else {
            return [CaseResult(name: truthPath, passed: false, problems: ["cannot read"], summary: "")]
        }
        let truth: Truth
        do { truth = try JSONDecoder().decode(Truth.self, from: data) } catch {
            return [CaseResult(name: truthPath, passed: false, problems: ["invalid truth file: \(error)"], summary: "")]
        }
        var results: [CaseResult] = []
        for cap in truth.captures {
            let path = dir + "/" + cap.file
            let name = "\(truth.scenario)/\(cap.file)"
            let outcome: AnalysisOutcome
            do { outcome = try Analyzer.run(paths: [path], options: options) } catch {
                results.append(CaseResult(name: name, passed: false, problems: ["\(error)"], summary: ""))
                continue
            }
            var r = judge(truth: truth, captureFile: cap.file, capturePath: path, report: outcome.report, name: name)
            compareGolden(&r, report: outcome.report, capturePath: path, captureDir: dir, record: record)
            results.append(r)
        }
        return results
    }

    static func compareGolden(_ r: inout CaseResult, report: Report, capturePath: String, captureDir: String, record: Bool) {
        let gp = goldenPath(forCapture: capturePath)
        let current: String
        do { current = try goldenText(report, captureDir: captureDir) } catch {
            r.passed = false
            r.problems.append("cannot encode the report: \(error)")
            return
        }
        let existing = FileManager.default.contents(atPath: gp).map { String(decoding: $0, as: UTF8.self) }
        if record {
            if existing == current { r.golden = .unchanged; return }
            do { try current.write(toFile: gp, atomically: true, encoding: .utf8) } catch {
                r.passed = false
                r.problems.append("cannot write \(gp): \(error)")
                return
            }
            r.golden = existing.map { .rerecorded(diff: lineDiff(old: $0, new: current)) } ?? .created
            return
        }
        guard let existing else { r.golden = .absent; return }
        if existing == current { r.golden = .matches; return }
        let diff = lineDiff(old: existing, new: current)
        r.golden = .differs(diff: diff)
        r.passed = false
        r.problems.append("report differs from \((gp as NSString).lastPathComponent) (re-record with `check --record` if intended):\n" + diff)
    }

    static func rank(_ s: String?) -> Int { ["low": 0, "medium": 1, "high": 2][s ?? "low"] ?? 0 }

    static func targetMatches(_ t: Truth.Target?, _ f: TargetRef?) -> Bool {
        guard let t else { return true }
        func eq(_ a: String?, _ b: String?) -> Bool { a == nil || a?.lowercased() == b?.lowercased() }
        return eq(t.host, f?.host) && eq(t.sni, f?.sni) && eq(t.qname, f?.qname) && eq(t.ip, f?.ip)
    }

    static func judge(truth: Truth, captureFile: String, capturePath: String, report: Report, name: String) -> CaseResult {
        var problems: [String] = []
        let findings = report.findings
        for want in truth.interfered where want.capture == captureFile {
            let hit = findings.first { f in
                f.detector == want.detector && rank(f.confidence) >= rank(want.min_confidence)
                    && (want.server == nil || f.flow?.server == want.server || f.target?.ip.map { want.server!.hasPrefix($0 + ":") } == true)
            }
            if hit == nil {
                let near = findings.filter { $0.detector == want.detector }.map { "\($0.id) \($0.confidence) \($0.flow?.server ?? "-")" }
                problems.append("missing \(want.detector) ≥\(want.min_confidence ?? "low") on \(want.server ?? "?")"
                                + (near.isEmpty ? "" : " (have: \(near.joined(separator: "; ")))"))
            }
        }
        for c in truth.clean where c.capture == captureFile {
            for f in findings where rank(f.confidence) > 0 && (c.server == nil || f.flow?.server == c.server) {
                guard let t = c.target, f.target != nil, targetMatches(t, f.target) else { continue }
                problems.append("false positive \(f.id) \(f.detector) \(f.confidence) on clean \(c.server ?? "") \(t.host ?? t.sni ?? t.qname ?? "")")
            }
        }
        if truth.interfered.filter({ $0.capture == captureFile }).isEmpty {
            for f in findings where rank(f.confidence) > 0 {
                let expected = truth.interfered.contains { $0.detector == f.detector }
                if !expected { problems.append("unexpected \(f.id) \(f.detector) \(f.confidence): \(f.summary)") }
            }
        }
        if let sw = truth.sweep, let hop = sw.censor_hop, captureFile.hasPrefix("client") {
            let censors = report.paths.compactMap(\.censor)
            // The report must name the lab's censor itself (hop and router), not CenTrace's plain reading (the first
            // TTL at which the blocked probe triggers, one hop past an in-path filter on router k's FORWARD path).
            let named = censors.contains { c in c.index == hop && (sw.router == nil || c.router == sw.router) }
            if !named {
                let got = censors.map { "hop \($0.index.map(String.init) ?? "?") \($0.router ?? "*") \($0.verdict)" }
                problems.append("sweep: expected censor at hop \(hop) router \(sw.router ?? "*"), got \(got.isEmpty ? "none" : got.joined(separator: "; "))")
            }
        }
        let summary = "\(findings.count) findings" + (findings.isEmpty ? "" : " (" + Set(findings.map(\.detector)).sorted().joined(separator: ", ") + ")")
        return CaseResult(name: name, passed: problems.isEmpty, problems: problems, summary: summary)
    }
}
