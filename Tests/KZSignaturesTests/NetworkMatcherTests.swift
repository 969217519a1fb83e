import Foundation
import Testing
@testable import KZSignatures

@Suite struct HostAndDNSMatcherTests {
    static let hosts = """
    id,rev,host,match,scope,country,source,notes
    t.exact,1,Block.Example.KZ.,exact,isp,KZ,test,
    t.suffix,2,warning.example,suffix,nat,,test,
    t.ip4,1,62.28.164.59,exact,isp,,test,
    t.ip6,1,2001:DB8:0:0::5,exact,isp,,test,
    """
    static let dns = """
    \(ooniHeader)
    t.a,nat,,dns,full,8.7.198.45,5,CN,test,,,1
    t.aaaa,nat,,dns,full,2001:db8::0:1,5,CN,test,,,1
    t.cname,isp,,dns,full,Restricted.Tri.co.id.,5,ID,test,,,4
    t.suffixish,isp,,dns,regexp,\\.blocked\\.example$,5,,test,,,1
    """

    static func makeDB() throws -> (SignatureDatabase, TempSignatures) {
        let dir = try TempSignatures(["http/block-hosts.csv": hosts, "dns/poisoned-answers.csv": dns])
        return (try SignatureDatabase.load(directories: [dir.url]), dir)
    }

    @Test func exactHostIsCaseAndTrailingDotInsensitive() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(db.matchBlockHost("block.example.kz")?.citation == "t.exact@1")
        #expect(db.matchBlockHost("BLOCK.example.kz.")?.id == "t.exact")
        #expect(db.matchBlockHost("sub.block.example.kz") == nil)
        #expect(db.matchBlockHost("block.example.kz.evil") == nil)
    }

    @Test func suffixHostMatchesWholeLabelsOnly() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(db.matchBlockHost("warning.example")?.id == "t.suffix")
        #expect(db.matchBlockHost("www.warning.example")?.citation == "t.suffix@2")
        #expect(db.matchBlockHost("notwarning.example") == nil)
        #expect(db.matchBlockHost("") == nil)
    }

    @Test func ipHostsCompareByValue() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(db.matchBlockHost("62.28.164.59")?.id == "t.ip4")
        #expect(db.matchBlockHost("62.28.164.5") == nil)
        #expect(db.matchBlockHost("[2001:db8::5]")?.id == "t.ip6")
        #expect(db.matchBlockHost("2001:0db8:0000:0000:0000:0000:0000:0005")?.id == "t.ip6")
        #expect(db.matchBlockHost("2001:db8::6") == nil)
    }

    @Test func hostFromURL() {
        #expect(SignatureDatabase.host(fromURL: "http://62.28.164.59:8183/redirect.cgi?u=x") == "62.28.164.59")
        #expect(SignatureDatabase.host(fromURL: "https://user:pw@Block.RT.ru./x#y") == "block.rt.ru")
        #expect(SignatureDatabase.host(fromURL: "http://[2001:DB8::1]:80/") == "2001:db8::1")
        #expect(SignatureDatabase.host(fromURL: "//warning.or.kr/") == "warning.or.kr")
        #expect(SignatureDatabase.host(fromURL: "http://qca.kz") == "qca.kz")
        #expect(SignatureDatabase.host(fromURL: "/relative/path") == nil)
        #expect(SignatureDatabase.host(fromURL: "http:///nohost") == nil)
        #expect(SignatureDatabase.host(fromURL: "http://[::1/") == nil)
        #expect(SignatureDatabase.host(fromURL: "ht tp://x/") == nil)
    }

    @Test func dnsAddressesCompareByValue() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(db.matchPoisonedDNS(address: "8.7.198.45")?.citation == "t.a@1")
        #expect(db.matchPoisonedDNS(address: "8.7.198.4") == nil)
        #expect(db.matchPoisonedDNS(address: "08.7.198.45") == nil)
        #expect(db.matchPoisonedDNS(address: "2001:DB8:0:0:0:0:0:1")?.id == "t.aaaa")
        #expect(db.matchPoisonedDNS(address: "2001:db8::2") == nil)
        // An IPv4-mapped IPv6 address is a different value from the IPv4 address.
        #expect(db.matchPoisonedDNS(address: "::ffff:8.7.198.45") == nil)
    }

    @Test func dnsNamesAndRegexp() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchPoisonedDNS(address: "restricted.tri.co.id.")
        #expect(m?.citation == "t.cname@4")
        #expect(m?.kind == .poisonedDNS && m?.location == "dns" && m?.countries == ["ID"])
        #expect(db.matchPoisonedDNS(address: "x.restricted.tri.co.id") == nil)
        #expect(db.matchPoisonedDNS(address: "www.Blocked.Example")?.id == "t.suffixish")
        #expect(db.matchPoisonedDNS(address: "blocked.example.com") == nil)
    }

    @Test func shippedDNSAndHostRows() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        #expect(db.matchPoisonedDNS(address: "10.10.34.34")?.id == "ooni.ir_4")
        #expect(db.matchPoisonedDNS(address: "93.184.215.14") == nil)
        #expect(db.matchBlockHost("www.qca.kz")?.id == "kz.host_1")
        #expect(db.matchBlockHost("kazakhtelecom.kz") == nil)
    }
}

