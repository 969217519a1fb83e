import Foundation
import Testing
@testable import KZProtocols

enum TLSBuild {
    static func u16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func u24(_ v: Int) -> [UInt8] { [UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func record(_ type: UInt8, _ payload: [UInt8], version: Int = 0x0303) -> [UInt8] {
        [type] + u16(version) + u16(payload.count) + payload
    }
    static func handshake(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type] + u24(body.count) + body }
    static func ext(_ type: Int, _ data: [UInt8]) -> [UInt8] { u16(type) + u16(data.count) + data }

    /// A ClientHello body with the given parts.
    static func clientHello(version: Int = 0x0303, ciphers: [Int], extensions: [[UInt8]]) -> [UInt8] {
        var b = u16(version) + [UInt8](repeating: 7, count: 32) + [0]
        b += u16(ciphers.count * 2) + ciphers.flatMap { u16($0) }
        b += [1, 0]
        let exts = extensions.flatMap { $0 }
        b += u16(exts.count) + exts
        return b
    }
    static func sni(_ host: String) -> [UInt8] {
        let name = Array(host.utf8)
        return ext(0, u16(name.count + 3) + [0] + u16(name.count) + name)
    }
    static func alpn(_ protos: [String]) -> [UInt8] {
        let list = protos.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        return ext(16, u16(list.count) + list)
    }
    static func list16(_ type: Int, _ values: [Int]) -> [UInt8] { ext(type, u16(values.count * 2) + values.flatMap { u16($0) }) }
}

/// Both directions of a fixture through two TLS parsers, in frame order.
struct TLSPair {
    var client = TLSStreamParser()
    var server = TLSStreamParser()
    var clientEvents: [TLSEvent] = []
    var serverEvents: [TLSEvent] = []

    mutating func run(_ segs: [Fixture.Segment], byteAtATime: Bool = false) {
        for s in segs {
            let chunks: [[UInt8]] = byteAtATime ? s.bytes.map { [$0] } : [s.bytes]
            for c in chunks {
                if s.fromClient { client.feed(c, frame: s.frame) } else { server.feed(c, frame: s.frame) }
            }
            clientEvents += client.takeEvents()
            serverEvents += server.takeEvents()
        }
        client.finish(); server.finish()
        clientEvents += client.takeEvents()
        serverEvents += server.takeEvents()
    }
    var all: [TLSEvent] { clientEvents + serverEvents }
    var clientHellos: [TLSClientHello] { all.compactMap { if case .clientHello(let h) = $0 { h } else { nil } } }
    var serverHellos: [TLSServerHello] { all.compactMap { if case .serverHello(let h) = $0 { h } else { nil } } }
    var chains: [TLSCertificateChain] { all.compactMap { if case .certificate(let c) = $0 { c } else { nil } } }
    var alerts: [TLSAlert] { all.compactMap { if case .alert(let a) = $0 { a } else { nil } } }
    var anomalies: [TLSAnomaly] { all.compactMap { if case .anomaly(let a) = $0 { a } else { nil } } }
}

@Suite struct TLSCorpusTests {
    static let fixtures = ["tls12_ja4", "tls12_fragmented_hello", "tls12_scapy_nss", "tls12_notion", "tls13_tripwire"]

