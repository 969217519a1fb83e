/// Minimal readers for what a probe asks for: the HTTP Host header (RFC 9110 §7.2) or the TLS SNI (RFC 8446 §4.1.2,
/// RFC 6066 §3). Only what sweep grouping needs; bounds-checked, never trapping on bad input. Full parsers live in
/// KZProtocols.
enum RequestKey {
    /// `host` (lowercased, port stripped) or `sni` of the first request bytes, or nil.
    static func of(_ payload: ArraySlice<UInt8>) -> String? {
        httpHost(payload) ?? tlsSNI(payload)
    }

    static func httpHost(_ p: ArraySlice<UInt8>) -> String? {
        let bytes = Array(p.prefix(4096))
        guard let firstSpace = bytes.firstIndex(of: 0x20), firstSpace > 0, firstSpace < 10,
              bytes[0..<firstSpace].allSatisfy({ $0 >= 0x41 && $0 <= 0x5a }) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: false).dropFirst() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "host" {
                var v = line[line.index(after: colon)...].trimmingSpaces().lowercased()
                if !v.hasPrefix("["), let c = v.lastIndex(of: ":") { v = String(v[..<c]) }
                return v.isEmpty ? nil : v
            }
        }
        return nil
    }

    static func tlsSNI(_ p: ArraySlice<UInt8>) -> String? {
        let b = Array(p)
        // record header 5, handshake header 4, version 2, random 32
        guard b.count > 43, b[0] == 0x16, b[1] == 0x03, b[5] == 0x01 else { return nil }
        var i = 43
        func u8(_ at: Int) -> Int? { at < b.count ? Int(b[at]) : nil }
        func u16(_ at: Int) -> Int? { at + 1 < b.count ? Int(b[at]) << 8 | Int(b[at + 1]) : nil }
        guard let sidLen = u8(i) else { return nil }
        i += 1 + sidLen
        guard let csLen = u16(i) else { return nil }
        i += 2 + csLen
        guard let cmLen = u8(i) else { return nil }
        i += 1 + cmLen
        guard let extTotal = u16(i) else { return nil }
        i += 2
        let end = min(b.count, i + extTotal)
        while i + 4 <= end {
            guard let type = u16(i), let len = u16(i + 2) else { return nil }
            let body = i + 4
            if type == 0, let listLen = u16(body), listLen >= 3, let nameType = u8(body + 2), nameType == 0,
               let nameLen = u16(body + 3), body + 5 + nameLen <= b.count {
                return String(decoding: b[(body + 5)..<(body + 5 + nameLen)], as: UTF8.self).lowercased()
            }
            i = body + len
        }
        return nil
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
