import Foundation
import Testing
@testable import KZSignatures

@Suite struct BlockPageMatcherTests {
    /// A small database with one row per pattern type and location.
    static let patterns = """
    \(ooniHeader)
    t.full_body,isp,,body,full,<html>blocked</html>,5,KZ,test,,,1
    t.prefix_body,isp,,body,prefix,<!-- block -->,5,KZ,test,,,2
    t.contains_body,nat,,body,contains,Доступ ограничен,5,"KZ,RU",test,,,1
    t.regexp_body,vbw,,body,regexp,<p>Sorry.*prohibited</p>,5,,test,,,1
    t.location_prefix,isp,,header.location,prefix,http://block.example.kz/,5,KZ,test,,,1
    t.server_full,prod,,header.Server,full,BlockBox,5,,test,,,1
    t.via_contains,inst,,header.via,contains,webfilter,5,,test,,,1
    t.status_451,vbw,,status,full,451,5,,test,,,1
    t.status_regexp,vbw,,status,regexp,^40[34]$,5,,test,,,1
    t.fp_nginx,fp,,body,contains,Welcome to nginx!,5,,test,,,1
    """

    static let hashBody = bytes("  <HTML>\n\t<Title>Access   Restricted</Title>\r\n</HTML>  ")

    static func makeDB() throws -> (SignatureDatabase, TempSignatures) {
        let normalized = BodyNormalization.wsCollapseLower.apply(hashBody)
        let hashes = """
        id,rev,sha256,normalization,scope,expected_countries,source,exp_url,notes
        t.sha_raw,1,\(BodyDigest.sha256Hex(hashBody).uppercased()),none,isp,KZ,test,,
        t.sha_norm,3,\(BodyDigest.sha256Hex(normalized)),ws-collapse-lower,isp,KZ,test,,
        """
        let dir = try TempSignatures(["http/blockpage-patterns.csv": patterns, "http/blockpage-sha256.csv": hashes])
        return (try SignatureDatabase.load(directories: [dir.url]), dir)
    }

    func ids(_ m: [SignatureMatch]) -> [String] { m.map(\.id) }