    /// SNI, JA3 (tshark's tls.handshake.ja3_full / ja3), server cipher and selected version, certificate SHA-256 and
    /// SHA-1 (Python hashlib), subject and issuer (openssl -nameopt RFC2253), SAN dNSNames (tshark x509ce.dNSName)
    /// and alerts agree for the same frames.
    @Test(arguments: fixtures)
    func agreesWithTshark(name: String) throws {
        let segs = Fixture.segments(name)
        try #require(!segs.isEmpty, "fixture \(name) missing")
        var pair = TLSPair()
        pair.run(segs)
        #expect(pair.anomalies.isEmpty, "\(pair.anomalies)")
        var checked = 0
        for f in Fixture.facts(name, kind: "sni") {
            let h = try #require(pair.clientHellos.first { $0.lastFrame == f.frame }, "no ClientHello ending in frame \(f.frame)")
            #expect((h.serverName ?? "") == f.fields[0])
            checked += 1
        }
        for f in Fixture.facts(name, kind: "ja3_full") {
            #expect(pair.clientHellos.first { $0.lastFrame == f.frame }?.ja3 == f.fields[0]); checked += 1
        }
        for f in Fixture.facts(name, kind: "ja3") {
            #expect(pair.clientHellos.first { $0.lastFrame == f.frame }?.ja3MD5 == f.fields[0]); checked += 1
        }
        for f in Fixture.facts(name, kind: "server_cipher") {
            let h = try #require(pair.serverHellos.first { $0.lastFrame == f.frame })
            #expect("0x" + Hex.u16(h.cipherSuite) == f.fields[0])
            checked += 1
        }
        for f in Fixture.facts(name, kind: "server_supported_version") {
            let h = try #require(pair.serverHellos.first { $0.lastFrame == f.frame })
            #expect((h.selectedVersion.map { "0x" + Hex.u16($0) } ?? "") == f.fields[0])
            #expect(h.isTLS13 == (f.fields[0] == "0x0304"))
            checked += 1
        }
        for f in Fixture.facts(name, kind: "cert") {
            let chain = try #require(pair.chains.first { $0.lastFrame == f.frame })
            let i = try #require(Int(f.fields[0]))
            let c = try #require(i < chain.certificates.count ? chain.certificates[i] : nil)
            #expect(c.sha256 == f.fields[1])
            #expect(c.sha1 == f.fields[2])
            #expect(c.subject == f.fields[3])
            #expect(c.issuer == f.fields[4])
            #expect(c.parseError == nil)
            #expect(c.spkiSHA256?.count == 64)
            #expect(c.lastFrame <= f.frame && c.firstFrame >= chain.firstFrame)
            checked += 1
        }
        for f in Fixture.facts(name, kind: "san_dns") {
            let chain = try #require(pair.chains.first { $0.lastFrame == f.frame })
            #expect(chain.certificates.flatMap(\.sanDNSNames).joined(separator: "|") == f.fields[0])
            checked += 1
        }
        for f in Fixture.facts(name, kind: "alert") {
            let a = try #require(pair.alerts.first { $0.frame == f.frame })
            // tshark prints "/" (no level/description) when the alert is encrypted.
            #expect(a.encrypted == (f.fields[0] == "/"))
            checked += 1
        }
        #expect(checked > 0)
    }

    /// JA4 of the suricata-verify ja4-tls ClientHello equals the value in that test's test.yaml
    /// (OISF/suricata-verify tests/ja4-tls/test.yaml: `tls.ja4: t12i1810s1_27d4652c4487_06a4338d0495`).
    @Test func ja4MatchesSuricataVerify() throws {
        var pair = TLSPair()
        pair.run(Fixture.segments("tls12_ja4"))
        let h = try #require(pair.clientHellos.first)
        #expect(h.ja4 == "t12i1810s1_27d4652c4487_06a4338d0495")
        #expect(h.alpn.first == "spdy/3.1")
    }

    @Test func tls13ServerSaysCertificatesAreEncrypted() throws {
        var pair = TLSPair()
        pair.run(Fixture.segments("tls13_tripwire"))
        let sh = try #require(pair.serverHellos.first)
        #expect(sh.negotiatedVersion == 0x0304)
        #expect(sh.certificatesEncrypted)
        #expect(pair.server.negotiatedTLS13)
        #expect(pair.chains.isEmpty)
        // The ClientHello is in a frame tshark marks as a retransmission (the original was not captured), so tshark
        // gives no SNI for it; ours reads it from the deduplicated stream.
        #expect(pair.clientHellos.first?.serverName?.isEmpty == false)
    }

    @Test func fragmentedHelloAndChain() throws {
        var pair = TLSPair()
        pair.run(Fixture.segments("tls12_fragmented_hello"))
        let h = try #require(pair.clientHellos.first)
        #expect(h.serverName == "www.google.com")
        #expect(h.firstFrame < h.lastFrame)      // spans several segments
        let chain = try #require(pair.chains.first)
        #expect(chain.certificates.map(\.subjectCN) == ["www.google.com", "GTS CA 1C3", "GTS Root R1"])
        #expect(chain.certificates.first?.issuerCN == "GTS CA 1C3")
        #expect(chain.certificates.first?.notBefore?.hasSuffix("Z") == true)
        #expect(chain.wellFormed)
    }

