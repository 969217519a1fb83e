import Testing
@testable import KZProtocols

/// Runs both directions of a fixture through request/response parsers in frame order, passing request methods
/// to the response side as the request side emits them.
struct HTTPPair {
    var req = HTTPStreamParser(role: .request)
    var resp = HTTPStreamParser(role: .response)
    var requests: [HTTPRequest] = []
    var responses: [HTTPResponse] = []
    var anomalies: [HTTPAnomaly] = []

    init(limits: HTTPParserLimits = HTTPParserLimits()) {
        req = HTTPStreamParser(role: .request, limits: limits)
        resp = HTTPStreamParser(role: .response, limits: limits)
    }

    mutating func drain() {
        for e in req.takeEvents() {
            switch e {
            case .request(let r): requests.append(r); resp.noteRequestMethod(r.method)
            case .anomaly(let a): anomalies.append(a)
            case .response: Issue.record("request parser produced a response")
            }
        }
        for e in resp.takeEvents() {
            switch e {
            case .response(let r): responses.append(r)
            case .anomaly(let a): anomalies.append(a)
            case .request: Issue.record("response parser produced a request")
            }
        }
    }

    mutating func run(_ segments: [Fixture.Segment], byteAtATime: Bool = false, finish: Bool = true) {
        for seg in segments {
            if byteAtATime {
                for b in seg.bytes {
                    if seg.fromClient { req.feed([b], frame: seg.frame) } else { resp.feed([b], frame: seg.frame) }
                    drain()
                }
            } else {
                if seg.fromClient { req.feed(seg.bytes, frame: seg.frame) } else { resp.feed(seg.bytes, frame: seg.frame) }
                drain()
            }
        }
        if finish { req.finish(); resp.finish(); drain() }
    }
}

@Suite struct HTTPCorpusTests {
    static let fixtures = ["http_pipelined_gzip", "http_compressed", "http_post", "http_dpkt_gzip", "http_full_request_v6"]

