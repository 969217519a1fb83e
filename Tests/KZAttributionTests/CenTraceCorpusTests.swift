import Foundation
import KZAttribution
import KZWire
import Testing

/// Every labelled CenTrace pair in the shared corpus must give its labelled verdict and middlebox.
@Suite struct CenTraceCorpusTests {
    struct Pair { var prefix: String; var test: String; var control: String; var verdict: String; var middlebox: String; var onPath: Bool }

    static func labelledPairs() -> [Pair]? {
        let labels = corpusRoot.appendingPathComponent("censorship/LABELS.DEV.tsv")
        guard let text = try? String(contentsOf: labels, encoding: .utf8) else { return nil }
        var rows: [String: (test: String?, control: String?, verdict: String, mb: String, detail: String)] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 8, f[0].hasPrefix("censorship/centrace/") else { continue }
            let name = String(f[0].dropFirst("censorship/centrace/".count))
            let parts = name.split(separator: "_")
            guard parts.count >= 3 else { continue }
            let prefix = parts[0] + "_" + parts[1]
            var r = rows[String(prefix)] ?? (nil, nil, f[5], f[6], f[7])
            if f[4] == "test" { r.test = name } else { r.control = name }
            rows[String(prefix)] = r
        }
        return rows.keys.sorted().compactMap { k in
            guard let r = rows[k], let t = r.test, let c = r.control else { return nil }
            return Pair(prefix: k, test: t, control: c, verdict: r.verdict, middlebox: r.mb,
                        onPath: r.detail.contains("on_path=True"))
        }
    }

    static func analyze(_ p: Pair) throws -> (SweepAnalysis, TTLSweep, TTLSweep) {
        let dir = corpusRoot.appendingPathComponent("censorship/centrace")
        let (tp, tb) = try loadCapture(dir.appendingPathComponent(p.test).path)
        let (cp, cb) = try loadCapture(dir.appendingPathComponent(p.control).path)
        let ts = TTLSweepBuilder.sweeps(packets: tp, bytes: tb)
        let cs = TTLSweepBuilder.sweeps(packets: cp, bytes: cb)
        guard let t = ts.max(by: { $0.probes.count < $1.probes.count }),
              let c = cs.max(by: { $0.probes.count < $1.probes.count }) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return (TTLSweepAnalyzer.compare(test: t, control: c), t, c)
    }

    @Test func everyLabelledPairMatches() throws {
        guard let pairs = Self.labelledPairs() else {
            print("CenTrace corpus not found at \(corpusRoot.path): labelled-pair check NOT run")
            return
        }
        #expect(pairs.count >= 10)
        var lines: [String] = []
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        lines.append(pad("pair", 38) + pad("expected", 30) + pad("expected mb", 17) + pad("got", 30) + pad("got mb", 17) + "hop on  censor (refined)")
        var mismatches = 0
        var checked = 0
        for p in pairs {
            let (r, _, _) = try Self.analyze(p)
            let got = r.verdict.rawValue
            let gotMB = r.middlebox?.description ?? ""
            var ok = true
            if let expected = SweepVerdict(label: p.verdict) {
                checked += 1
                ok = expected == r.verdict && (p.middlebox.isEmpty || p.middlebox == gotMB) && (!p.onPath || r.onPath)
                #expect(expected == r.verdict, "\(p.prefix): verdict")
                if !p.middlebox.isEmpty { #expect(gotMB == p.middlebox, "\(p.prefix): middlebox") }
                if p.onPath { #expect(r.onPath, "\(p.prefix): on-path") }
            }
            if !ok { mismatches += 1 }
            lines.append(pad(p.prefix, 38) + pad(p.verdict, 30) + pad(p.middlebox.isEmpty ? "-" : p.middlebox, 17)
                         + pad(got, 30) + pad(gotMB.isEmpty ? "-" : gotMB, 17)
                         + pad(r.identifiedHop.map(String.init) ?? "-", 4) + pad(r.onPath ? "on" : "-", 4)
                         + "\(r.censorHop.map(String.init) ?? "-") \(r.censorRouter?.description ?? "-")" + (ok ? "" : "   MISMATCH"))
        }
        print(lines.joined(separator: "\n"))
        print("CenTrace pairs: \(pairs.count), labelled: \(checked), mismatches: \(mismatches)")
        #expect(checked >= 10)
    }

    /// Per-sweep facts CenTrace's own tests assert (test_pcap_parse.py).
    @Test func sweepDetailsMatchCenTraceTests() throws {
        let dir = corpusRoot.appendingPathComponent("censorship/centrace")
        guard FileManager.default.fileExists(atPath: dir.path) else {
            print("CenTrace corpus not found: sweep detail checks NOT run")
            return
        }
        func sweep(_ name: String) throws -> TTLSweep? {
            let (p, b) = try loadCapture(dir.appendingPathComponent(name).path)
            return TTLSweepBuilder.sweeps(packets: p, bytes: b).max { $0.probes.count < $1.probes.count }
        }
        let nifty = try #require(try sweep("188.65.24.82_www.nifty.org_www.nifty.org.pcap"))
        #expect(nifty.probes.filter { $0.kind == .icmpTimeExceeded }.count == 14)
        let gawker = try #require(try sweep("118.215.97.75_gawker.com_gawker.com.pcap"))
        #expect(gawker.probes.filter { $0.kind == .handshakeTimeout }.count == 5)
        let ft = try #require(try sweep("116.223.148.197_www.ft.com_www.ft.com.pcap"))
        #expect(ft.recordRouteSlots.count == 9)
        #expect(nifty.requestKey == "www.nifty.org")
    }
}