    @Test(arguments: fixtures)
    func byteAtATimeMatches(name: String) {
        var whole = TLSPair(), bytewise = TLSPair()
        whole.run(Fixture.segments(name))
        bytewise.run(Fixture.segments(name), byteAtATime: true)
        #expect(whole.clientEvents == bytewise.clientEvents)
        #expect(whole.serverEvents == bytewise.serverEvents)
    }

    /// Every truncated prefix of each direction parses without crashing and never yields more hellos or chains.
    @Test(arguments: fixtures)
    func everyTruncatedPrefix(name: String) {
        let segs = Fixture.segments(name)
        var whole = TLSPair()
        whole.run(segs)
        for fromClient in [true, false] {
            let stream = Array(segs.filter { $0.fromClient == fromClient }.flatMap(\.bytes).prefix(20_000))
            var n = 0
            while n < stream.count {
                var p = TLSStreamParser()
                p.feed(Array(stream[0..<n]), frame: 1)
                p.finish()
                let ev = p.takeEvents()
                let hellos = ev.filter { if case .clientHello = $0 { true } else if case .serverHello = $0 { true } else { false } }.count
                let chains = ev.filter { if case .certificate = $0 { true } else { false } }.count
                #expect(hellos <= whole.clientHellos.count + whole.serverHellos.count)
                #expect(chains <= whole.chains.count)
                n += n < 600 ? 1 : 31
            }
        }
    }
}

@Suite struct TLSSyntheticTests {
    /// The FoxIO JA4 specification's worked example (technical_details/JA4.md): cipher hash 8daaf6152771, extension
    /// hash e5627efa2ab1, with GREASE values added that must be ignored.
    @Test func ja4SpecExample() throws {
        let ciphers = [0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
                       0x009c, 0x009d, 0x002f, 0x0035]
        let order = [0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
                     0x002b, 0xff01, 0x000b, 0x000a, 0x0015]
        var exts: [[UInt8]] = []
        for t in order {
            switch t {
            case 0x0000: exts.append(TLSBuild.sni("example.com"))
            case 0x0010: exts.append(TLSBuild.alpn(["h2", "http/1.1"]))
            case 0x000d: exts.append(TLSBuild.list16(13, [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]))
            case 0x002b: exts.append(TLSBuild.ext(0x2b, [6] + TLSBuild.u16(0x2a2a) + TLSBuild.u16(0x0304) + TLSBuild.u16(0x0303)))
            case 0x000a: exts.append(TLSBuild.list16(10, [0x3a3a, 0x001d, 0x0017]))
            default: exts.append(TLSBuild.ext(t, []))
            }
        }
        var anomalies: [TLSAnomaly] = []
        let h = try #require(TLSClientHello.parse(handshakeBody: TLSBuild.clientHello(ciphers: ciphers, extensions: exts), anomalies: &anomalies))
        #expect(anomalies.isEmpty)
        #expect(h.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        #expect(h.ja4Raw.hasPrefix("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a"))
        #expect(h.hasGREASE)
        #expect(h.serverName == "example.com")
        #expect(h.alpn == ["h2", "http/1.1"])
        #expect(h.highestVersion == 0x0304)
        #expect(h.supportedGroups == [0x3a3a, 0x001d, 0x0017])
        // JA3 drops GREASE from ciphers, extensions and groups.
        #expect(h.ja3.hasPrefix("771,4865-4866-4867-"))
        #expect(h.ja3.contains(",27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23,"))
        // With an empty signature algorithm list the extension part has no underscore (spec: 6d807ffa2a79).
        let noSig = exts.map { $0.prefix(2) == [0, 0x0d] ? TLSBuild.list16(13, []) : $0 }
        let h2 = try #require(TLSClientHello.parse(handshakeBody: TLSBuild.clientHello(ciphers: ciphers, extensions: noSig), anomalies: &anomalies))
        #expect(h2.ja4.hasSuffix("_6d807ffa2a79"))
    }