    /// Methods, targets, Host and status codes agree with tshark's http.* fields, and the frame of each message's
    /// last byte is the frame where tshark reports the reassembled message. Decoded body lengths and SHA-256
    /// agree with Python's zlib over the same bytes (Fixtures/protocols/extract.py).
    @Test(arguments: fixtures)
    func agreesWithTshark(name: String) throws {
        let segments = Fixture.segments(name)
        try #require(!segments.isEmpty, "fixture \(name) missing")
        var pair = HTTPPair()
        pair.run(segments)
        let tReq = Fixture.facts(name, kind: "request")
        let tResp = Fixture.facts(name, kind: "response")
        let bodies = Fixture.facts(name, kind: "body")
        #expect(pair.requests.count == tReq.count)
        for (r, t) in zip(pair.requests, tReq) {
            #expect(r.method == t.fields[0])
            #expect(r.target == t.fields[1])
            #expect((r.host ?? "") == t.fields[2])
            #expect(r.lastFrame == t.frame, "request \(r.index)")
            #expect(r.complete)
        }
        #expect(pair.responses.count == tResp.count)
        for (r, t) in zip(pair.responses, tResp) {
            #expect(String(r.status) == t.fields[0])
            #expect((r.header("Content-Encoding") ?? "") == t.fields[1])
            #expect(r.lastFrame == t.frame, "response \(r.index)")
            #expect(r.complete)
            #expect(r.body.decodeError == nil)
            if !t.fields[2].isEmpty { #expect(r.body.wireLength == Int(t.fields[2])) }
        }
        for b in bodies {
            guard let i = Int(String(b.frame)), i < pair.responses.count else { Issue.record("body \(b.frame)"); continue }
            #expect(pair.responses[i].body.decodedLength == Int(b.fields[0]), "response \(i)")
            #expect(pair.responses[i].body.sha256 == b.fields[1], "response \(i)")
        }
        #expect(pair.anomalies.isEmpty, "\(pair.anomalies)")
    }

    @Test func pipelinedGzipIsDecoded() throws {
        var pair = HTTPPair()
        pair.run(Fixture.segments("http_pipelined_gzip"))
        try #require(pair.responses.count >= 2)
        #expect(pair.responses[0].body.coding == .gzip)
        #expect(pair.responses[0].body.captured.starts(with: Array(ascii: "/*")))
        #expect(pair.responses.allSatisfy { $0.requestMethod == "GET" })
    }

    /// Same messages (and frames) when both directions are fed one byte at a time.
    @Test(arguments: fixtures)
    func byteAtATimeMatches(name: String) {
        var whole = HTTPPair(), bytewise = HTTPPair()
        whole.run(Fixture.segments(name))
        bytewise.run(Fixture.segments(name), byteAtATime: true)
        #expect(whole.requests == bytewise.requests)
        #expect(whole.responses == bytewise.responses)
    }

    /// Every truncated prefix of each direction: no crash, and never more complete messages than the whole.
    @Test(arguments: ["http_pipelined_gzip", "http_post", "http_full_request_v6"])
    func everyTruncatedPrefix(name: String) {
        let segs = Fixture.segments(name)
        var whole = HTTPPair()
        whole.run(segs)
        for fromClient in [true, false] {
            let stream = segs.filter { $0.fromClient == fromClient }.flatMap(\.bytes)
            let step = max(1, stream.count / 400)
            var n = 0
            while n < stream.count {
                var p = HTTPStreamParser(role: fromClient ? .request : .response)
                for _ in whole.requests { p.noteRequestMethod("GET") }
                p.feed(Array(stream[0..<n]), frame: 1)
                p.finish()
                let events = p.takeEvents()
                let complete = events.filter {
                    switch $0 {
                    case .request(let r): return r.complete
                    case .response(let r): return r.complete && r.body.framing != .connectionClose
                    case .anomaly: return false
                    }
                }.count
                #expect(complete <= (fromClient ? whole.requests.count : whole.responses.count))
                n += step
            }
        }
    }
}

@Suite struct HTTPSyntheticTests {
    static let blockPage = Array(repeating: "<html><body>Access to this resource is restricted</body></html>\n", count: 3).joined()
    static let blockPageSHA = "20426728ab7e41fc2828b308d3a1bb9edaf213340c3ed38be864fb65a8fe6b6e"   // python hashlib
    static let gzipHex = "1f8b0800000000000203b3c928c9cdb1b349ca4fa9b4734c4e4e2d2e5628c95728c9c82c56284a2dce2f2d4a4e5580b04b8a32934b52536cf4c16a6df4c11ab96c06583f00fa94c31fc0000000"
    static let zlibHex = "789cb3c928c9cdb1b349ca4fa9b4734c4e4e2d2e5628c95728c9c82c56284a2dce2f2d4a4e5580b04b8a32934b52536cf4c16a6df4c11ab96c06583f004cf34561"
    static let rawDeflateHex = "b3c928c9cdb1b349ca4fa9b4734c4e4e2d2e5628c95728c9c82c56284a2dce2f2d4a4e5580b04b8a32934b52536cf4c16a6df4c11ab96c06583f00"

    static func response(_ body: [UInt8], headers: String) -> [UInt8] {
        Array(ascii: "HTTP/1.1 200 OK\r\n" + headers + "\r\n") + body
    }

    static func parseResponse(_ bytes: [UInt8], limits: HTTPParserLimits = HTTPParserLimits(), byteAtATime: Bool = false,
                              method: String = "GET") -> ([HTTPResponse], [HTTPAnomaly]) {
        var p = HTTPStreamParser(role: .response, limits: limits)
        p.noteRequestMethod(method)
        if byteAtATime { for (i, b) in bytes.enumerated() { p.feed([b], frame: i + 1) } } else { p.feed(bytes, frame: 1) }
        p.finish()
        var rs: [HTTPResponse] = [], an: [HTTPAnomaly] = []
        for e in p.takeEvents() {
            if case .response(let r) = e { rs.append(r) }
            if case .anomaly(let a) = e { an.append(a) }
        }
        return (rs, an)
    }

