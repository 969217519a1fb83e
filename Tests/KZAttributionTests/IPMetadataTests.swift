import Foundation
import KZAttribution
import KZWire
import Testing

@Suite struct IPMetadataTests {
    static let debianV4 = IPMetadataService.debianCountryV4
    static var haveDebian: Bool { FileManager.default.fileExists(atPath: debianV4) }
    static let asnDat = fixturesRoot.appendingPathComponent("GeoIPASNum-test.dat").path
    static let asnTSV = fixturesRoot.appendingPathComponent("ip2asn-test.tsv").path

    @Test func debianCountryDatabases() throws {
        guard Self.haveDebian else { print("Debian GeoIP.dat missing: country lookups NOT checked"); return }
        let s = IPMetadataService(asnDB: Self.asnDat)
        #expect(s.warnings.isEmpty, "\(s.warnings)")
        #expect(s.lookup(IPAddress("95.56.0.1")!).country == "KZ")
        #expect(s.lookup(IPAddress("2.132.0.1")!).country == "KZ")
        #expect(s.lookup(IPAddress("8.8.8.8")!).country == "US")
        #expect(s.lookup(IPAddress("2a03:32c0::1")!).country == "KZ")
        #expect(s.lookup(IPAddress("2001:4860:4860::8888")!).country == "US")
        let db = try GeoIPDatabase(path: Self.debianV4)
        #expect(db.isCountry && !db.isV6)
        #expect(db.countryCode(IPAddress("2a03:32c0::1")!) == nil)   // wrong family → unknown, not a crash
    }

    @Test func legacyASNDatabase() throws {
        let db = try GeoIPDatabase(path: Self.asnDat)
        #expect(db.isASN)
        #expect(db.info.contains("kzforensics test fixture"))
        let s = IPMetadataService(geoip: [], asnDB: Self.asnDat, operators: [9198: "Kazakhtelecom (Megaline)"])
        let kz = s.lookup(IPAddress("95.56.0.1")!)
        #expect(kz.asn == 9198)
        #expect(kz.asName == "KAZTELECOM-AS JSC Kazakhtelecom, KZ")
        #expect(kz.operatorName == "Kazakhtelecom (Megaline)")
        #expect(s.lookup(IPAddress("8.8.8.8")!).asn == 15169)
        #expect(s.lookup(IPAddress("77.88.8.8")!).asn == 13238)
        #expect(s.lookup(IPAddress("203.0.113.9")!).asn == nil)            // documentation range: bogon, no lookup
        #expect(s.lookup(IPAddress("2a03:32c0::1")!).asn == nil)           // IPv4-only database
        #expect(GeoIPDatabase.parseASNString("AS9198 JSC Kazakhtelecom")?.asn == 9198)
        #expect(GeoIPDatabase.parseASNString("AS15169")?.name == nil)
        #expect(GeoIPDatabase.parseASNString("Kazakhtelecom") == nil)
    }

    @Test func ip2asnTableMostSpecificAndV6() throws {
        let t = try ASNTable(path: Self.asnTSV)
        #expect(t.count == 13)
        #expect(t.lookup(IPAddress("95.57.1.1")!)?.asn == 9198)
        #expect(t.lookup(IPAddress("95.57.1.1")!)?.country == "KZ")
        #expect(t.lookup(IPAddress("95.56.7.20")!)?.asn == 64512)         // nested row wins
        #expect(t.lookup(IPAddress("95.56.8.1")!)?.asn == 9198)
        #expect(t.lookup(IPAddress("192.0.2.1")!) == nil)                  // AS 0 "Not routed"
        #expect(t.lookup(IPAddress("2a00:12f8::1")!)?.asn == 9198)
        #expect(t.lookup(IPAddress("2a00:12f9::1")!) == nil)
        #expect(t.lookup(IPAddress("10.0.0.1")!) == nil)
        #expect(t.lookup(IPAddress("0.0.0.0")!) == nil)
        #expect(t.lookup(IPAddress("255.255.255.255")!) == nil)
    }