    @Test func recordLengthLies() {
        var p = TLSStreamParser()
        p.feed([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00], frame: 3)
        p.finish()
        let names = p.takeEvents().compactMap { if case .anomaly(let a) = $0 { a.name } else { nil } }
        #expect(names.contains("tls.record_too_long"))
        #expect(names.contains("tls.record_truncated"))
        #expect(names.contains("tls.handshake_truncated"))
    }

    @Test func handshakeLengthLies() {
        // Declares 16 MiB: skipped, not buffered.
        var p = TLSStreamParser()
        p.feed(TLSBuild.record(22, [1, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 100)), frame: 1)
        p.finish()
        let names = p.takeEvents().compactMap { if case .anomaly(let a) = $0 { a.name } else { nil } }
        #expect(names.contains("tls.handshake_too_long"))
        // Declares fewer bytes than the hello holds: the hello is cut, the rest is not trusted.
        let body = TLSBuild.clientHello(ciphers: [0x1301], extensions: [TLSBuild.sni("blocked.kz")])
        var q = TLSStreamParser()
        q.feed(TLSBuild.record(22, [1] + TLSBuild.u24(40) + body), frame: 1)
        q.finish()
        let ev = q.takeEvents()
        #expect(ev.contains { if case .anomaly(let a) = $0 { a.name == "tls.client_hello_truncated" } else { false } })
        #expect(!ev.contains { if case .clientHello = $0 { true } else { false } })
    }

    @Test func extensionLengthLies() throws {
        var body = TLSBuild.clientHello(ciphers: [0x1301], extensions: [TLSBuild.sni("ok.kz"), TLSBuild.ext(10, [0, 2, 0, 0x1d])])
        // Make the last extension claim 0x4000 bytes.
        body[body.count - 8 + 2] = 0x40; body[body.count - 8 + 3] = 0x00
        var anomalies: [TLSAnomaly] = []
        let h = try #require(TLSClientHello.parse(handshakeBody: body, anomalies: &anomalies))
        #expect(anomalies.contains { $0.name == "tls.extension_length_overrun" })
        #expect(h.serverName == "ok.kz")
        // Extensions block length larger than what follows.
        var body2 = TLSBuild.clientHello(ciphers: [0x1301], extensions: [TLSBuild.sni("ok.kz")])
        let extLenAt = 2 + 32 + 1 + 2 + 2 + 2
        body2[extLenAt] = 0x7f
        anomalies = []
        let h2 = try #require(TLSClientHello.parse(handshakeBody: body2, anomalies: &anomalies))
        #expect(anomalies.contains { $0.name == "tls.extensions_length_mismatch" })
        #expect(h2.serverName == "ok.kz")
    }

    @Test func certificateLengthLies() throws {
        let der = Array(repeating: UInt8(0x30), count: 10)        // not a certificate
        // Certificate length larger than the list.
        let certMsg = TLSBuild.u24(3 + 10) + TLSBuild.u24(500) + der
        var p = TLSStreamParser()
        p.feed(TLSBuild.record(22, TLSBuild.handshake(11, certMsg)), frame: 9)
        p.finish()
        let ev = p.takeEvents()
        let names = ev.compactMap { if case .anomaly(let a) = $0 { a.name } else { nil } }
        #expect(names.contains("tls.certificate_length_overrun"))
        let chain = ev.compactMap { if case .certificate(let c) = $0 { c } else { nil } }.first
        #expect(chain?.wellFormed == false && chain?.certificates.isEmpty == true && chain?.lastFrame == 9)
        // List length larger than the message; a garbage DER is kept with hashes and a parse error.
        let certMsg2 = TLSBuild.u24(9000) + TLSBuild.u24(10) + der
        var q = TLSStreamParser()
        q.feed(TLSBuild.record(22, TLSBuild.handshake(11, certMsg2)), frame: 2)
        let ev2 = q.takeEvents()
        let names2 = ev2.compactMap { if case .anomaly(let a) = $0 { a.name } else { nil } }
        #expect(names2.contains("tls.certificate_list_length_mismatch"))
        #expect(names2.contains("tls.certificate_der_error"))
        let c = ev2.compactMap { if case .certificate(let c) = $0 { c.certificates.first } else { nil } }.first
        #expect(c?.parseError != nil)
        #expect(c?.sha256 == "84d9c4b849506b6d8f8075a9000e7e0a254be71060ea889fad3c88395988f4fc")   // python hashlib
    }