    @Test func fullMatchesOnlyTheWholeBody() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(ids(db.matchBlockPage(body: bytes("<html>blocked</html>"), headers: [], status: 200)) == ["t.full_body"])
        #expect(ids(db.matchBlockPage(body: bytes("<html>blocked</html>\n"), headers: [], status: 200)).isEmpty)
        #expect(ids(db.matchBlockPage(body: bytes("<HTML>blocked</HTML>"), headers: [], status: 200)).isEmpty)
    }

    @Test func prefixMatchesOnlyAtTheStart() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchBlockPage(body: bytes("<!-- block --><p>x</p>"), headers: [], status: nil)
        #expect(ids(m) == ["t.prefix_body"])
        #expect(m.first?.citation == "t.prefix_body@2")
        #expect(ids(db.matchBlockPage(body: bytes(" <!-- block -->"), headers: [], status: nil)).isEmpty)
    }

    @Test func containsMatchesUTF8Anywhere() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchBlockPage(body: bytes("<body><h1>Доступ ограничен</h1></body>"), headers: [], status: 200)
        #expect(ids(m) == ["t.contains_body"])
        #expect(m.first?.countries == ["KZ", "RU"])
        #expect(m.first?.location == "body")
        #expect(m.first?.kind == .blockPagePattern)
        #expect(ids(db.matchBlockPage(body: bytes("<h1>Доступ</h1> ограничен"), headers: [], status: 200)).isEmpty)
    }

    @Test func regexpSpansLinesAndSurvivesInvalidUTF8() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        var body = bytes("<p>Sorry, the URL\nyou requested is prohibited</p>")
        #expect(ids(db.matchBlockPage(body: body, headers: [], status: 200)) == ["t.regexp_body"])
        body.insert(0xfe, at: 9)          // after "<p>Sorry,"
        body.append(contentsOf: [0xff, 0xc3])
        #expect(ids(db.matchBlockPage(body: body, headers: [], status: 200)) == ["t.regexp_body"])
        #expect(ids(db.matchBlockPage(body: bytes("<p>Sorry</p> prohibited"), headers: [], status: 200)).isEmpty)
    }

    @Test func headerPatternsUseCaseInsensitiveNamesAndAnyRepeatedHeader() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let headers: [(name: String, value: String)] = [
            ("Server", "nginx"), ("LOCATION", " http://block.example.kz/?u=x "), ("server", "BlockBox"),
            ("Via", "1.1 webfilter.local"),
        ]
        let m = db.matchBlockPage(body: [], headers: headers, status: 302)
        #expect(ids(m) == ["t.location_prefix", "t.server_full", "t.via_contains"])
        #expect(m.map(\.location) == ["header.location", "header.server", "header.via"])
        // Values are case-sensitive, and a pattern never matches a different header name.
        #expect(ids(db.matchBlockPage(body: [], headers: [("Server", "blockbox"), ("X-Location", "http://block.example.kz/")],
                                      status: 302)).isEmpty)
        // A header pattern does not look into the body.
        #expect(ids(db.matchBlockPage(body: bytes("Location: http://block.example.kz/"), headers: [], status: 302)).isEmpty)
    }

    @Test func statusRows() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        #expect(ids(db.matchBlockPage(body: [], headers: [], status: 451)) == ["t.status_451"])
        #expect(ids(db.matchBlockPage(body: [], headers: [], status: 404)) == ["t.status_regexp"])
        #expect(ids(db.matchBlockPage(body: [], headers: [], status: 4510)).isEmpty)
        #expect(ids(db.matchBlockPage(body: [], headers: [], status: nil)).isEmpty)
    }

    @Test func falsePositiveRowsAreReportedAndMarked() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchBlockPage(body: bytes("<!-- block --><h1>Welcome to nginx!</h1>"), headers: [], status: 200)
        #expect(ids(m) == ["t.fp_nginx", "t.prefix_body"])
        #expect(m.filter(\.isFalsePositiveMarker).map(\.id) == ["t.fp_nginx"])
    }

    @Test func sha256OfRawAndNormalisedBody() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let m = db.matchBlockPage(body: Self.hashBody, headers: [], status: 200)
        #expect(ids(m) == ["t.sha_norm", "t.sha_raw"])
        #expect(Set(m.map(\.kind)) == [.blockPageHash])
        #expect(m.map(\.location) == ["body.sha256[ws-collapse-lower]", "body.sha256[none]"])
        #expect(m.first?.citation == "t.sha_norm@3")
        // Re-indented and re-cased: only the normalised hash still matches.
        let reformatted = bytes("<html> <title>ACCESS RESTRICTED</title>\n\n</html>")
        #expect(ids(db.matchBlockPage(body: reformatted, headers: [], status: 200)) == ["t.sha_norm"])
        // A changed word matches neither.
        let changed = bytes("<html><title>Access Granted</title></html>")
        #expect(ids(db.matchBlockPage(body: changed, headers: [], status: 200)).isEmpty)
    }

    /// A capped prefix of a longer body: hash rows describe whole bodies, so the un-normalised row compares the whole
    /// body's digest and the normalised row is not checked (hashing the prefix could only match a different page).
    @Test func prefixBodyUsesTheWholeDigestAndSkipsNormalisedRows() throws {
        let (db, dir) = try Self.makeDB(); defer { dir.cleanup() }
        let whole = BodyDigest.sha256Hex(Self.hashBody)
        let prefix = Array(Self.hashBody.prefix(20))
        // The whole body's digest matches the raw row although only a prefix was kept.
        #expect(ids(db.matchBlockPage(body: prefix, headers: [], status: 200, bodySHA256: whole, bodyIsPrefix: true))
                == ["t.sha_raw"])
        // The whole body kept, with its digest: both rows.
        #expect(ids(db.matchBlockPage(body: Self.hashBody, headers: [], status: 200, bodySHA256: whole))
                == ["t.sha_norm", "t.sha_raw"])
        // The kept bytes normalise to the row's page, but they are a prefix of something longer: no normalised match.
        #expect(ids(db.matchBlockPage(body: Self.hashBody, headers: [], status: 200,
                                      bodySHA256: BodyDigest.sha256Hex(Self.hashBody + bytes("more")),
                                      bodyIsPrefix: true)).isEmpty)
    }

    @Test func emptyDatabaseMatchesNothing() {
        let db = SignatureDatabase()
        #expect(db.matchBlockPage(body: bytes("<title>Access restricted</title>"), headers: [("Location", "x")], status: 451).isEmpty)
        #expect(db.matchBlockHost("qca.kz") == nil)
        #expect(db.matchPoisonedDNS(address: "8.7.198.45") == nil)
        #expect(db.bogonLabel(for: "10.0.0.1") == nil)
        #expect(db.initialTTL(forObserved: 60) == nil)
    }

    /// The shipped database recognises the lab page, the FortiGate page from the CenTrace corpus and OONI rows.
    @Test func shippedRowsMatchTheirExamples() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let lab = db.matchBlockPage(body: bytes("<html><body><p>Access to this resource is restricted in accordance with the legislation of the Republic of Kazakhstan.</p></body></html>"),
                                    headers: [("Content-Type", "text/html")], status: 200)
        #expect(lab.map(\.citation) == ["kz.lab_blockpage@2"])
        let rt = db.matchBlockPage(body: [], headers: [("Location", "http://block.rt.ru/?u=x")], status: 302)
        #expect(rt.map(\.id) == ["ooni.ru_25"])
        let kazakh = db.matchBlockPage(body: bytes("<p>Ресурста ақпараттық қауіпсіздікке төнетін қауіп-қатер бар</p>"),
                                       headers: [], status: 200)
        #expect(kazakh.map(\.id) == ["cp.f_gen_ru_8_satellite"])
        let legal = db.matchBlockPage(body: bytes("<h1>451 Unavailable For Legal Reasons</h1>"), headers: [], status: 451)
        #expect(legal.map(\.id) == ["cp.f_gen_451", "kz.http_2"])
        let ordinary = db.matchBlockPage(body: bytes("<html><title>Example Domain</title></html>"),
                                         headers: [("Server", "ECS (dcb/7F83)")], status: 200)
        #expect(ordinary.isEmpty)
    }
}
