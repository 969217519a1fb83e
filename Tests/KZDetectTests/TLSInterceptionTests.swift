import Testing
import KZSignatures
import KZWire
@testable import KZDetect

/// tls.interception on synthetic chains. Certificates are described, not encoded: the detector sees parser output.
@Suite struct TLSInterceptionTests {
    static func cert(subjectCN: String, issuerDN: String, issuerCN: String?, serial: String,
                     notBefore: String = "2024-01-01T00:00:00Z", notAfter: String = "2024-03-31T00:00:00Z",
                     sans: [String] = [], sha: String, sha1: String = "", spki: String = "") -> CertificateEvent {
        CertificateEvent(subject: "CN=\(subjectCN)", issuer: issuerDN, subjectCN: subjectCN, issuerCN: issuerCN,
                         serialHex: serial, notBefore: notBefore, notAfter: notAfter, sans: sans,
                         sha256: String(repeating: sha, count: 64 / sha.count), sha1: sha1, spkiSHA256: spki)
    }

    static func flow(sni: String, chain: [CertificateEvent], certFrame: FrameNumber = 6, tls13: Bool = false,
                     server: String = "142.250.74.14", capture: String = "tls.pcap") -> AnalysisEvent {
        let tls = TLSEvent(clientHelloFrame: certFrame - 2, sni: sni, serverHelloFrame: certFrame,
                           negotiatedVersion: tls13 ? 0x0304 : 0x0303, certificateFrame: certFrame, chain: chain,
                           alertFrames: [], isTLS13: tls13)
        return .tcpFlow(tcpFlow(server: server, port: 443, serverTTL: 118, extra: [segment(certFrame, .server, ttl: 61)],
                                tls: tls, capture: capture))
    }

    // The real chain for www.google.com (shape only; values invented for the test).
    static let realLeaf = cert(subjectCN: "www.google.com", issuerDN: "CN=WR2,O=Google Trust Services,C=US",
                               issuerCN: "WR2", serial: "7a1b2c3d4e5f60718293a4b5c6d7e8f9",
                               sans: ["www.google.com"], sha: "a1")
    static let realIntermediate = cert(subjectCN: "WR2", issuerDN: "CN=GTS Root R1,O=Google Trust Services LLC,C=US",
                                       issuerCN: "GTS Root R1", serial: "7ff3", sha: "a2")
    // Forged the 2019 way: same subject/SANs, validity −6 h, last 4 serial bytes changed, Kazakh issuer.
    static let forgedLeaf = cert(subjectCN: "www.google.com", issuerDN: "CN=Security Certificate,C=KZ",
                                 issuerCN: "Security Certificate", serial: "7a1b2c3d4e5f60718293a4b500112233",
                                 notBefore: "2023-12-31T18:00:00Z", notAfter: "2024-03-30T18:00:00Z",
                                 sans: ["www.google.com"], sha: "f1")
    static let securityCertificate = cert(subjectCN: "Security Certificate", issuerDN: "CN=Qaznet Trust Network,C=KZ",
                                          issuerCN: "Qaznet Trust Network", serial: "01", sha: "f2")