    @Test func notTLSAndSSLv2() {
        var p = TLSStreamParser()
        p.feed(Array(ascii: "GET / HTTP/1.1\r\n\r\n"), frame: 5)
        #expect(p.takeEvents().contains { if case .anomaly(let a) = $0 { a.name == "tls.not_tls" && a.frame == 5 } else { false } })
        #expect(p.ignoredBytes > 0)
        var q = TLSStreamParser()
        q.feed([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15], frame: 1)
        #expect(q.takeEvents().contains { if case .anomaly(let a) = $0 { a.name == "tls.sslv2_client_hello" } else { false } })
    }

    @Test func alertsAndChangeCipherSpec() {
        var p = TLSStreamParser()
        p.feed(TLSBuild.record(21, [2, 40]), frame: 1)
        p.feed(TLSBuild.record(20, [1]), frame: 2)
        p.feed(TLSBuild.record(22, [0x14, 0, 0, 12] + [UInt8](repeating: 0xaa, count: 28)), frame: 3)   // encrypted Finished
        p.feed(TLSBuild.record(21, [0x55, 0x66, 0x77]), frame: 4)
        p.feed(TLSBuild.record(23, [1, 2, 3]), frame: 5)
        p.finish()
        let ev = p.takeEvents()
        #expect(ev == [
            .alert(TLSAlert(level: 2, description: 40, encrypted: false, frame: 1)),
            .changeCipherSpec(frame: 2),
            .alert(TLSAlert(level: nil, description: nil, encrypted: true, frame: 4)),
            .applicationData(firstFrame: 5),
        ])
        #expect(p.encrypted)
        #expect(TLSAlert(level: 2, description: 40, encrypted: false, frame: 1).descriptionName == "handshake_failure")
    }

    @Test func greaseDetection() {
        #expect(TLSGrease.isGREASE(0x0a0a) && TLSGrease.isGREASE(0xfafa))
        #expect(!TLSGrease.isGREASE(0x0a1a) && !TLSGrease.isGREASE(0x1301))
    }
}

/// Certificate summaries are cached by DER: a repeat gives the summary a fresh parse gives, with its own index and frames.
@Suite struct CertificateSummaryCacheTests {
    static func der(_ name: String) throws -> [UInt8] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let pem = try String(contentsOf: dir.appendingPathComponent("Fixtures/captures/lab/tls_interception/certs/\(name)"),
                             encoding: .utf8)
        let b64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return try #require(Data(base64Encoded: b64).map(Array.init))
    }

    @Test func aRepeatEqualsAFreshSummaryWithItsOwnIndexAndFrames() throws {
        for name in ["kz-root.pem", "kz-int.pem", "origin-ca.pem"] {
            let der = try Self.der(name)
            let first = TLSCertificateInfo.summarize(der: der, index: 0, firstFrame: 3, lastFrame: 4)
            let again = TLSCertificateInfo.summarize(der: der, index: 2, firstFrame: 90, lastFrame: 91)
            let fresh = TLSCertificateInfo.summarizeUncached(der: der, index: 2, firstFrame: 90, lastFrame: 91)
            #expect(again == fresh)
            #expect(first.subject != nil && first.subject == again.subject)
            #expect(first.index == 0 && first.firstFrame == 3)
            #expect(again.der == der)
        }
        // A DER that does not parse is cached with its error too.
        let junk: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x05]
        #expect(TLSCertificateInfo.summarize(der: junk, index: 0) == TLSCertificateInfo.summarizeUncached(der: junk, index: 0, firstFrame: 0, lastFrame: 0))
        #expect(TLSCertificateInfo.summarize(der: junk, index: 0).parseError != nil)
    }
}
