import Foundation
import KZWire

/// Which side of an HTTP connection a parser reads.
public enum HTTPStreamRole: String, Sendable, Hashable, Codable {
    /// The originator → responder direction (requests).
    case request
    /// The responder → originator direction (responses).
    case response
}

/// Incremental HTTP/1.x parser for one direction of a reassembled TCP stream (RFC 9112).
///
/// Feed bytes in stream order with the frame they arrived in, call `finish()` at end of stream, and drain
/// `takeEvents()` (requests / responses / anomalies, in stream order). Works with any segmentation.
///
/// - Message framing follows RFC 9112 §6.3: `Transfer-Encoding: chunked` (wins over Content-Length, with
///   `http.te_and_cl`), Content-Length, otherwise no body (requests) or read-until-close (responses).
///   Responses to HEAD, 1xx, 204 and 304 have no body; the response side learns request methods through
///   `noteRequestMethod(_:)` — call it, in order, for every request the other direction's parser emits.
///   After `101 Switching Protocols` or a 2xx answer to CONNECT the stream is a tunnel and is not parsed further.
/// - Bodies are hashed whole (SHA-256 of the decoded body and of the raw body); gzip/deflate are decoded;
///   at most `limits.maxBodyBytes` decoded bytes are kept.
/// - Hostile input never grows memory beyond the limits: an oversized header section
///   (`http.header_section_too_large`), a non-HTTP start (`http.not_http`), a broken later start line
///   (`http.bad_request_line` / `http.bad_status_line`), a chunk size over 15 hex digits
///   (`http.chunk_size_overflow`) or a bad one (`http.bad_chunk_size`) stop parsing for the rest of the stream
///   (bytes are counted in `ignoredBytes`). A Content-Length longer than the data is reported at `finish()`
///   (`http.body_truncated`); a shorter one shows up as a bad start line for the bytes that follow.
///
/// The parser holds a zlib stream (a class instance) while a compressed body is open: do not copy a parser and
/// feed both copies.
public struct HTTPStreamParser {
    // The limits and the body state first, then every one-byte field together, then the words: 168 bytes instead of
    // 208 (each Bool between two words padded to a word), two per live HTTP flow.
    public let limits: HTTPParserLimits
    private var bodyState: BodyState = .close
    public let role: HTTPStreamRole
    private var state: State = .head
    private var finished = false
    private var lineHasContent = false
    private var firstLineDone = false
    private var reportedAfterFinish = false
    private var reportedDecodeCap = false
    /// True once the stream became a tunnel (101 or CONNECT 2xx) and parsing stopped on purpose.
    public private(set) var tunneled = false

    private enum State { case head, body, dead }
    private enum BodyState {
        case length(remaining: Int)
        case close
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd(sawCR: Bool)
        case trailers
    }
    /// The message being read (start line and headers), a class so that a parser between messages (most of a
    /// keep-alive connection's life) holds a reference to an empty one rather than ~150 bytes inline.
    private final class Pending {
        var method = "", target = "", version = "", status = 0, reason = ""
        var headers: [HTTPHeader] = []
        var host: String?
        var requestMethod: String?
        var firstFrame = 0
        var headerLastFrame: Int?
        var isInterim: Bool { status >= 100 && status < 200 }
    }

    private var events: [HTTPEvent] = []
    private var methods: [String] = []
    private var methodsHead = 0
    private var requestCount = 0
    private var responseCount = 0
    private var base = 0
    // Header-section accumulation.
    private var head: [UInt8] = []
    private var firstFrame = 0
    private var lastFrame = 0
    // Body.
    private var pending = Pending()
    /// The body being read, boxed: a parser between bodies holds 8 bytes, not the accumulator's 128. Mutated in place
    /// through the box (its hashers are not copied).
    private final class BodyBox {
        var acc: HTTPBodyAccumulator
        init(_ acc: HTTPBodyAccumulator) { self.acc = acc }
    }
    private var body: BodyBox?
    private var chunkLine: [UInt8] = []
    private var trailerBytes = 0