    @Test(arguments: [("gzip", gzipHex), ("deflate", zlibHex), ("deflate", rawDeflateHex)])
    func compressedBodiesAreDecoded(coding: String, hex: String) throws {
        let body = try #require(Hex.decode(hex))
        let msg = Self.response(body, headers: "Content-Encoding: \(coding)\r\nContent-Length: \(body.count)\r\n")
        let (rs, an) = Self.parseResponse(msg)
        #expect(an.isEmpty)
        let r = try #require(rs.first)
        #expect(r.body.decodeError == nil)
        #expect(r.body.decodedLength == Self.blockPage.utf8.count)
        #expect(r.body.sha256 == Self.blockPageSHA)
        // The compressed bytes as sent (python hashlib of each hex string).
        let raw = [Self.gzipHex: "d337ecac6ba11c8b49d0f6e3c8acd296b4a262c7f58419a60e358ee47f845f8f",
                   Self.zlibHex: "a4bc864df751229e51229d70f7e8bdce53083defad97bd4384d96e9618e4575e",
                   Self.rawDeflateHex: "6d0151d2154aaf09a9ae164e3fbde7e70327a09037cd976fc08901bebc3a8d10"]
        #expect(r.body.rawSHA256 == raw[hex])
        #expect(r.body.rawSHA256 != r.body.sha256)
        #expect(r.body.captured == Array(Self.blockPage.utf8))
        #expect(r.body.coding == (coding == "gzip" ? .gzip : .deflate))
    }