@Suite struct InterceptionCAMatcherTests {
    static let cas = """
    id,rev,match_on,pattern,product,scope,country,source,notes
    t.cn,1,issuer_cn,Qaznet Trust Network,root,nat,KZ,test,
    t.dn,2,issuer_dn_contains,C=KZ;CN=Security Certificate,intermediate,nat,KZ,test,
    t.sha256,1,cert_sha256,00309C736DD661DA6F1EB24173AA849944C168A43A15BFFD192EECFDB6F8DBD2,root,nat,KZ,test,
    t.sha1,1,cert_sha1,c0e15a945595372030f0d45938ebb6081bb39fb5,intermediate,nat,KZ,test,
    t.spki,1,spki_sha256,\(String(repeating: "ab", count: 32)),key,nat,KZ,test,
    """

    static func makeDB() throws -> (SignatureDatabase, TempSignatures) {
        let dir = try TempSignatures(["tls/interception-cas.csv": cas])
        return (try SignatureDatabase.load(directories: [dir.url]), dir)
    }

    func ids(_ m: [SignatureMatch]) -> [String] { m.map(\.id) }

    @Test func issuerCNExactCaseInsensitive() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(ids(db.matchInterceptionCA(issuerDN: "C=KZ, CN=Qaznet Trust Network", issuerCN: nil, certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)) == ["t.cn"])
        #expect(ids(db.matchInterceptionCA(issuerDN: "", issuerCN: " qaznet trust network ", certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)) == ["t.cn"])
        #expect(ids(db.matchInterceptionCA(issuerDN: "CN=Qaznet Trust Network Backup", issuerCN: nil, certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)).isEmpty)
    }

    @Test func issuerDNAssertionsInAnyPrintedForm() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        for dn in ["CN=Security Certificate,C=KZ", "C = KZ, CN = Security Certificate", "/C=KZ/CN=Security Certificate",
                   "countryName=kz, commonName=security certificate", "2.5.4.6=KZ+2.5.4.3=\"Security Certificate\""] {
            let m = db.matchInterceptionCA(issuerDN: dn, issuerCN: nil, certSHA256: nil, certSHA1: nil, spkiSHA256: nil)
            #expect(ids(m) == ["t.dn"], "\(dn)")
            #expect(m.first?.location == "issuer_dn")
            #expect(m.first?.citation == "t.dn@2")
        }
        // Both attributes are required; a CN alone (another country) does not match.
        #expect(ids(db.matchInterceptionCA(issuerDN: "C=US, CN=Security Certificate", issuerCN: nil, certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)).isEmpty)
        #expect(ids(db.matchInterceptionCA(issuerDN: "C=KZ, O=Security Certificate", issuerCN: nil, certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)).isEmpty)
        // An escaped comma stays inside the value.
        #expect(ids(db.matchInterceptionCA(issuerDN: "CN=Security Certificate\\, Inc,C=KZ", issuerCN: nil, certSHA256: nil,
                                           certSHA1: nil, spkiSHA256: nil)).isEmpty)
    }

    @Test func fingerprintsInAnyHexSpelling() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let colon = "00:30:9c:73:6d:d6:61:da:6f:1e:b2:41:73:aa:84:99:44:c1:68:a4:3a:15:bf:fd:19:2e:ec:fd:b6:f8:db:d2"
        var m = db.matchInterceptionCA(issuerDN: "CN=Other", issuerCN: nil, certSHA256: colon, certSHA1: nil, spkiSHA256: nil)
        #expect(ids(m) == ["t.sha256"])
        #expect(m.first?.location == "cert_sha256")
        m = db.matchInterceptionCA(issuerDN: "CN=Other", issuerCN: nil, certSHA256: nil,
                                   certSHA1: "C0E15A945595372030F0D45938EBB6081BB39FB5", spkiSHA256: nil)
        #expect(ids(m) == ["t.sha1"])
        m = db.matchInterceptionCA(issuerDN: "CN=Other", issuerCN: nil, certSHA256: nil, certSHA1: nil,
                                   spkiSHA256: String(repeating: "AB", count: 32))
        #expect(ids(m) == ["t.spki"])
        // A SHA-1 value passed as SHA-256 (or garbage) matches nothing.
        m = db.matchInterceptionCA(issuerDN: "CN=Other", issuerCN: nil, certSHA256: "c0e15a945595372030f0d45938ebb6081bb39fb5",
                                   certSHA1: "not hex", spkiSHA256: "")
        #expect(m.isEmpty)
    }

    @Test func severalRowsCanMatchOneCertificate() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchInterceptionCA(issuerDN: "C=KZ, CN=Qaznet Trust Network", issuerCN: nil,
                                       certSHA256: "00309c736dd661da6f1eb24173aa849944c168a43a15bffd192eecfdb6f8dbd2",
                                       certSHA1: nil, spkiSHA256: nil)
        #expect(ids(m) == ["t.cn", "t.sha256"])
    }

    @Test func shippedRowsForTheKazakhCAs() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let qaznet = db.matchInterceptionCA(issuerDN: "C=KZ, CN=Qaznet Trust Network", issuerCN: nil, certSHA256: nil,
                                            certSHA1: nil, spkiSHA256: nil)
        #expect(ids(qaznet) == ["kz.lab_qaznet", "kz.tls_1"])
        let isca = db.matchInterceptionCA(issuerDN: "C=KZ,O=ISCA,CN=Information Security Certification Authority",
                                          issuerCN: nil, certSHA256: nil, certSHA1: nil, spkiSHA256: nil)
        #expect(ids(isca) == ["kz.tls_3"])
        let forged2019 = db.matchInterceptionCA(issuerDN: "CN=Security Certificate, C=KZ", issuerCN: nil,
                                                certSHA256: nil, certSHA1: nil, spkiSHA256: nil)
        #expect(ids(forged2019) == ["kz.tls_2"])
        let letsEncrypt = db.matchInterceptionCA(issuerDN: "C=US, O=Let's Encrypt, CN=R11", issuerCN: nil,
                                                 certSHA256: String(repeating: "0", count: 64), certSHA1: nil, spkiSHA256: nil)
        #expect(letsEncrypt.isEmpty)
    }
}

