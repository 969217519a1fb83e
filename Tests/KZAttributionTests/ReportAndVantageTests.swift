import Foundation
import KZAttribution
import KZWire
import Testing

@Suite struct ReportAndVantageTests {
    func json(_ v: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(v), as: UTF8.self)
    }

    @Test func hopAndPathJSONUseReportFieldNamesAndNulls() throws {
        let hop = HopAttribution(index: 3, router: nil, asn: 9198, asName: "JSC Kazakhtelecom", country: "KZ",
                                 method: .ttlDistance, confidence: "low", note: nil)
        #expect(try json(hop) == #"{"as_name":"JSC Kazakhtelecom","asn":9198,"confidence":"low","country":"KZ","index":3,"method":"ttl-distance","note":null,"router":null}"#)
        let path = PathReport(server: "95.56.0.1", capture: "a.pcap",
                              hops: [PathHop(index: 2, router: "10.1.1.1", asn: nil, country: "private"),
                                     PathHop(index: 1, router: "192.168.1.1")],
                              censor: PathCensor(index: 2, router: "10.1.1.1", onPath: false, method: .ttlSweep,
                                                 verdict: SweepVerdict.canIdentifyServer.rawValue))
        let s = try json(path)
        #expect(s.contains(#""on_path":false"#) && s.contains(#""verdict":"CAN_IDENTIFY_SERVER""#))
        #expect(s.contains(#"{"asn":null,"country":null,"index":1,"router":"192.168.1.1"}"#))   // sorted, nulls kept
        #expect(try json(PathReport(server: "x", capture: "y", hops: [])) == #"{"capture":"y","censor":null,"hops":[],"server":"x"}"#)
        // Round trip.
        let back = try JSONDecoder().decode(PathReport.self, from: Data(s.utf8))
        #expect(back == path)
        let hb = try JSONDecoder().decode(HopAttribution.self, from: Data(try json(hop).utf8))
        #expect(hb == hop)
    }

    @Test func pathLineMarksTheCensorAndSilentGaps() {
        let p = PathReport(server: "95.56.0.1", capture: "a.pcap",
                           hops: [PathHop(index: 1, router: "192.168.1.1", country: "private"),
                                  PathHop(index: 4, router: "95.59.170.1", asn: 9198, country: "KZ")],
                           censor: PathCensor(index: 5, router: "95.59.170.9", onPath: true, method: .ttlSweep,
                                              verdict: "CAN_IDENTIFY_SERVER"))
        #expect(renderPathLine(p) == "capture > 1 192.168.1.1 [private] > (2 hops silent) > 4 95.59.170.1 [AS9198 KZ] > [X 5 95.59.170.9: CAN_IDENTIFY_SERVER, on-path] > server 95.56.0.1")
    }

    @Test func centracePathReportForNifty() throws {
        let dir = corpusRoot.appendingPathComponent("censorship/centrace")
        guard FileManager.default.fileExists(atPath: dir.path) else { print("corpus missing: nifty path NOT checked"); return }
        let (tp, tb) = try loadCapture(dir.appendingPathComponent("188.65.24.82_www.nifty.org_www.nifty.org.pcap").path)
        let (cp, cb) = try loadCapture(dir.appendingPathComponent("188.65.24.82_www.nifty.org_example.com.pcap").path)
        let t = try #require(TTLSweepBuilder.sweeps(packets: tp, bytes: tb).first)
        let c = try #require(TTLSweepBuilder.sweeps(packets: cp, bytes: cb).first)
        let a = TTLSweepAnalyzer.compare(test: t, control: c)
        let meta = IPMetadataService(asnDB: fixturesRoot.appendingPathComponent("GeoIPASNum-test.dat").path)
        let path = PathReport(sweep: a, capture: "nifty.pcap", metadata: meta)
        let line = renderPathLine(path)
        print(line)
        #expect(path.censor?.router == "134.0.217.233" && path.censor?.index == a.censorHop)
        #expect(line.contains("[X \(a.censorHop ?? -1) 134.0.217.233"))
        #expect(path.hops.first?.router == "141.212.121.1")
        let hop = try #require(HopAttribution(sweep: a, metadata: meta))
        #expect(hop.confidence == "high")
        #expect(hop.country == (IPMetadataTests.haveDebian ? "OM" : nil))   // GeoLite 2019: 134.0.217.233 is in Oman
    }

    @Test func vantageTableMergesAndMarksDifferences() {
        let site = VantageTarget(kind: "host", value: "blocked.kz.example")
        let other = VantageTarget(kind: "sni", value: "ok.example")
        let obs = [
            VantageObservation(vantage: "kazakhtelecom", target: site,
                               outcome: .blocked(how: "tls.sni_blocking", hop: 7, router: "95.59.170.1", asn: 9198, frames: [12])),
            VantageObservation(vantage: "kazakhtelecom", target: site, outcome: .reachable),
            VantageObservation(vantage: "kazakhtelecom", target: site, outcome: .blocked(how: "tcp.rst_injection", frames: [3])),
            VantageObservation(vantage: "nursat", target: site, outcome: .reachable),
            VantageObservation(vantage: "nursat", target: other, outcome: .reachable),
            VantageObservation(vantage: "kazakhtelecom", target: other, outcome: .reachable),
        ]
        let cmp = VantageComparison(vantages: ["kazakhtelecom", "nursat", "beeline"], observations: obs)
        #expect(cmp.rows.map(\.target) == [site, other])
        let row = cmp.rows[0]
        #expect(row.differs)
        let kt = row.outcomes["kazakhtelecom"]
        #expect(kt?.status == .blocked && kt?.how == ["tcp.rst_injection", "tls.sni_blocking"] && kt?.hop == 7)
        #expect(kt?.frames == [3, 12])
        #expect(!cmp.rows[1].differs)
        let text = cmp.renderText()
        print(text)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("  target") && lines[0].contains("kazakhtelecom") && lines[0].hasSuffix("beeline"))
        #expect(lines[2].hasPrefix("* host blocked.kz.example"))
        #expect(lines[2].contains("blocked: tcp.rst_injection+tls.sni_blocking at hop 7 95.59.170.1 AS9198"))
        #expect(lines[2].contains("| reachable") && lines[2].hasSuffix("| -"))
        #expect(VantageComparison(vantages: [], observations: []).rows.isEmpty)
    }
}
