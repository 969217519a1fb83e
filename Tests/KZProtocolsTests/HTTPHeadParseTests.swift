import Testing
import KZWire
@testable import KZProtocols
import KZTestSupport

/// The header-section parser reads lines as byte ranges (all-ASCII lines split and trimmed on bytes, others through
/// `String`). These tests hold it to the `String`-based parser it replaced, kept here as `ReferenceHead`, on random
/// and mutated header sections: same message fields, same anomalies with the same details, in the same order.
@Suite struct HTTPHeadParseTests {
    /// What the parser learned from one header section.
    struct Head: Equatable, CustomStringConvertible {
        var ok = false
        var method = "", target = "", version = "", status = 0, reason = ""
        var headers: [HTTPHeader] = []
        var host: String?
        var anomalies: [String] = []
        var description: String {
            "ok=\(ok) \(method)|\(target)|\(version)|\(status)|\(reason) host=\(host ?? "nil") headers=\(headers.map { "\($0.name)=\($0.value)" }) anomalies=\(anomalies)"
        }
    }

    /// The names `parseHead` can report (the parser's other anomalies, e.g. body framing, are not compared).
    static let headAnomalies: Set<String> = [
        "http.not_http", "http.bad_request_line", "http.bad_status_line", "http.http09_request",
        "http.space_in_target", "http.bad_version", "http.obs_fold", "http.bad_header_line",
        "http.space_before_colon", "http.bad_header_name", "http.too_many_headers", "http.multiple_host",
        "http.missing_host",
    ]