    /// Bytes not parsed because the stream was given up on (non-HTTP data, tunnel, fatal framing error).
    public private(set) var ignoredBytes = 0
    /// Total bytes fed.
    public var bytesFed: Int { base }

    public init(role: HTTPStreamRole, limits: HTTPParserLimits = HTTPParserLimits()) {
        self.role = role
        self.limits = limits
    }

    /// Tells a response-side parser the method of the next request on this connection (FIFO, for pipelining).
    public mutating func noteRequestMethod(_ method: String) {
        if methodsHead > 1024 { methods.removeFirst(methodsHead); methodsHead = 0 }
        methods.append(method)
    }

    /// Returns and clears the events produced so far.
    public mutating func takeEvents() -> [HTTPEvent] {
        defer { events = [] }
        return events
    }

    /// Feeds stream bytes that arrived in capture frame `frame`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, frame: Int) {
        guard !finished else {
            if !bytes.isEmpty && !reportedAfterFinish {
                reportedAfterFinish = true
                anomaly("http.data_after_finish", "\(bytes.count) bytes", frame: frame, offset: base)
            }
            return
        }
        var i = 0
        while i < bytes.count {
            switch state {
            case .dead:
                ignoredBytes += bytes.count - i
                i = bytes.count
            case .head:
                i = consumeHead(bytes, from: i, frame: frame)
            case .body:
                i = consumeBody(bytes, from: i, frame: frame)
            }
        }
        base += bytes.count
    }

    /// Convenience for owned bytes.
    public mutating func feed(_ bytes: [UInt8], frame: Int) {
        bytes.withUnsafeBytes { feed($0, frame: frame) }
    }

    /// End of stream: a close-delimited body completes; anything else in progress is emitted with
    /// `complete == false` and an anomaly (`http.partial_header`, `http.body_truncated`).
    public mutating func finish() {
        guard !finished else { return }
        finished = true
        switch state {
        case .dead:
            break
        case .head:
            guard !head.isEmpty else { break }
            if !firstLineDone {
                anomaly("http.partial_header", "stream ended inside the start line (\(head.count) bytes)", frame: lastFrame, offset: base)
                break
            }
            anomaly("http.partial_header", "stream ended inside the header section (\(head.count) bytes)", frame: lastFrame, offset: base)
            if parseHead(complete: false) {
                emit(body: HTTPBody.empty(), complete: false)
            }
        case .body:
            if case .close = bodyState {
                completeMessage()
            } else {
                let got = body?.acc.wireLength ?? 0
                let declared = body?.acc.declaredLength.map { "Content-Length \($0)" } ?? "chunked"
                anomaly("http.body_truncated", "\(declared), got \(got) bytes", frame: lastFrame, offset: base)
                abandonMessage()
            }
        }
        head = []
    }

    // MARK: - Header section

    private mutating func consumeHead(_ b: UnsafeRawBufferPointer, from start: Int, frame: Int) -> Int {
        var i = start
        while i < b.count {
            // Past the checked start of the message, whole lines are copied at once: up to and including the next LF,
            // unless that would cross the header-size cap (then byte by byte below, for the exact anomaly offset).
            if !head.isEmpty && (firstLineDone || head.count > 24), let ptr = b.baseAddress {
                let lf = memchr(ptr + i, 0x0a, b.count - i)
                let end = lf.map { ptr.distance(to: UnsafeRawPointer($0)) + 1 } ?? b.count
                if head.count + (end - i) <= limits.maxHeaderBytes {
                    // A line holding only CRs is empty (as the byte loop below treats it).
                    let contentEnd = lf == nil ? end : end - 1
                    var k = i
                    while k < contentEnd && b[k] == 0x0d { k += 1 }
                    if k < contentEnd { lineHasContent = true }
                    head.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[i..<end]))
                    lastFrame = frame
                    i = end
                    if lf != nil {
                        if !lineHasContent {
                            if parseHead(complete: true) { startBody(frame: frame) }
                            return i
                        }
                        lineHasContent = false
                        firstLineDone = true
                    }
                    continue
                }
            }
            let c = b[i]
            if head.isEmpty && (c == 0x0d || c == 0x0a) { i += 1; continue }   // RFC 9112 §2.2
            if head.isEmpty { firstFrame = frame; firstLineDone = false; lineHasContent = false }
            head.append(c)
            i += 1
            lastFrame = frame
            if !firstLineDone && head.count <= 24 && !startLooksValid() {
                rejectStart(frame: frame, offset: base + i - 1)
                return i
            }
            if c == 0x0a {
                if !lineHasContent {
                    if parseHead(complete: true) { startBody(frame: frame) }
                    return i
                }
                lineHasContent = false
                firstLineDone = true
            } else if c != 0x0d {
                lineHasContent = true
            }
            if head.count > limits.maxHeaderBytes {
                anomaly("http.header_section_too_large", "over \(limits.maxHeaderBytes) bytes", frame: frame, offset: base + i)
                goDead()
                return i
            }
        }
        return i
    }

    static let statusLinePrefix: [UInt8] = Array("HTTP/".utf8)

    /// Early check of the first bytes so that binary junk is rejected without buffering it.
    private func startLooksValid() -> Bool {
        let k = head.count - 1
        let c = head[k]
        switch role {
        case .response:
            let prefix = Self.statusLinePrefix
            return k >= prefix.count || c == prefix[k]
        case .request:
            if let sp = head.firstIndex(of: 0x20) { return sp > 0 }
            return k < 20 && Self.isTokenChar(c)
        }
    }

    private mutating func rejectStart(frame: Int, offset: Int) {
        let name = requestCount + responseCount == 0 ? "http.not_http"
            : (role == .request ? "http.bad_request_line" : "http.bad_status_line")
        let preview = Hex.string(head.prefix(16))
        anomaly(name, "first bytes \(preview)", frame: frame, offset: offset)
        ignoredBytes += head.count
        goDead()
    }

    private mutating func goDead() {
        state = .dead
        head = []
    }

    static func isTokenChar(_ c: UInt8) -> Bool {
        // RFC 9110 §5.6.2 tchar.
        switch c {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// Parses `head` into `pending`. Returns false (after going dead) when the start line is unusable.
    ///
    /// Lines are found with `memchr` and read as byte ranges of the header section; an all-ASCII line is split and
    /// trimmed on bytes (there a byte is a character: the only two-byte grapheme of ASCII, CR LF, cannot occur inside
    /// a line), any other line through `String`, whose character rules it then follows exactly.
    private mutating func parseHead(complete: Bool) -> Bool {
        let bytes = head
        head = []
        return bytes.withUnsafeBufferPointer { parseHead(UnsafeRawBufferPointer($0), complete: complete) }
    }

    private mutating func parseHead(_ h: UnsafeRawBufferPointer, complete: Bool) -> Bool {
        // Line ranges: split at LF, one trailing CR dropped, trailing empty lines dropped.
        var lines: [Range<Int>] = []
        lines.reserveCapacity(24)
        if let first = h.baseAddress {
            var s = 0
            while true {
                let lf = s < h.count ? memchr(first + s, 0x0a, h.count - s) : nil
                let e = lf.map { first.distance(to: UnsafeRawPointer($0)) } ?? h.count
                lines.append(s..<(e > s && h[e - 1] == 0x0d ? e - 1 : e))
                if lf == nil { break }
                s = e + 1
            }
        } else {
            lines.append(0..<0)
        }
        while let l = lines.last, l.isEmpty { lines.removeLast() }
        guard let startRange = lines.first else { return false }
        @inline(__always) func slice(_ r: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: h[r]) }
        @inline(__always) func string(_ r: Range<Int>) -> String { String(decoding: slice(r), as: UTF8.self) }
        @inline(__always) func isASCII(_ r: Range<Int>) -> Bool {
            var i = r.lowerBound
            while i &+ 8 <= r.upperBound {
                if h.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
                i &+= 8
            }
            while i < r.upperBound {
                if h[i] >= 0x80 { return false }
                i &+= 1
            }
            return true
        }
        let p = Pending()
        p.firstFrame = firstFrame
        p.headerLastFrame = complete ? lastFrame : nil
        let badName = requestCount + responseCount == 0 ? "http.not_http"
            : (role == .request ? "http.bad_request_line" : "http.bad_status_line")
        let startASCII = isASCII(startRange)
        switch role {
        case .request:
            var parts: [String]
            if startASCII {
                parts = []
                var s = startRange.lowerBound
                for i in startRange where h[i] == 0x20 {
                    parts.append(string(s..<i))
                    s = i + 1
                }
                parts.append(string(s..<startRange.upperBound))
            } else {
                parts = string(startRange).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            }
            guard parts.count >= 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy(Self.isTokenChar) else {
                anomaly(badName, String(string(startRange).prefix(64)), frame: lastFrame, offset: base)
                state = .dead
                return false
            }
            p.method = parts[0]
            if parts.count == 2 {
                p.target = parts[1]
                p.version = "HTTP/0.9"
                anomaly("http.http09_request", String(string(startRange).prefix(64)), frame: lastFrame, offset: base)
            } else {
                p.version = parts[parts.count - 1]
                p.target = parts.count == 3 ? parts[1] : parts[1..<(parts.count - 1)].joined(separator: " ")
                if parts.count > 3 {
                    anomaly("http.space_in_target", String(string(startRange).prefix(64)), frame: lastFrame, offset: base)
                }
                if !Self.isVersion(p.version) { anomaly("http.bad_version", p.version, frame: lastFrame, offset: base) }
            }
        case .response:
            // status-line = HTTP-version SP status-code SP [ reason-phrase ]  (RFC 9112 §4)
            let version: String, status: Int, reason: String
            if startASCII {
                let lo = startRange.lowerBound, hi = startRange.upperBound
                var sp = lo
                while sp < hi && h[sp] != 0x20 { sp += 1 }
                let r = min(sp + 1, hi)              // start of the rest (empty without a space)
                var code = 0
                var digits = 0
                while digits < 3 && r + digits < hi {
                    let d = h[r + digits]
                    guard d >= 0x30 && d <= 0x39 else { break }
                    code = code * 10 + Int(d - 0x30)
                    digits += 1
                }
                let restCount = hi - r
                guard sp - lo >= 5, Self.statusLinePrefix.indices.allSatisfy({ h[lo + $0] == Self.statusLinePrefix[$0] }),
                      digits == 3,
                      restCount == 3 || h[r + 3] == 0x20
                else {
                    anomaly(badName, String(string(startRange).prefix(64)), frame: lastFrame, offset: base)
                    state = .dead
                    return false
                }
                version = string(lo..<sp)
                status = code
                reason = restCount > 4 ? string((r + 4)..<hi) : ""
            } else {
                let text = string(startRange)
                let sp = text.firstIndex(of: " ")
                let v = sp.map { String(text[..<$0]) } ?? text
                let rest = sp.map { String(text[text.index(after: $0)...]) } ?? ""
                let code = rest.prefix(3)
                guard v.hasPrefix("HTTP/"), code.count == 3, code.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let s = Int(code), rest.count == 3 || rest.dropFirst(3).first == " "
                else {
                    anomaly(badName, String(text.prefix(64)), frame: lastFrame, offset: base)
                    state = .dead
                    return false
                }
                version = v
                status = s
                reason = rest.count > 4 ? String(rest.dropFirst(4)) : ""
            }
            if !Self.isVersion(version) { anomaly("http.bad_version", version, frame: lastFrame, offset: base) }
            p.version = version
            p.status = status
            p.reason = reason
        }
        var tooMany = false
        p.headers.reserveCapacity(min(lines.count - 1, limits.maxHeaderCount))
        for line in lines.dropFirst() {
            if let f = line.first.map({ h[$0] }), f == 0x20 || f == 0x09 {
                // obs-fold (RFC 9112 §5.2): join to the previous value.
                anomaly("http.obs_fold", "", frame: lastFrame, offset: base)
                if !p.headers.isEmpty {
                    p.headers[p.headers.count - 1].value += " " + string(line).trimmingASCIISpaces()
                }
                continue
            }
            guard let colon = line.first(where: { h[$0] == UInt8(ascii: ":") }) else {
                anomaly("http.bad_header_line", String(string(line).prefix(64)), frame: lastFrame, offset: base)
                continue
            }
            var nameEnd = colon
            if nameEnd > line.lowerBound, h[nameEnd - 1] == 0x20 || h[nameEnd - 1] == 0x09 {
                anomaly("http.space_before_colon", string(line.lowerBound..<colon), frame: lastFrame, offset: base)
                while nameEnd > line.lowerBound, h[nameEnd - 1] == 0x20 || h[nameEnd - 1] == 0x09 { nameEnd -= 1 }
            }
            let nameRange = line.lowerBound..<nameEnd
            if nameRange.isEmpty || !nameRange.allSatisfy({ Self.isTokenChar(h[$0]) }) {
                anomaly("http.bad_header_name", string(nameRange.prefix(64)), frame: lastFrame, offset: base)
            }
            if p.headers.count >= limits.maxHeaderCount {
                if !tooMany { anomaly("http.too_many_headers", "over \(limits.maxHeaderCount)", frame: lastFrame, offset: base) }
                tooMany = true
                continue
            }
            let name = string(nameRange)
            let valueRange = (colon + 1)..<line.upperBound
            let value: String
            if isASCII(valueRange) {
                var lo = valueRange.lowerBound, hi = valueRange.upperBound
                while lo < hi && (h[lo] == 0x20 || h[lo] == 0x09) { lo += 1 }
                while hi > lo && (h[hi - 1] == 0x20 || h[hi - 1] == 0x09) { hi -= 1 }
                value = string(lo..<hi)
            } else {
                value = string(valueRange).trimmingASCIISpaces()
            }
            p.headers.append(HTTPHeader(name: name, value: value))
        }
        if role == .request {
            let hosts = p.headers.filter { $0.name.equalsASCIICaseInsensitive("host") }
            p.host = hosts.first?.value
            if hosts.count > 1 { anomaly("http.multiple_host", hosts.map(\.value).joined(separator: ", "), frame: lastFrame, offset: base) }
            if hosts.isEmpty && p.version == "HTTP/1.1" { anomaly("http.missing_host", "", frame: lastFrame, offset: base) }
        } else {
            if !p.isInterim {
                if methodsHead < methods.count { p.requestMethod = methods[methodsHead]; methodsHead += 1 }
            }
        }
        pending = p
        return true
    }

    static func isVersion(_ v: String) -> Bool {
        let b = Array(v.utf8)
        return b.count == 8 && v.hasPrefix("HTTP/") && b[5] >= 0x30 && b[5] <= 0x39 && b[6] == 0x2e && b[7] >= 0x30 && b[7] <= 0x39
    }

    /// Decides the body framing (RFC 9112 §6.3) and emits head-only messages.
    private mutating func startBody(frame: Int) {
        let p = pending
        // The three framing fields in one pass over the headers, names compared only at their length.
        var te: [String] = [], clFields: [String] = []
        var encoding: String?
        for h in p.headers {
            switch h.name.utf8.count {
            case 14 where h.name.equalsASCIICaseInsensitive("content-length"): clFields.append(h.value)
            case 16 where encoding == nil && h.name.equalsASCIICaseInsensitive("content-encoding"): encoding = h.value
            case 17 where h.name.equalsASCIICaseInsensitive("transfer-encoding"): te.append(h.value)
            default: break
            }
        }
        let clValues = clFields.flatMap { $0.split(separator: ",").map { $0.trimmingASCIISpaces() } }

        if role == .response {
            let s = p.status
            let noBody = (s >= 100 && s < 200) || s == 204 || s == 304 || p.requestMethod?.uppercased() == "HEAD"
            let tunnel = s == 101 || (p.requestMethod?.uppercased() == "CONNECT" && s >= 200 && s < 300)
            if noBody || tunnel {
                emit(body: HTTPBody.empty(), complete: true)
                if tunnel { tunneled = true; state = .dead }
                return
            }
        }
        if !te.isEmpty {
            if !clValues.isEmpty { anomaly("http.te_and_cl", "Transfer-Encoding and Content-Length both present", frame: frame, offset: base) }
            let codings = te.flatMap { $0.split(separator: ",").map { $0.trimmingASCIISpaces().lowercased() } }
            if codings.last == "chunked" {
                begin(.chunked, declared: nil, encoding: encoding)
                bodyState = .chunkSize
                chunkLine = []
                return
            }
            anomaly("http.bad_transfer_encoding", te.joined(separator: ", "), frame: frame, offset: base)
            if role == .response {
                begin(.connectionClose, declared: nil, encoding: encoding)
                bodyState = .close
            } else {
                emit(body: HTTPBody.empty(), complete: false)
                state = .dead
            }
            return
        }
        if !clValues.isEmpty {
            var lengths = Set<Int>()
            var bad = false
            for v in clValues {
                if v.isEmpty || v.utf8.count > 18 || !v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { bad = true; continue }
                if let n = Int(v) { lengths.insert(n) } else { bad = true }
            }
            if bad || lengths.count != 1, let _ = clValues.first {
                anomaly(bad ? "http.bad_content_length" : "http.conflicting_content_length",
                        clValues.joined(separator: ", "), frame: frame, offset: base)
                if role == .response {
                    begin(.connectionClose, declared: nil, encoding: encoding)
                    bodyState = .close
                } else {
                    emit(body: HTTPBody.empty(), complete: false)
                    state = .dead
                }
                return
            }
            let n = lengths.first ?? 0
            if n == 0 {
                var b = HTTPBody.empty()
                b.framing = .contentLength
                b.declaredLength = 0
                b.contentEncoding = encoding
                emit(body: b, complete: true)
                return
            }
            begin(.contentLength, declared: n, encoding: encoding)
            bodyState = .length(remaining: n)
            return
        }
        if role == .response {
            begin(.connectionClose, declared: nil, encoding: encoding)
            bodyState = .close
        } else {
            emit(body: HTTPBody.empty(), complete: true)
        }
    }

    private mutating func begin(_ framing: HTTPBodyFraming, declared: Int?, encoding: String?) {
        body = BodyBox(HTTPBodyAccumulator(framing: framing, declaredLength: declared, contentEncoding: encoding,
                                               limits: limits))
        trailerBytes = 0
        state = .body
        reportedDecodeCap = false
    }

    // MARK: - Body

    private mutating func appendBody(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, frame: Int) {
        guard !range.isEmpty else { return }
        lastFrame = frame
        body?.acc.append(UnsafeRawBufferPointer(rebasing: b[range]))
        if body?.acc.capHit == true && !reportedDecodeCap {
            reportedDecodeCap = true
            anomaly("http.decoded_body_cap", "decoded body over \(limits.maxDecodedBytes) bytes", frame: frame, offset: base + range.upperBound)
        }
    }

    private mutating func consumeBody(_ b: UnsafeRawBufferPointer, from start: Int, frame: Int) -> Int {
        var i = start
        while i < b.count && state == .body {
            switch bodyState {
            case .close:
                appendBody(b, i..<b.count, frame: frame)
                i = b.count
            case .length(let remaining):
                let take = min(remaining, b.count - i)
                appendBody(b, i..<(i + take), frame: frame)
                i += take
                if remaining - take == 0 { completeMessage() } else { bodyState = .length(remaining: remaining - take) }
            case .chunkData(let remaining):
                let take = min(remaining, b.count - i)
                appendBody(b, i..<(i + take), frame: frame)
                i += take
                bodyState = remaining - take == 0 ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let sawCR):
                let c = b[i]
                lastFrame = frame
                if c == 0x0a {
                    i += 1
                    bodyState = .chunkSize
                    chunkLine = []
                } else if c == 0x0d && !sawCR {
                    i += 1
                    bodyState = .chunkDataEnd(sawCR: true)
                } else {
                    anomaly("http.chunk_missing_crlf", "byte 0x\(String(c, radix: 16)) after chunk data", frame: frame, offset: base + i)
                    bodyState = .chunkSize       // do not consume: treat as the next size line
                    chunkLine = []
                }
            case .chunkSize:
                let c = b[i]
                i += 1
                lastFrame = frame
                if c != 0x0a {
                    chunkLine.append(c)
                    if chunkLine.count > 1024 {
                        anomaly("http.chunk_line_too_long", "over 1024 bytes", frame: frame, offset: base + i)
                        abandonMessage()
                        state = .dead
                    }
                    continue
                }
                handleChunkLine(frame: frame, offset: base + i)
            case .trailers:
                let c = b[i]
                i += 1
                lastFrame = frame
                trailerBytes += 1
                if c == 0x0a {
                    if !lineHasContent { completeMessage(); continue }
                    lineHasContent = false
                } else if c != 0x0d {
                    lineHasContent = true
                }
                if trailerBytes > limits.maxHeaderBytes {
                    anomaly("http.header_section_too_large", "trailer section over \(limits.maxHeaderBytes) bytes", frame: frame, offset: base + i)
                    abandonMessage()
                    state = .dead
                }
            }
        }
        return i
    }

    /// chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1).
    private mutating func handleChunkLine(frame: Int, offset: Int) {
        var line = chunkLine[...]
        if line.last == 0x0d { line = line.dropLast() }
        if let semi = line.firstIndex(of: UInt8(ascii: ";")) { line = line[..<semi] }
        while let l = line.last, l == 0x20 || l == 0x09 { line = line.dropLast() }
        var digits = line
        while digits.count > 1, digits.first == UInt8(ascii: "0") { digits = digits.dropFirst() }
        let text = String(decoding: chunkLine.prefix(40), as: UTF8.self)
        guard !line.isEmpty, line.allSatisfy({ Self.hexValue($0) != nil }) else {
            anomaly("http.bad_chunk_size", text, frame: frame, offset: offset)
            abandonMessage()
            state = .dead
            return
        }
        guard digits.count <= 15 else {
            anomaly("http.chunk_size_overflow", text, frame: frame, offset: offset)
            abandonMessage()
            state = .dead
            return
        }
        var size = 0
        for d in digits { size = size << 4 | Int(Self.hexValue(d) ?? 0) }
        chunkLine = []
        if size == 0 {
            bodyState = .trailers
            lineHasContent = false
        } else {
            bodyState = .chunkData(remaining: size)
        }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    // MARK: - Emission

    private mutating func completeMessage() {
        let b = body?.acc.finish(complete: true) ?? HTTPBody.empty()
        body = nil
        emit(body: b, complete: true)
    }

    private mutating func abandonMessage() {
        let b = body?.acc.finish(complete: false) ?? HTTPBody.empty()
        body = nil
        emit(body: b, complete: false)
    }

    private mutating func emit(body: HTTPBody, complete: Bool) {
        let p = pending
        switch role {
        case .request:
            events.append(.request(HTTPRequest(index: requestCount, method: p.method, target: p.target, version: p.version,
                                               headers: p.headers, host: p.host, body: body, firstFrame: p.firstFrame,
                                               headerLastFrame: p.headerLastFrame, lastFrame: lastFrame, complete: complete)))
            requestCount += 1
        case .response:
            events.append(.response(HTTPResponse(index: responseCount, version: p.version, status: p.status, reason: p.reason,
                                                 headers: p.headers, requestMethod: p.requestMethod, body: body,
                                                 firstFrame: p.firstFrame, headerLastFrame: p.headerLastFrame,
                                                 lastFrame: lastFrame, complete: complete)))
            responseCount += 1
        }
        // The event owns the message now: a live connection's parser keeps no copy of its last headers.
        pending = Pending()
        if state != .dead { state = .head }
        head = []
    }

    private mutating func anomaly(_ name: String, _ detail: String, frame: Int, offset: Int) {
        events.append(.anomaly(HTTPAnomaly(name, detail, frame: frame, offset: offset)))
    }
}
