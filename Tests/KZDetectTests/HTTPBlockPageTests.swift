import Testing
import KZSignatures
import KZWire
@testable import KZDetect
import KZTestSupport

/// http.block_page on synthetic flows: request in frame 4, response from frame 5.
@Suite struct HTTPBlockPageTests {
    static let request = HTTPRequestEvent(frame: 4, method: "GET", target: "/", host: "blocked.example")

    static func response(_ first: FrameNumber, last: FrameNumber? = nil, status: Int = 200,
                         headers: [(String, String)] = [("Content-Type", "text/html")], body: String) -> HTTPResponseEvent {
        let bytes = Array(body.utf8)
        return HTTPResponseEvent(firstFrame: first, lastFrame: last ?? first, status: status,
                                 headers: headers.map { HTTPHeader(name: $0.0, value: $0.1) }, body: bytes,
                                 bodySHA256: BodyDigest.sha256Hex(bytes), complete: true)
    }

    static let normalPage = "<html><head><title>Example Domain</title></head><body><p>Hello.</p></body></html>"
    static let blockPage = "<html><head><title>Blocked</title></head><body>Access to this site is restricted.</body></html>"

    static func db() throws -> SignatureDatabase {
        try makeSignatures([
            "http/blockpage-patterns.csv": [
                "test.isp_1,isp,,body,contains,<title>Blocked</title>,5,KZ,test,,,2",
                "test.vbw_1,vbw,,body,contains,restricted,5,,test,,,1",
                "test.fp_1,fp,,header.server,full,FriendlyCDN,5,,test,,known error page,1",
                "test.status_451,vbw,,status,full,451,5,,test,,,1",
            ],
            "http/blockpage-sha256.csv": [
                "test.sha_1,1,\(BodyDigest.sha256Hex(Array("exact block body".utf8))),none,isp,KZ,test,,",
            ],
            "http/block-hosts.csv": [
                "test.host_1,1,warning.rt.ru,exact,nat,RU,test,",
            ],
        ])
    }