    /// The header-section parser before byte ranges: split into lines, then every field through `String`.
    static func referenceHead(_ head: [UInt8], role: HTTPStreamRole, maxHeaderCount: Int) -> Head {
        var r = Head()
        var lines: [ArraySlice<UInt8>] = head.split(separator: 0x0a, omittingEmptySubsequences: false)
        lines = lines.map { $0.last == 0x0d ? $0.dropLast() : $0 }
        while let l = lines.last, l.isEmpty { lines.removeLast() }
        guard let startLine = lines.first else { return r }
        let text = String(decoding: startLine, as: UTF8.self)
        let badName = "http.not_http"
        func anomaly(_ name: String, _ detail: String) { r.anomalies.append("\(name)|\(detail)") }
        switch role {
        case .request:
            let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy(HTTPStreamParser.isTokenChar) else {
                anomaly(badName, String(text.prefix(64)))
                return r
            }
            r.method = parts[0]
            if parts.count == 2 {
                r.target = parts[1]
                r.version = "HTTP/0.9"
                anomaly("http.http09_request", String(text.prefix(64)))
            } else {
                r.version = parts[parts.count - 1]
                r.target = parts[1..<(parts.count - 1)].joined(separator: " ")
                if parts.count > 3 { anomaly("http.space_in_target", String(text.prefix(64))) }
                if !HTTPStreamParser.isVersion(r.version) { anomaly("http.bad_version", r.version) }
            }
        case .response:
            let sp = text.firstIndex(of: " ")
            let version = sp.map { String(text[..<$0]) } ?? text
            let rest = sp.map { String(text[text.index(after: $0)...]) } ?? ""
            let code = rest.prefix(3)
            guard version.hasPrefix("HTTP/"), code.count == 3, code.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let status = Int(code), rest.count == 3 || rest.dropFirst(3).first == " "
            else {
                anomaly(badName, String(text.prefix(64)))
                return r
            }
            if !HTTPStreamParser.isVersion(version) { anomaly("http.bad_version", version) }
            r.version = version
            r.status = status
            r.reason = rest.count > 4 ? String(rest.dropFirst(4)) : ""
        }
        r.ok = true
        var tooMany = false
        for line in lines.dropFirst() {
            if let f = line.first, f == 0x20 || f == 0x09 {
                anomaly("http.obs_fold", "")
                if !r.headers.isEmpty {
                    r.headers[r.headers.count - 1].value += " " + String(decoding: line, as: UTF8.self).trimmingASCIISpaces()
                }
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                anomaly("http.bad_header_line", String(String(decoding: line, as: UTF8.self).prefix(64)))
                continue
            }
            var nameBytes = line[line.startIndex..<colon]
            if let l = nameBytes.last, l == 0x20 || l == 0x09 {
                anomaly("http.space_before_colon", String(decoding: nameBytes, as: UTF8.self))
                while let l = nameBytes.last, l == 0x20 || l == 0x09 { nameBytes = nameBytes.dropLast() }
            }
            if nameBytes.isEmpty || !nameBytes.allSatisfy(HTTPStreamParser.isTokenChar) {
                anomaly("http.bad_header_name", String(decoding: nameBytes.prefix(64), as: UTF8.self))
            }
            if r.headers.count >= maxHeaderCount {
                if !tooMany { anomaly("http.too_many_headers", "over \(maxHeaderCount)") }
                tooMany = true
                continue
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingASCIISpaces()
            r.headers.append(HTTPHeader(name: name, value: value))
        }
        if role == .request {
            let hosts = r.headers.filter { $0.name.equalsASCIICaseInsensitive("host") }
            r.host = hosts.first?.value
            if hosts.count > 1 { anomaly("http.multiple_host", hosts.map(\.value).joined(separator: ", ")) }
            if hosts.isEmpty && r.version == "HTTP/1.1" { anomaly("http.missing_host", "") }
        }
        return r
    }

    /// The parser's reading of one header section fed whole, then finished.
    static func parsed(_ head: [UInt8], role: HTTPStreamRole, maxHeaderCount: Int) -> Head {
        var p = HTTPStreamParser(role: role, limits: HTTPParserLimits(maxHeaderCount: maxHeaderCount))
        p.feed(head, frame: 1)
        p.finish()
        var r = Head()
        for e in p.takeEvents() {
            switch e {
            case .request(let m) where !r.ok:
                r.ok = true
                (r.method, r.target, r.version, r.headers, r.host) = (m.method, m.target, m.version, m.headers, m.host)
            case .response(let m) where !r.ok:
                r.ok = true
                (r.version, r.status, r.reason, r.headers) = (m.version, m.status, m.reason, m.headers)
            case .anomaly(let a) where headAnomalies.contains(a.name):
                r.anomalies.append("\(a.name)|\(a.detail)")
            default:
                break
            }
        }
        return r
    }

    /// Pieces that stress the byte/character boundary: white space, colons, CR, non-ASCII letters, a combining mark
    /// after a space (one character in `String`), a prepend mark before a space (also one), invalid UTF-8.
    static let pieces: [[UInt8]] = [
        Array("Host".utf8), Array("host".utf8), Array("X-Forwarded-For".utf8), Array("Content-Type".utf8),
        Array("text/html".utf8), Array("example.kz".utf8), Array("GET".utf8), Array("HTTP/1.1".utf8),
        Array("HTTP/1.0".utf8), Array("200".utf8), Array("404".utf8), Array("OK".utf8), Array("/index.html".utf8),
        [0x20], [0x20], [0x20], [0x09], [0x3a], [0x3a], [0x0d], [0x2f], [0x2e], [0x22], [0x7f], [0x00],
        [0xc3, 0xa9], [0xd0, 0x9a, 0xd0, 0xb7], [0x20, 0xcc, 0x81], [0xcc, 0x81], [0xd8, 0x80, 0x20], [0xff],
        [0x80], [0xe2, 0x80], Array("a".utf8), Array("1".utf8),
    ]

    static let asciiPieces = pieces.filter { $0.allSatisfy { $0 < 0x80 } }

    static func randomLine(_ g: inout TestRandom, ascii: Bool) -> [UInt8] {
        var line: [UInt8] = []
        for _ in 0..<Int.random(in: 0...7, using: &g) { line += (ascii ? asciiPieces : pieces).randomElement(using: &g)! }
        // Never a line of only CRs (that ends the header section early).
        if !line.isEmpty && line.allSatisfy({ $0 == 0x0d }) { line.append(0x61) }
        return line
    }

    /// `ascii`: only ASCII pieces (every line takes the byte path).
    static func randomHead(_ g: inout TestRandom, role: HTTPStreamRole, ascii: Bool) -> [UInt8] {
        var start: [UInt8]
        switch role {
        case .request:
            // A method of token characters and a space within the first 20 bytes (the early check passes).
            start = [Array("GET".utf8), Array("POST".utf8), Array("M-SEARCH".utf8)].randomElement(using: &g)! + [0x20]
        case .response:
            start = Array("HTTP/".utf8)
        }
        start += randomLine(&g, ascii: ascii)
        if Bool.random(using: &g) {
            start += role == .request ? Array(" /x HTTP/1.1".utf8) : Array("1.1 200 OK".utf8)
        }
        var head = start + [0x0d, 0x0a]
        for _ in 0..<Int.random(in: 0...9, using: &g) {
            var line: [UInt8]
            switch Int.random(in: 0..<4, using: &g) {
            case 0: line = randomLine(&g, ascii: ascii)
            case 1: line = randomLine(&g, ascii: ascii) + [0x3a] + randomLine(&g, ascii: ascii)
            case 2: line = Array(["Host", "Via", "X-A"].randomElement(using: &g)!.utf8) + [0x3a] + randomLine(&g, ascii: ascii)
            default: line = [0x20] + randomLine(&g, ascii: ascii)
            }
            if line.isEmpty { line = [0x61] }
            head += line + (Bool.random(using: &g) ? [0x0d, 0x0a] : [0x0a])
        }
        return head + [0x0d, 0x0a]
    }

    @Test func headerSectionsMatchTheStringParser() {
        var g = TestRandom(seed: 0x6b7a)
        var compared = 0, parsedOK = 0, nonASCII = 0
        for n in 0..<6_000 {
            let role: HTTPStreamRole = n % 2 == 0 ? .request : .response
            let head = Self.randomHead(&g, role: role, ascii: n % 4 < 2)
            let maxCount = n % 3 == 0 ? 3 : 256
            let want = Self.referenceHead(head, role: role, maxHeaderCount: maxCount)
            let got = Self.parsed(head, role: role, maxHeaderCount: maxCount)
            #expect(got == want, "\(role) head \(Hex.string(head))\n got \(got)\nwant \(want)")
            compared += 1
            if want.ok { parsedOK += 1 }
            if head.contains(where: { $0 >= 0x80 }) { nonASCII += 1 }
            if got != want { break }
        }
        // The generator reaches both outcomes and both paths.
        #expect(compared == 6_000)
        #expect(parsedOK > 1_000 && compared - parsedOK > 1_000)
        #expect(nonASCII > 1_000 && compared - nonASCII > 1_000)
    }

    @Test func fixedHeads() {
        let cases: [(HTTPStreamRole, String)] = [
            (.request, "GET / HTTP/1.1\r\nHost: a.kz\r\n\r\n"),
            (.request, "GET /a b HTTP/1.1\r\nHost:  a.kz \t\r\nhost: b\r\n\r\n"),
            (.request, "GET /\r\n\r\n"),
            (.request, "GET / HTTP/1.1\r\nX : y\r\n folded\r\nbad line\r\n: v\r\n\r\n"),
            (.request, "GET / HTTP/1.1\r\nX: \u{301}a \u{600} \r\n\r\n"),
            (.response, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"),
            (.response, "HTTP/1.1 200\r\n\r\n"),
            (.response, "HTTP/1.1 200 \r\n\r\n"),
            (.response, "HTTP/1.1 20x OK\r\n\r\n"),
            (.response, "HTTP/1.1 2000 OK\r\n\r\n"),
            (.response, "HTTP/2 301 Moved \u{0416}\r\nLocation: http://x\r\n\r\n"),
            (.response, "HTTP/1.1\r\n\r\n"),
        ]
        for (role, text) in cases {
            let head = Array(text.utf8)
            #expect(Self.parsed(head, role: role, maxHeaderCount: 256)
                    == Self.referenceHead(head, role: role, maxHeaderCount: 256), "\(text.debugDescription)")
        }
        // And a value the byte path trims.
        let r = Self.parsed(Array("HTTP/1.1 302 Found\r\nLocation: \t http://b.kz/ \t\r\n\r\n".utf8), role: .response,
                            maxHeaderCount: 256)
        #expect(r.status == 302 && r.reason == "Found" && r.headers == [HTTPHeader(name: "Location", value: "http://b.kz/")])
    }
}