    @Test func chunkedGzipFedOneByteAtATime() throws {
        let gz = try #require(Hex.decode(Self.gzipHex))
        var wire = Array(ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n")
        var rest = gz[...]
        while !rest.isEmpty {
            let n = min(17, rest.count)
            wire += Array(ascii: String(n, radix: 16) + ";ext=1\r\n") + rest.prefix(n) + Array(ascii: "\r\n")
            rest = rest.dropFirst(n)
        }
        wire += Array(ascii: "0\r\nX-Trailer: yes\r\n\r\n")
        wire += Array(ascii: "HTTP/1.1 204 No Content\r\n\r\n")
        let (a, _) = Self.parseResponse(wire + [], byteAtATime: false)
        var p = HTTPStreamParser(role: .response)
        p.noteRequestMethod("GET"); p.noteRequestMethod("GET")
        for (i, b) in wire.enumerated() { p.feed([b], frame: 1000 + i) }
        p.finish()
        let rs = p.takeEvents().compactMap { if case .response(let r) = $0 { r } else { nil } }
        #expect(rs.count == 2)
        let r = try #require(rs.first)
        #expect(r.body.framing == .chunked)
        #expect(r.body.sha256 == Self.blockPageSHA)
        #expect(r.body.wireLength == gz.count)
        #expect(r.firstFrame == 1000)
        #expect(r.lastFrame == 1000 + wire.count - "HTTP/1.1 204 No Content\r\n\r\n".utf8.count - 1)
        #expect(rs.last?.status == 204)
        #expect(a.first?.body.sha256 == r.body.sha256)
    }

    @Test func chunkSizeOverflow() {
        let wire = Array(ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc")
        let (rs, an) = Self.parseResponse(wire)
        #expect(an.contains { $0.name == "http.chunk_size_overflow" })
        #expect(rs.count == 1 && rs.first?.complete == false)
        // 15 hex digits is accepted as a size (and simply never completes).
        let (rs2, an2) = Self.parseResponse(Array(ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nabc"))
        #expect(an2.contains { $0.name == "http.body_truncated" })
        #expect(rs2.first?.body.wireLength == 3)
        let (_, an3) = Self.parseResponse(Array(ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        #expect(an3.contains { $0.name == "http.bad_chunk_size" })
    }

    @Test func contentLengthLies() {
        // Longer than the data: reported at end of stream as partial.
        let (rs, an) = Self.parseResponse(Array(ascii: "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nshort"))
        #expect(an.contains { $0.name == "http.body_truncated" })
        #expect(rs.first?.complete == false && rs.first?.body.wireLength == 5)
        // Shorter than the data: the rest is not a response.
        let (rs2, an2) = Self.parseResponse(Array(ascii: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello world"))
        #expect(rs2.first?.body.captured == Array(ascii: "he"))
        #expect(an2.contains { $0.name == "http.bad_status_line" })
        // Not a number, overflow, conflicting.
        for v in ["abc", "99999999999999999999999", "5, 6"] {
            let (_, an3) = Self.parseResponse(Array(ascii: "HTTP/1.1 200 OK\r\nContent-Length: \(v)\r\n\r\nhello"))
            #expect(an3.contains { $0.name == "http.bad_content_length" || $0.name == "http.conflicting_content_length" }, "\(v)")
        }
    }

    /// The head is copied a line at a time once its start is checked; fed whole, in odd pieces or a byte at a time,
    /// a parser must give the same events, anomalies (with their offsets) included: a head that crosses the cap inside
    /// a line, a line of lone CRs (an empty line: RFC 9112 §2.2 leniency), a bare-LF head, a folded line.
    @Test(arguments: [
        ("GET /a HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 30) + "\r\n", [String]()),
        ("GET /b HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\r\nGET /c HTTP/1.1\r\nHost: y\r\n\r\n", ["/b 2", "/c 1"]),
        ("GET /d HTTP/1.1\nHost: x\nB: 2\n\nGET /e HTTP/1.0\n\n", ["/d 2", "/e 0"]),
        ("GET /f HTTP/1.1\r\nHost: x\r\nC: 3\r\n  folded\r\nD : 4\r\n\r\n", ["/f 3"]),
    ])
    func headCopiedByLinesEqualsByteAtATime(text: String, targets: [String]) {
        let bytes = Array(text.utf8)
        func events(_ pieces: [[UInt8]]) -> [HTTPEvent] {
            var p = HTTPStreamParser(role: .request, limits: HTTPParserLimits(maxHeaderBytes: 300))
            for (i, piece) in pieces.enumerated() { p.feed(piece, frame: 1 + i / 7) }
            p.finish()
            return p.takeEvents()
        }
        let whole = events([bytes])
        #expect(!whole.isEmpty)
        // The requests themselves (target and header count): a line of lone CRs ends a head, a bare LF ends a line,
        // and a head over the cap gives no request.
        #expect(whole.compactMap { if case .request(let r) = $0 { "\(r.target) \(r.headers.count)" } else { nil } } == targets)
        for size in [1, 2, 3, 5, 17, 64] {
            let pieces = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            let got = events(pieces)
            #expect(got.map(Self.shape) == whole.map(Self.shape), "pieces of \(size)")
        }
    }

    /// An event without its frame numbers (pieces arrive in different frames).
    static func shape(_ e: HTTPEvent) -> String {
        switch e {
        case .request(let r): "request \(r.method) \(r.target) \(r.version) \(r.headers.map { "\($0.name)=\($0.value)" }) \(r.complete)"
        case .response(let r): "response \(r.status) \(r.headers.count) \(r.complete)"
        // Head anomalies carry the offset of the piece being fed (so they differ by piece size in any parser); the
        // cap's offset is exact and must not move.
        case .anomaly(let a): "anomaly \(a.name)" + (a.name == "http.header_section_too_large" ? " @\(a.offset ?? -1)" : "")
        }
    }

    @Test func hugeHeaderSectionIsCapped() {
        var p = HTTPStreamParser(role: .request, limits: HTTPParserLimits(maxHeaderBytes: 4096))
        p.feed(Array(ascii: "GET / HTTP/1.1\r\n"), frame: 1)
        let line = Array(ascii: "X-Junk: " + String(repeating: "a", count: 1000) + "\r\n")
        for i in 0..<1000 { p.feed(line, frame: 2 + i) }
        p.finish()
        let events = p.takeEvents()
        #expect(events.contains { if case .anomaly(let a) = $0 { a.name == "http.header_section_too_large" } else { false } })
        #expect(p.ignoredBytes > 900_000)
    }

    @Test func nonHTTPBytesAreNamed() {
        var p = HTTPStreamParser(role: .request)
        p.feed([0x16, 0x03, 0x01, 0x02, 0x00, 0x01] + [UInt8](repeating: 0x41, count: 5000), frame: 7)
        p.finish()
        let events = p.takeEvents()
        #expect(events.count == 1)
        if case .anomaly(let a)? = events.first { #expect(a.name == "http.not_http" && a.frame == 7) } else { Issue.record("no anomaly") }
        var q = HTTPStreamParser(role: .response)
        q.feed(Array(ascii: "SSH-2.0-OpenSSH_9.0\r\n"), frame: 3)
        #expect(q.takeEvents().contains { if case .anomaly(let a) = $0 { a.name == "http.not_http" } else { false } })
    }

    @Test func noBodyResponses() {
        // HEAD with a Content-Length, then 1xx interim, then 204, 304: none has a body; the next message parses.
        var p = HTTPStreamParser(role: .response)
        for m in ["HEAD", "GET", "GET", "GET"] { p.noteRequestMethod(m) }
        p.feed(Array(ascii: "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
                     + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
                     + "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
                     + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), frame: 1)
        p.finish()
        let rs = p.takeEvents().compactMap { if case .response(let r) = $0 { r } else { nil } }
        #expect(rs.map(\.status) == [200, 100, 204, 304, 200])
        #expect(rs.map(\.requestMethod) == ["HEAD", nil, "GET", "GET", "GET"])
        #expect(rs.map(\.body.framing) == [.none, .none, .none, .none, .contentLength])
        #expect(rs.last?.body.captured == Array(ascii: "ok"))
        #expect(rs.allSatisfy { $0.complete })
    }

    @Test func connectionCloseBodyAndPartialAtEnd() {
        let (rs, _) = Self.parseResponse(Array(ascii: "HTTP/1.0 403 Forbidden\r\nServer: x\r\n\r\nblocked by order"))
        #expect(rs.first?.body.framing == .connectionClose)
        #expect(rs.first?.body.captured == Array(ascii: "blocked by order"))
        #expect(rs.first?.complete == true)
        var p = HTTPStreamParser(role: .request)
        p.feed(Array(ascii: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Le"), frame: 4)
        p.finish()
        let ev = p.takeEvents()
        let req = ev.compactMap { if case .request(let r) = $0 { r } else { nil } }.first
        #expect(req?.complete == false && req?.method == "POST" && req?.host == "a")
        #expect(ev.contains { if case .anomaly(let a) = $0 { a.name == "http.partial_header" } else { false } })
    }

    @Test func bodyCaptureIsCappedButHashIsWhole() throws {
        let pre = try #require(Hex.decode("1f8b0800000000000203edc101010000008220ffaf6e484001"))
        let suf = try #require(Hex.decode("af069ecb791240420f00"))
        let gz = pre + [UInt8](repeating: 0, count: 968) + suf           // gzip of 1,000,000 zero bytes (python)
        let msg = Self.response(gz, headers: "Content-Encoding: gzip\r\nContent-Length: \(gz.count)\r\n")
        let (rs, _) = Self.parseResponse(msg, limits: HTTPParserLimits(maxBodyBytes: 100))
        let r = try #require(rs.first)
        #expect(r.body.decodedLength == 1_000_000)
        #expect(r.body.captured.count == 100)
        #expect(r.body.truncated)
        #expect(r.body.decodeError == nil)
        // Decode cap: stops inflating at 10,000 bytes and says so; the hash covers what was decoded.
        let (rs2, an2) = Self.parseResponse(msg, limits: HTTPParserLimits(maxBodyBytes: 100, maxDecodedBytes: 10_000))
        #expect(rs2.first?.body.decodedLength == 10_000)
        #expect(rs2.first?.body.sha256 == "95b532cc4381affdff0d956e12520a04129ed49d37e154228368fe5621f0b9a2")  // sha256(10,000 zeros)
        #expect(an2.contains { $0.name == "http.decoded_body_cap" })
    }

    /// Identity and unsupported codings decode to their own bytes: both digests are the body's digest.
    @Test(arguments: ["", "Content-Encoding: br\r\n", "Content-Encoding: identity\r\n"])
    func undecodedBodiesHaveOneDigest(coding: String) throws {
        let body = Array(Self.blockPage.utf8)
        let (rs, _) = Self.parseResponse(Self.response(body, headers: coding + "Content-Length: \(body.count)\r\n"))
        let r = try #require(rs.first)
        #expect(r.body.sha256 == Self.blockPageSHA)
        #expect(r.body.rawSHA256 == Self.blockPageSHA)
    }

    @Test func corruptGzipIsNamedNotFatal() {
        let msg = Self.response(Array(ascii: "\u{1f}not really gzip at all"), headers: "Content-Encoding: gzip\r\nContent-Length: 23\r\n")
        let (rs, _) = Self.parseResponse(msg + Array(ascii: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(rs.count == 2)                 // the bad body does not stop the stream
        #expect(rs.last?.status == 200)
        #expect(rs.first?.body.decodeError != nil)
        #expect(rs.first?.body.rawSHA256.count == 64)
    }

    @Test func requestsPipelinedWithBodiesAndHost() {
        var p = HTTPStreamParser(role: .request)
        let wire = Array(ascii: "\r\nGET /a HTTP/1.1\r\nHost: Example.KZ\r\nUser-Agent: t\r\n\r\n"
                         + "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                         + "PUT /c HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nxyz"
                         + "GET /d HTTP/1.1\r\nHost: one\r\nHost: two\r\n\r\n")
        for (i, b) in wire.enumerated() { p.feed([b], frame: i / 50 + 1) }
        p.finish()
        let ev = p.takeEvents()
        let rs = ev.compactMap { if case .request(let r) = $0 { r } else { nil } }
        #expect(rs.map(\.method) == ["GET", "POST", "PUT", "GET"])
        #expect(rs.map(\.target) == ["/a", "/b", "/c", "/d"])
        #expect(rs.first?.host == "Example.KZ")
        #expect(rs.first?.headers == [HTTPHeader(name: "Host", value: "Example.KZ"), HTTPHeader(name: "User-Agent", value: "t")])
        #expect(rs[1].body.captured == Array(ascii: "abc"))
        #expect(rs[2].body.captured == Array(ascii: "xyz"))
        #expect(rs.allSatisfy { $0.complete })
        #expect(ev.contains { if case .anomaly(let a) = $0 { a.name == "http.multiple_host" } else { false } })
        #expect(rs.first?.firstFrame == 1)
    }

    @Test func tunnelStopsParsing() {
        var p = HTTPStreamParser(role: .response)
        p.noteRequestMethod("CONNECT")
        p.feed(Array(ascii: "HTTP/1.1 200 Connection established\r\n\r\n") + [0x16, 0x03, 0x01, 0, 5, 1, 2, 3, 4, 5], frame: 1)
        p.finish()
        let ev = p.takeEvents()
        #expect(ev.count == 1)
        #expect(p.tunneled)
        #expect(p.ignoredBytes == 10)
    }
}