    @Test func ip2asnTableRejectsBadLines() {
        #expect(throws: IPMetadataError.badTable("t", line: 2)) {
            try ASNTable(text: "1.0.0.0\t1.0.0.255\t15169\tUS\tX\nnot a row\n", source: "t")
        }
        #expect(throws: IPMetadataError.badTable("t", line: 1)) {
            try ASNTable(text: "1.0.0.9\t1.0.0.1\t15169\tUS\tX\n", source: "t")   // reversed range
        }
        #expect(throws: IPMetadataError.badTable("t", line: 1)) {
            try ASNTable(text: "1.0.0.0\t::1\t15169\tUS\tX\n", source: "t")       // mixed families
        }
        let empty = try? ASNTable(text: "# comment only\n\n")
        #expect(empty?.count == 0)
    }

    @Test func countryAndASNLookupTypes() {
        if Self.haveDebian {
            let g = GeoIPCountry()
            #expect(g.warnings.isEmpty && g.databases.count == 2)
            #expect(g.country(for: IPAddress("95.56.0.1")!) == "KZ")
            #expect(g.country(for: IPAddress("2a02:6b8::2:242")!) == "RU")
            #expect(g.country(for: IPAddress("10.0.0.1")!) == nil)
        }
        let both = ASNLookup(asnDB: Self.asnDat, asnTable: Self.asnTSV)
        #expect(both.warnings.isEmpty)
        #expect(both.lookup(IPAddress("95.56.7.20")!)?.asn == 64512)      // the table answers first
        #expect(both.lookup(IPAddress("77.88.8.8")!)?.asn == 13238)       // only the .dat knows Yandex here
        #expect(both.lookup(IPAddress("2a00:12f8::1")!)?.asn == 9198)
        #expect(ASNLookup().lookup(IPAddress("95.56.0.1")!) == nil)
        #expect(ASNLookup().warnings.count == 1)
    }

    @Test func bogonsAndPrivateRanges() {
        let b = BogonTable.standard
        #expect(b.match(IPAddress("10.1.2.3")!)?.label == "private")
        #expect(b.match(IPAddress("192.168.1.1")!)?.label == "private")
        #expect(b.match(IPAddress("100.64.0.1")!)?.label == "private")
        #expect(b.match(IPAddress("198.51.100.7")!)?.label == "bogon")
        #expect(b.match(IPAddress("240.0.0.1")!)?.label == "bogon")
        #expect(b.match(IPAddress("fd00::1")!)?.label == "private")
        #expect(b.match(IPAddress("2001:db8::1")!)?.label == "bogon")
        #expect(b.match(IPAddress("::1")!)?.label == "private")
        #expect(b.match(IPAddress("95.56.0.1")!) == nil)
        #expect(b.match(IPAddress("2a03:32c0::1")!) == nil)
        let custom = BogonTable(entries: [.init(range: AddressRange(cidr: "95.56.0.0/16")!, label: "bogon", note: "test")])
        let s = IPMetadataService(geoip: [], asnTable: Self.asnTSV, bogons: custom)
        #expect(s.lookup(IPAddress("95.56.0.1")!).rangeLabel == "bogon")
        #expect(s.lookup(IPAddress("95.56.0.1")!).asn == nil)
        #expect(s.lookup(IPAddress("95.57.0.1")!).asn == 9198)
        #expect(AddressRange(cidr: "10.0.0.0/33") == nil)
        #expect(AddressRange(cidr: "fe80::/10")?.contains(IPAddress("febf::1")!) == true)
        #expect(AddressRange(cidr: "fe80::/10")?.contains(IPAddress("fec0::1")!) == false)
    }

    @Test func missingDatabasesDegradeWithOneWarningEach() {
        let s = IPMetadataService(geoip: ["/nonexistent/GeoIP.dat"], asnDB: "/nonexistent/asn.dat",
                                  asnTable: "/nonexistent/t.tsv")
        #expect(s.warnings.count == 3)
        #expect(s.warnings.allSatisfy { $0.contains("/nonexistent/") && $0.contains("unknown") })
        let m = s.lookup(IPAddress("95.56.0.1")!)
        #expect(m.country == nil && m.asn == nil && m.asName == nil)
        let none = IPMetadataService(geoip: [])
        #expect(none.warnings.count == 1)
        #expect(none.warnings.first?.contains("--asn-db") == true)
        // A country file passed as the ASN database is refused with a warning, not used.
        if Self.haveDebian {
            let wrong = IPMetadataService(geoip: [], asnDB: Self.debianV4)
            #expect(wrong.asnDatabases.isEmpty)
            #expect(wrong.warnings.count == 1)
        }
        // A file that is not a GeoIP database at all.
        let notDB = IPMetadataService(geoip: [Self.asnTSV])
        #expect(notDB.countryDatabases.isEmpty)
        #expect(notDB.warnings.count == 2)
    }

    @Test func metadataEncodesSnakeCase() throws {
        let m = IPMetadata(address: "95.56.0.1", country: "KZ", asn: 9198, asName: "JSC Kazakhtelecom")
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let s = String(decoding: try enc.encode(m), as: UTF8.self)
        #expect(s.contains("\"as_name\":\"JSC Kazakhtelecom\""))
    }
}