@Suite struct AddressTableTests {
    @Test func bogonsUseTheLongestPrefix() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        #expect(db.bogonLabel(for: "10.1.2.3") == "private")
        #expect(db.bogonLabel(for: "100.64.0.0") == "shared-cgnat")
        #expect(db.bogonLabel(for: "100.127.255.255") == "shared-cgnat")
        #expect(db.bogonLabel(for: "100.128.0.0") == nil)
        #expect(db.bogonLabel(for: "100.63.255.255") == nil)
        #expect(db.bogonLabel(for: "192.0.2.7") == "documentation")
        #expect(db.bogonLabel(for: "192.0.0.9") == "ietf-protocol-assignments")
        #expect(db.bogonLabel(for: "255.255.255.255") == "limited-broadcast")
        #expect(db.bogonLabel(for: "255.255.255.254") == "reserved")
        #expect(db.bogonLabel(for: "8.8.8.8") == nil)
        #expect(db.bogonLabel(for: "95.56.243.92") == nil)      // AS9198 router from the 2019 path
        // IPv6: 2001::/32 (Teredo) and 2001:db8::/32 sit inside 2001::/23 or beside it; the longest wins.
        #expect(db.bogonLabel(for: "2001:0:abcd::1") == "teredo")
        #expect(db.bogonLabel(for: "2001:1::1") == "ietf-protocol-assignments")
        #expect(db.bogonLabel(for: "2001:2::1") == "benchmarking")
        #expect(db.bogonLabel(for: "2001:db8::1") == "documentation")
        #expect(db.bogonLabel(for: "::1") == "loopback")
        #expect(db.bogonLabel(for: "::") == "unspecified")
        #expect(db.bogonLabel(for: "::ffff:10.0.0.1") == "ipv4-mapped")
        #expect(db.bogonLabel(for: "fe80::1") == "link-local")
        #expect(db.bogonLabel(for: "fd12::1") == "unique-local")
        #expect(db.bogonLabel(for: "2a00:1450::1") == nil)
        #expect(db.bogonLabel(for: "not an address") == nil)
        // The numeric entry points agree with the text one.
        #expect(db.bogonLabel(forIPv4: 0x6440_0001) == "shared-cgnat")
        #expect(db.bogonLabel(forIPv6: (0x2001_0db8_0000_0000, 1)) == "documentation")
        #expect(db.bogon(forIPv4: 0x0a00_0001)?.source.contains("RFC 1918") == true)
    }

    @Test func operatorsAndTTLs() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let kt = try #require(db.operatorForASN(9198))
        #expect(kt.name == "KAZTELECOM-AS" && kt.country == "KZ" && !kt.source.isEmpty)
        #expect(db.operatorForASN(21299)?.brand == "Beeline")
        #expect(db.operatorForASN(15169) == nil)
        #expect(db.initialTTL(forObserved: 1) == 32)
        #expect(db.initialTTL(forObserved: 32) == 32)
        #expect(db.initialTTL(forObserved: 33) == 64)
        #expect(db.initialTTL(forObserved: 120) == 128)
        #expect(db.initialTTL(forObserved: 250) == 255)
    }

    @Test func ipTextParsers() {
        #expect(IPAddressText.parseIPv4("0.0.0.0") == 0)
        #expect(IPAddressText.parseIPv4("255.255.255.255") == .max)
        for bad in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "1.2.3.4 ", "", "a.b.c.d", "1.2.3.-4"] {
            #expect(IPAddressText.parseIPv4(bad) == nil, "\(bad)")
        }
        #expect(IPAddressText.parseIPv6("::")! == (0, 0))
        #expect(IPAddressText.parseIPv6("1::")! == (0x0001_0000_0000_0000, 0))
        #expect(IPAddressText.parseIPv6("::1.2.3.4")! == (0, 0x0102_0304))
        #expect(IPAddressText.parseIPv6("1:2:3:4:5:6:7:8")! == (0x0001_0002_0003_0004, 0x0005_0006_0007_0008))
        for bad in [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", ":1:2:3:4:5:6:7",
                    "1:2:3:4:5:6:7:", "::1.2.3", "1.2.3.4::", "fe80::1%eth0", "g::1", "1:2:3:4:5:6:7::8"] {
            #expect(IPAddressText.parseIPv6(bad) == nil, "\(bad)")
        }
    }
}
