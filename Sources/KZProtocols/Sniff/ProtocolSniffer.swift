/// Application protocols the sniffer recognises.
public enum AppProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    case dns, http, tls, unknown
}

/// The transport the first bytes came from.
public enum TransportKind: String, Sendable, Hashable, Codable {
    case tcp, udp
}

/// Content-first protocol recognition (the port is only a tie-breaker when the bytes are too few to tell).
///
/// - TLS: a record header `16 03 0x` (handshake, SSL 3.0–TLS 1.3 record versions), or any TLS content type
///   (20–23) with version `03 0x` and a plausible length (a capture that starts mid-stream), or an SSLv2-framed
///   ClientHello (`80 xx 01 03 0x` / `80 xx 01 00 02`).
/// - HTTP: a known request method followed by a space and a target (`/`, `*`, or an absolute URI), an
///   extension method whose request line carries ` HTTP/`, or a status line starting `HTTP/1.`.
/// - DNS over TCP: a two-byte length then a header whose opcode and counts are plausible for that length;
///   DNS over UDP: a header that parses with plausible counts (on any port when the whole message parses
///   cleanly with one question).
public enum ProtocolSniffer {
    static let methods: Set<String> = [
        "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "PURGE",
    ]

    /// Best guess for a connection whose first bytes (from either side; the originator's when available) are
    /// `firstBytes`, whose server (responder) port is `serverPort`.
    public static func guess(firstBytes b: UnsafeRawBufferPointer, serverPort: UInt16, transport: TransportKind) -> AppProtocol {
        if transport == .tcp {
            if looksLikeTLS(b) { return .tls }
            if looksLikeHTTP(b) { return .http }
            if looksLikeDNSOverTCP(b, port: serverPort) { return .dns }
            // Too few bytes to tell anything: fall back to the port.
            if b.count < 4 {
                switch serverPort {
                case 53: return .dns
                case 80, 8080, 8000, 3128: return .http
                case 443, 8443, 853, 993, 995, 465: return .tls
                default: return .unknown
                }
            }
            return .unknown
        } else {
            if looksLikeDNSOverUDP(b, port: serverPort) { return .dns }
            return .unknown
        }
    }

    /// Convenience for owned bytes.
    public static func guess(firstBytes: [UInt8], serverPort: UInt16, transport: TransportKind) -> AppProtocol {
        firstBytes.withUnsafeBytes { guess(firstBytes: $0, serverPort: serverPort, transport: transport) }
    }

    static func looksLikeTLS(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 3 else { return false }
        if b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 { return true }
        if (0x14...0x17).contains(b[0]) && b[1] == 0x03 && b[2] <= 0x04 && b.count >= 5 {
            let len = Int(b[3]) << 8 | Int(b[4])
            return len > 0 && len <= 16384 + 2048
        }
        if b.count >= 5 && b[0] & 0x80 != 0 && b[2] == 0x01 && ((b[3] == 0x03 && b[4] <= 0x04) || (b[3] == 0x00 && b[4] == 0x02)) {
            return true
        }
        return false
    }

    static func looksLikeHTTP(_ b: UnsafeRawBufferPointer) -> Bool {
        if b.count >= 7 && b.starts(with: Array("HTTP/1.".utf8)) { return true }
        // Method token: 1–16 uppercase letters (or '-'/'_'), then one space, then a target start.
        var i = 0
        while i < b.count && i < 17 && ((b[i] >= 0x41 && b[i] <= 0x5a) || b[i] == 0x2d || b[i] == 0x5f) { i += 1 }
        guard i >= 3, i < b.count, b[i] == 0x20 else { return false }
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: b[0..<i]), as: UTF8.self)
        guard i + 1 < b.count else { return methods.contains(method) }
        let t = b[i + 1]
        let targetStart = t == UInt8(ascii: "/") || t == UInt8(ascii: "*") || t == UInt8(ascii: "h") || t == UInt8(ascii: "H")
        if methods.contains(method) { return targetStart || method == "CONNECT" }
        // An extension method (RFC 9110 §9.1) only counts when the request line also carries " HTTP/".
        guard targetStart else { return false }
        let line = b.prefix { $0 != 0x0a }
        return String(decoding: line, as: UTF8.self).contains(" HTTP/")
    }

    /// Header plausibility shared by both DNS transports: opcode 0–6 except 3, Z bit clear, at most 16 questions,
    /// and enough bytes for the counts when `length` is known.
    static func plausibleHeader(_ b: UnsafeRawBufferPointer, at o: Int, length: Int?) -> Bool {
        let r = ByteReader(b)
        guard let flags = r.get16(at: o + 2), let qd = r.get16(at: o + 4), let an = r.get16(at: o + 6),
              let ns = r.get16(at: o + 8), let ar = r.get16(at: o + 10) else { return false }
        let opcode = (flags >> 11) & 0xf
        guard opcode <= 6, opcode != 3, qd <= 16 else { return false }
        if let length {
            let minimum = 12 + Int(qd) * 5 + (Int(an) + Int(ns) + Int(ar)) * 11
            guard minimum <= length else { return false }
        }
        return true
    }

    static func looksLikeDNSOverTCP(_ b: UnsafeRawBufferPointer, port: UInt16) -> Bool {
        guard b.count >= 14 else { return false }
        let length = Int(b[0]) << 8 | Int(b[1])
        guard length >= 12, plausibleHeader(b, at: 2, length: length) else { return false }
        if port == 53 { return true }
        // Off port 53: require the message (if fully present) to parse cleanly, and at least one question.
        guard b.count >= 2 + length else {
            return (Int(b[6]) << 8 | Int(b[7])) >= 1 && (port == 5353 || port == 853 || port == 5355)
        }
        let res = DNSMessage.parse(UnsafeRawBufferPointer(rebasing: b[2..<(2 + length)]))
        return res.complete && res.anomalies.isEmpty && (res.message?.questions.count ?? 0) >= 1
    }

    static func looksLikeDNSOverUDP(_ b: UnsafeRawBufferPointer, port: UInt16) -> Bool {
        guard b.count >= 12, plausibleHeader(b, at: 0, length: b.count) else { return false }
        if port == 53 || port == 5353 || port == 5355 { return true }
        let res = DNSMessage.parse(b)
        return res.complete && res.anomalies.isEmpty && res.message?.questions.count == 1
    }
}