    @Test func bodyPatternIsHighAndCitesIdAtRev() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, last: 6, body: Self.blockPage)])
        let f = runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db())
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.detector == "http.block_page")
        #expect(x.confidence == .high)
        #expect(x.citations == ["test.isp_1@2", "test.vbw_1@1"])
        #expect(x.target?.host == "blocked.example")
        #expect(x.frames == [4, 5, 6])
        #expect(x.injectedFrame == 5)
        #expect(x.peerTTL == 52)
    }

    /// The pipeline takes a response's body facts when the response completes and drops the body
    /// (`BlockPageDetector.bodyFacts`); the verdicts must be those the detector reaches from the body itself.
    @Test func precomputedBodyFactsGiveTheSameFindingsAsTheBody() throws {
        let db = try Self.db()
        let iframe = "<html><body><iframe src=\"http://warning.rt.ru/block?u=x\"></iframe></body></html>"
        let cases: [HTTPResponseEvent] = [
            Self.response(5, last: 6, body: Self.blockPage),
            Self.response(5, body: Self.normalPage),
            Self.response(5, status: 403, body: "exact block body"),
            Self.response(5, status: 451, body: "Legal reasons"),
            Self.response(5, body: iframe),
            Self.response(5, headers: [("Server", "FriendlyCDN")], body: Self.blockPage),
        ]
        var sawFinding = 0
        for resp in cases {
            var lean = resp
            lean.bodyFacts = BlockPageDetector.bodyFacts(body: resp.body, headers: resp.headers, status: resp.status,
                                                         signatures: db)
            lean.body = []
            let full = runDetector(BlockPageDetector(), [.tcpFlow(tcpFlow(requests: [Self.request], responses: [resp]))],
                                   signatures: db)
            let fromFacts = runDetector(BlockPageDetector(),
                                        [.tcpFlow(tcpFlow(requests: [Self.request], responses: [lean]))], signatures: db)
            #expect(full == fromFacts)
            sawFinding += full.isEmpty ? 0 : 1
        }
        #expect(sawFinding == 4)   // block page, hash, 451, iframe to a block host; not the normal or the FP page
    }

    @Test func vagueWordAloneIsLow() throws {
        let flow = tcpFlow(requests: [Self.request],
                           responses: [Self.response(5, body: "<p>This content is restricted to members.</p>")])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(x.confidence == .low)
        #expect(x.citations == ["test.vbw_1@1"])
    }

    @Test func bodyHashMatches() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, status: 403, body: "exact block body")])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(x.confidence == .high)
        #expect(x.citations == ["test.sha_1@1"])
    }

    @Test func status451AloneIsLowWithOrWithoutItsSignature() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, status: 451, body: "Legal reasons")])
        let noDB = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).first)
        #expect(noDB.confidence == .low)
        #expect(noDB.citations.isEmpty)
        let withDB = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(withDB.confidence == .low)
        #expect(withDB.citations == ["test.status_451@1"])
    }

    @Test func redirectToBlockHostIsHigh() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [
            Self.response(5, status: 302, headers: [("Location", "http://warning.rt.ru/?id=17")], body: ""),
        ])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(x.confidence == .high)
        #expect(x.citations == ["test.host_1@1"])
        #expect(x.evidence.contains { if case .signatureMatch(_, _, "header.location", 5, _) = $0 { true } else { false } })
    }

    @Test func metaRefreshToBlockHostIsHigh() throws {
        let body = #"<html><head><META HTTP-EQUIV="refresh" CONTENT="0; URL=http://warning.rt.ru/"></head></html>"#
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, body: body)])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(x.citations == ["test.host_1@1"])
        #expect(BlockPageDetector.embeddedURLs(Array(#"<iframe width=1 src="http://a.example/x">"#.utf8))
                == ["http://a.example/x"])
    }

    /// The scanner searches case-insensitively in place; it must find what a search over a lowercased copy finds.
    @Test func embeddedURLScannerEqualsTheLowercasedCopySearch() {
        func reference(_ body: [UInt8]) -> [String] {
            let raw = Array(body.prefix(65_536))
            let lower = raw.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
            func find(_ needle: String, from: Int) -> Int? {
                let n = Array(needle.utf8)
                var i = from
                while i + n.count <= lower.count {
                    if Array(lower[i..<(i + n.count)]) == n { return i }
                    i += 1
                }
                return nil
            }
            func value(after idx: Int) -> String {
                var j = idx
                while j < raw.count, [0x20, 0x22, 0x27, 0x3D].contains(raw[j]) { j += 1 }
                let start = j
                while j < raw.count, ![0x22, 0x27, 0x3E, 0x20, 0x09, 0x0A, 0x0D].contains(raw[j]) { j += 1 }
                return String(decoding: raw[start..<j], as: UTF8.self)
            }
            var out: [String] = []
            var pos = 0
            while out.count < 8, let m = find("http-equiv", from: pos) {
                pos = m + 10
                let tagEnd = find(">", from: m) ?? lower.count
                if let u = find("url=", from: m), u < tagEnd { out.append(value(after: u + 4)) }
            }
            pos = 0
            while out.count < 8, let m = find("<iframe", from: pos) {
                pos = m + 7
                let tagEnd = find(">", from: m) ?? lower.count
                if let u = find("src", from: m), u < tagEnd { out.append(value(after: u + 3)) }
            }
            return out.filter { !$0.isEmpty }
        }
        let pieces = ["<META HTTP-EQUIV=\"refresh\" ", "content=\"0; URL=http://a.example/", "<IFrame ", "SRC='http://b/'",
                      "url=", "src", ">", " ", "\r\n", "http-equi", "<ifram", "é", "=", "\"", "x", "HTTP-equiv"]
        var rng = TestRandom(seed: 0xfdc1e26401)
        var nonEmpty = 0
        for _ in 0..<2000 {
            var body: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { body += Array(pieces.randomElement(using: &rng)!.utf8) }
            let got = BlockPageDetector.embeddedURLs(body)
            #expect(got == reference(body), "\(String(decoding: body, as: UTF8.self))")
            if !got.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 100)
    }

    @Test func normalPageAndNormalRedirectGiveNothing() throws {
        let db = try Self.db()
        let ok = tcpFlow(requests: [Self.request], responses: [Self.response(5, last: 7, body: Self.normalPage)])
        let redirect = tcpFlow(requests: [Self.request], responses: [
            Self.response(5, status: 301, headers: [("Location", "https://www.example.com/")], body: "Moved"),
        ])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(ok), .tcpFlow(redirect)], signatures: db).isEmpty)
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(ok), .tcpFlow(redirect)]).isEmpty)
    }

    @Test func falsePositiveRowVoidsOtherMatches() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [
            Self.response(5, headers: [("Server", "FriendlyCDN")], body: Self.blockPage),
        ])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).isEmpty)
    }

    @Test func secondDifferentResponseToOneRequestIsARace() throws {
        // Frame 5: injected 403 (TTL 52, same as the SYN-ACK); frame 8: the real page, at the same sequence number.
        let flow = tcpFlow(extra: [segment(5, .server, ttl: 52, seq: 1001, payload: 100),
                                   segment(8, .server, ttl: 52, seq: 1001, payload: 1400)],
                           requests: [Self.request], responses: [
            Self.response(5, status: 403, body: "Forbidden"), Self.response(8, last: 9, body: Self.normalPage),
        ])
        let f = runDetector(BlockPageDetector(), [.tcpFlow(flow)])
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.confidence == .medium)
        #expect(x.injectedFrame == 5)
        #expect(x.frames.contains(8))
        #expect(x.summary.contains("injected response"))
    }

    @Test func raceWithTTLMismatchIsHigh() throws {
        let flow = tcpFlow(serverTTL: 52, extra: [segment(5, .server, ttl: 250, seq: 1001, payload: 200),
                                                  segment(8, .server, ttl: 52, seq: 1001, payload: 1400)],
                           requests: [Self.request],
                           responses: [Self.response(5, status: 403, body: "Forbidden"),
                                       Self.response(8, body: Self.normalPage)])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).first)
        #expect(x.confidence == .high)
        #expect(x.injectedTTL == 250)
        #expect(x.peerTTL == 52)
        #expect(x.mismatchFields == ["ttl"])
    }

    @Test func serverAnsweringAnUnparsedSecondRequestIsNotARace() {
        // suricata-verify http-request-invalid: 200 for the POST, then 400 for trailing garbage, written after it.
        let flow = tcpFlow(extra: [segment(5, .server, seq: 1001, payload: 300), segment(8, .server, seq: 1301, payload: 200)],
                           requests: [Self.request],
                           responses: [Self.response(5, body: Self.normalPage),
                                       Self.response(8, status: 400, body: "Bad Request")])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func twoResponsesWithoutSegmentsAreOnlyLow() throws {
        let flow = tcpFlow(requests: [Self.request], responses: [
            Self.response(5, status: 403, body: "Forbidden"), Self.response(8, body: Self.normalPage),
        ])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).first)
        #expect(x.confidence == .low)
        #expect(x.injectedFrame == 5)
    }

    @Test func identicalRetransmittedResponseIsNotARace() {
        let flow = tcpFlow(requests: [Self.request], responses: [
            Self.response(5, body: Self.normalPage), Self.response(8, body: Self.normalPage),
        ])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func pipelinedRequestsWithTheirOwnResponsesAreNotARace() {
        let r2 = HTTPRequestEvent(frame: 6, method: "GET", target: "/b", host: "blocked.example")
        let flow = tcpFlow(requests: [Self.request, r2], responses: [
            Self.response(7, body: Self.normalPage), Self.response(8, body: "other page"),
        ])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func serverOverlapConflictAtTheResponseIsARace() throws {
        let overlap = OverlapConflictEvent(side: .server, firstFrame: 5, secondFrame: 9, seqStart: 1001, length: 120)
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, last: 6, body: Self.blockPage)],
                           overlaps: [overlap])
        let noDB = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)]).first)
        #expect(noDB.confidence == .medium)
        #expect(noDB.injectedFrame == 5)
        #expect(noDB.frames.contains(9))
        #expect(noDB.evidence.contains { if case .overlapConflict(5, 9, 1001, 120) = $0 { true } else { false } })
        let withDB = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try Self.db()).first)
        #expect(withDB.confidence == .high)
        // A client-side overlap is not about the response.
        let clientSide = tcpFlow(requests: [Self.request], responses: [Self.response(5, body: Self.normalPage)],
                                 overlaps: [OverlapConflictEvent(side: .client, firstFrame: 4, secondFrame: 6,
                                                                 seqStart: 1, length: 10)])
        #expect(runDetector(BlockPageDetector(), [.tcpFlow(clientSide)]).isEmpty)
    }

    @Test func labShapedInjectionWithoutSignatureIsHigh() throws {
        // The lab's http_blockpage run: forged 200 in frame 6 (TTL 62, seq 1, 516 bytes), forged FIN in 11, the real
        // response in 19 at the same sequence number with TTL 59 like the SYN-ACK; the reassembler saw the overlap.
        let body = "<html><head><meta charset=\"utf-8\"><title>Доступ ограничен</title></head></html>"
        let flow = tcpFlow(serverTTL: 59,
                           extra: [segment(6, .server, flags: [.ack, .psh], ttl: 62, seq: 1, payload: 516),
                                   segment(11, .server, flags: [.ack, .fin], ttl: 62, seq: 517),
                                   segment(19, .server, flags: [.ack, .psh], ttl: 59, seq: 1, payload: 163)],
                           requests: [Self.request], responses: [Self.response(6, body: body)],
                           overlaps: [OverlapConflictEvent(side: .server, firstFrame: 6, secondFrame: 19, seqStart: 1,
                                                           length: 163)])
        let f = runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: try builtInSignatures())
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.confidence == .high)
        #expect(x.injectedFrame == 6)
        #expect(x.injectedTTL == 62)
        #expect(x.peerTTL == 59)
        #expect(x.frames.contains(19))
    }

    @Test func builtInLabBlockPageMatches() throws {
        let db = try builtInSignatures()
        let body = "<html><head><title>Доступ ограничен</title></head><body><p>Access to this resource is restricted in accordance with the legislation of the Republic of Kazakhstan.</p></body></html>"
        let flow = tcpFlow(requests: [Self.request], responses: [Self.response(5, status: 403, body: body)])
        let x = try #require(runDetector(BlockPageDetector(), [.tcpFlow(flow)], signatures: db).first)
        #expect(x.citations.contains("kz.lab_blockpage@2"))
        #expect(x.confidence == .high)
    }
}
