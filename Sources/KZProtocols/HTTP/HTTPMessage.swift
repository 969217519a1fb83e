import KZWire

/// One header field line, name and value as sent (value without surrounding whitespace), RFC 9112 §5.
public struct HTTPHeader: Sendable, Hashable, Codable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// How a message body was delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: String, Sendable, Hashable, Codable {
    /// No body (requests without Content-Length/Transfer-Encoding, HEAD/1xx/204/304 responses).
    case none
    case contentLength
    case chunked
    /// Response read until the connection closed.
    case connectionClose
}

/// Which content coding was undone before hashing.
public enum HTTPContentCoding: String, Sendable, Hashable, Codable {
    case identity, gzip, deflate
    /// A coding this parser does not decode (`br`, `zstd`, stacked codings …); the body is kept as sent.
    case unsupported
}

/// A message body as captured: hashes over all of it, bytes up to the cap.
public struct HTTPBody: Sendable, Hashable, Codable {
    public var framing: HTTPBodyFraming
    /// Declared Content-Length, when that framed the body.
    public var declaredLength: Int?
    /// Payload bytes after removing chunked framing, before content decoding.
    public var wireLength: Int
    /// Bytes after content decoding (equals `wireLength` for identity).
    public var decodedLength: Int
    /// SHA-256 (lowercase hex) of the decoded body — over everything decoded, not only the captured part.
    public var sha256: String
    /// SHA-256 (lowercase hex) of the body before content decoding.
    public var rawSHA256: String
    /// The decoded body, at most `HTTPParserLimits.maxBodyBytes` bytes.
    public var captured: [UInt8]
    /// True when `captured` holds less than the decoded body.
    public var truncated: Bool
    /// The Content-Encoding header value, if any.
    public var contentEncoding: String?
    public var coding: HTTPContentCoding
    /// Why decoding stopped early (zlib message, size cap, incomplete stream), if it did.
    public var decodeError: String?
    /// True when the framing delimited the whole body (false: stream ended or the parser gave up first).
    public var complete: Bool

    static func empty() -> HTTPBody {
        let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        return HTTPBody(framing: .none, declaredLength: nil, wireLength: 0, decodedLength: 0, sha256: emptyHash,
                        rawSHA256: emptyHash, captured: [], truncated: false, contentEncoding: nil, coding: .identity,
                        decodeError: nil, complete: true)
    }
}

/// An HTTP/1.x request (RFC 9112 §3).
public struct HTTPRequest: Sendable, Hashable, Codable {
    /// 0-based position among the requests of this stream.
    public var index: Int
    public var method: String
    public var target: String
    /// e.g. `HTTP/1.1`.
    public var version: String
    /// Header fields in order of appearance.
    public var headers: [HTTPHeader]
    /// The first Host header value, if any.
    public var host: String?
    public var body: HTTPBody
    /// Frame of the message's first byte.
    public var firstFrame: Int
    /// Frame of the byte that ended the header section (nil if it never ended).
    public var headerLastFrame: Int?
    /// Frame of the message's last byte seen.
    public var lastFrame: Int
    /// False when the stream ended (or the parser gave up) before the message was complete.
    public var complete: Bool

    /// First value of the named header (case-insensitive).
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name.equalsASCIICaseInsensitive(n) }?.value
    }
}

/// An HTTP/1.x response (RFC 9112 §4).
public struct HTTPResponse: Sendable, Hashable, Codable {
    /// 0-based position among the responses of this stream (interim 1xx responses count).
    public var index: Int
    public var version: String
    public var status: Int
    public var reason: String
    public var headers: [HTTPHeader]
    /// The method of the request this answers, from `noteRequestMethod(_:)`, if known.
    public var requestMethod: String?
    public var body: HTTPBody
    public var firstFrame: Int
    public var headerLastFrame: Int?
    public var lastFrame: Int
    public var complete: Bool

    /// True for 1xx informational responses (they precede the final response to the same request).
    public var isInterim: Bool { status >= 100 && status < 200 }

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name.equalsASCIICaseInsensitive(n) }?.value
    }
}

/// What an `HTTPStreamParser` produces, in stream order.
public enum HTTPEvent: Sendable, Hashable, Codable {
    case request(HTTPRequest)
    case response(HTTPResponse)
    case anomaly(HTTPAnomaly)
}

/// Bounds that keep a parser's memory and CPU finite on hostile streams.
public struct HTTPParserLimits: Sendable, Hashable, Codable {
    /// Largest start line + header section (and chunked trailer section); beyond: `http.header_section_too_large`.
    public var maxHeaderBytes: Int
    /// Most header fields per message; beyond: `http.too_many_headers` (the rest are dropped).
    public var maxHeaderCount: Int
    /// Decoded body bytes kept in `HTTPBody.captured`; the hash still covers the whole body.
    public var maxBodyBytes: Int
    /// Decoding (gzip/deflate) stops after this many output bytes: `http.decoded_body_cap`.
    public var maxDecodedBytes: Int

    public init(maxHeaderBytes: Int = 64 * 1024, maxHeaderCount: Int = 256, maxBodyBytes: Int = 1024 * 1024,
                maxDecodedBytes: Int = 64 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxDecodedBytes = maxDecodedBytes
    }
}