    @Test func labQaznetChainIsHighWithBuiltInSignatures() throws {
        let db = try builtInSignatures()
        let f = runDetector(TLSInterceptionDetector(),
                            [Self.flow(sni: "www.google.com", chain: [Self.forgedLeaf, Self.securityCertificate])],
                            signatures: db)
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.detector == "tls.interception")
        #expect(x.confidence == .high)
        #expect(x.citations.contains("kz.tls_2@1"))          // issuer C=KZ, CN=Security Certificate
        #expect(x.citations.contains("kz.lab_qaznet@1"))     // intermediate issued by Qaznet Trust Network
        #expect(x.target?.sni == "www.google.com")
        #expect(x.injectedFrame == 6)
        #expect(x.injectedTTL == 61)
        #expect(x.peerTTL == 118)
        #expect(x.frames == [4, 6])
        #expect(x.evidence.filter { if case .certificate = $0 { true } else { false } }.count == 2)
    }

    @Test func fingerprintMatchOnSHA1AndSPKI() throws {
        let db = try makeSignatures(["tls/interception-cas.csv": [
            "test.sha1,1,cert_sha1,c0e15a945595372030f0d45938ebb6081bb39fb5,ISCA intermediate,nat,KZ,test,",
            "test.spki,2,spki_sha256,\(String(repeating: "ab", count: 32)),Test CA key,prod,,test,",
        ]])
        let inter = Self.cert(subjectCN: "Some Intermediate", issuerDN: "CN=Some Root", issuerCN: "Some Root",
                              serial: "02", sha: "c3", sha1: "C0:E1:5A:94:55:95:37:20:30:F0:D4:59:38:EB:B6:08:1B:B3:9F:B5")
        let leaf = Self.cert(subjectCN: "example.kz", issuerDN: "CN=Some Intermediate", issuerCN: "Some Intermediate",
                             serial: "03", sha: "c4", spki: String(repeating: "AB", count: 32))
        let x = try #require(runDetector(TLSInterceptionDetector(),
                                         [Self.flow(sni: "example.kz", chain: [leaf, inter])], signatures: db).first)
        #expect(x.confidence == .high)
        #expect(x.citations == ["test.spki@2", "test.sha1@1"])
        #expect(x.evidence.contains { if case .signatureMatch("test.sha1", 1, "chain[1].cert_sha1", _, _) = $0 { true } else { false } })
    }

    @Test func forgedChainRecognisedByShapeWhenTheRealOneIsSeenMoreOften() throws {
        // Two flows get the real chain, one gets the forged copy. No signatures loaded.
        let events = [
            Self.flow(sni: "www.google.com", chain: [Self.realLeaf, Self.realIntermediate], certFrame: 6),
            Self.flow(sni: "www.google.com", chain: [Self.realLeaf, Self.realIntermediate], certFrame: 26),
            Self.flow(sni: "www.google.com", chain: [Self.forgedLeaf, Self.securityCertificate], certFrame: 46),
        ]
        let f = runDetector(TLSInterceptionDetector(), events)
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.confidence == .high)
        #expect(x.injectedFrame == 46)
        #expect(Set(x.mismatchFields) == ["issuer", "not_before", "not_after", "serial"])
        #expect(x.summary.contains("-6 h"))
        #expect(x.summary.contains("last 4 bytes"))
        #expect(x.frames.contains(6))
    }

    @Test func ambiguousPairIsReportedOnBothFlowsAtMedium() {
        let events = [
            Self.flow(sni: "www.google.com", chain: [Self.realLeaf], certFrame: 6),
            Self.flow(sni: "www.google.com", chain: [Self.forgedLeaf], certFrame: 26),
        ]
        let f = runDetector(TLSInterceptionDetector(), events)
        #expect(f.map(\.injectedFrame) == [6, 26])
        #expect(f.allSatisfy { $0.confidence == .medium && $0.summary.contains("cannot tell") })
    }

    @Test func signatureDecidesWhichOfTwoChainsIsForged() throws {
        let db = try builtInSignatures()
        let events = [
            Self.flow(sni: "www.google.com", chain: [Self.realLeaf], certFrame: 6),
            Self.flow(sni: "www.google.com", chain: [Self.forgedLeaf], certFrame: 26),
        ]
        let f = runDetector(TLSInterceptionDetector(), events, signatures: db)
        #expect(f.map(\.injectedFrame) == [26])
        #expect(f.first?.confidence == .high)
        #expect(f.first?.mismatchFields.contains("serial") == true)
    }

    @Test func renewalOrSecondCAIsNotInterception() {
        // Same subject and SANs, another issuer, but random serial and unrelated validity: a renewal / multi-CA CDN.
        let other = Self.cert(subjectCN: "www.google.com", issuerDN: "CN=R10,O=Let's Encrypt,C=US", issuerCN: "R10",
                              serial: "03f1aa0923bc77e0192ab4c5d6e7f80112", notBefore: "2024-02-15T09:12:00Z",
                              notAfter: "2024-05-15T09:11:59Z", sans: ["www.google.com"], sha: "b1")
        let events = [
            Self.flow(sni: "www.google.com", chain: [Self.realLeaf], certFrame: 6),
            Self.flow(sni: "www.google.com", chain: [other], certFrame: 26),
        ]
        #expect(runDetector(TLSInterceptionDetector(), events).isEmpty)
    }

    @Test func normalTLS12ChainGivesNothing() throws {
        let db = try builtInSignatures()
        let f = runDetector(TLSInterceptionDetector(),
                            [Self.flow(sni: "www.google.com", chain: [Self.realLeaf, Self.realIntermediate])],
                            signatures: db)
        #expect(f.isEmpty)
    }

    @Test func tls13GivesNoFindingEvenWithAListedIssuer() throws {
        let db = try builtInSignatures()
        let f = runDetector(TLSInterceptionDetector(),
                            [Self.flow(sni: "www.google.com", chain: [Self.forgedLeaf, Self.securityCertificate],
                                       tls13: true)],
                            signatures: db)
        #expect(f.filter { $0.confidence > .low }.isEmpty)
        #expect(f.isEmpty)
    }

    @Test func timeParsingAcceptsTheCommonForms() {
        #expect(CertificateShape.parseTime("2024-01-31T12:00:00Z") == 1_706_702_400)
        #expect(CertificateShape.parseTime("20240131120000Z") == 1_706_702_400)
        #expect(CertificateShape.parseTime("240131120000Z") == 1_706_702_400)
        #expect(CertificateShape.parseTime("2024-01-31 12:00:00 UTC") == 1_706_702_400)
        #expect(CertificateShape.parseTime("1970-01-01T00:00:00Z") == 0)
        #expect(CertificateShape.parseTime("garbage") == nil)
        #expect(CertificateShape.parseTime("2024-13-01T00:00:00Z") == nil)
    }

    @Test func shapeTraits() throws {
        let s = CertificateShape(Self.forgedLeaf, Self.realLeaf)
        #expect(s.subjectCopied && s.sansCopied && s.issuerDiffers)
        let shift: Int64 = try #require(s.validityShift)
        #expect(shift == 21_600)                       // the real one starts 6 h later than the forgery
        #expect(s.serialAltered && s.serialDifferingBytes == 4)
        #expect(s.forgeryTraits == 2)
    }
}
