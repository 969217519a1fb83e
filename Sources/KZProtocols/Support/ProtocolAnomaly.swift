/// A named oddity found while parsing application-layer bytes, in the `area.snake_case` style
/// (`dns.name_pointer_loop`, `http.chunk_size_overflow`, `tls.record_too_long`).
///
/// Anomalies are data, not errors: a parser records them and keeps what it could parse.
/// `frame` is the capture frame number (1-based) of the byte that revealed the anomaly when the parser
/// knows it (stream parsers), `offset` the byte offset inside the parsed message when that is meaningful.
public struct ProtocolAnomaly: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Stable dotted name, e.g. `dns.trailing_bytes`.
    public var name: String
    /// Human-readable context (lengths, values). Never used for matching.
    public var detail: String
    /// Frame number of the byte that revealed the anomaly, when known.
    public var frame: Int?
    /// Offset inside the message (DNS) or stream direction (HTTP/TLS), when known.
    public var offset: Int?

    public init(_ name: String, _ detail: String = "", frame: Int? = nil, offset: Int? = nil) {
        self.name = name
        self.detail = detail
        self.frame = frame
        self.offset = offset
    }

    public var description: String {
        var s = name
        if !detail.isEmpty { s += " (\(detail))" }
        if let frame { s += " @frame \(frame)" }
        if let offset { s += " @offset \(offset)" }
        return s
    }
}

/// DNS anomalies are `ProtocolAnomaly` values named `dns.*`.
public typealias DNSAnomaly = ProtocolAnomaly
/// HTTP anomalies are `ProtocolAnomaly` values named `http.*`.
public typealias HTTPAnomaly = ProtocolAnomaly
/// TLS anomalies are `ProtocolAnomaly` values named `tls.*`.
public typealias TLSAnomaly = ProtocolAnomaly
