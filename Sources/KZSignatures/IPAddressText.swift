/// Strict text parsers for IP addresses, used for Signatures/ rows and for values detectors pass in.
public enum IPAddressText {
    /// Dotted-quad IPv4 (RFC 791 notation): exactly four decimal parts 0–255, no leading zeros (`010` is rejected
    /// because `inet_aton` would read it as octal), no sign, no spaces.
    public static func parseIPv4<S: StringProtocol>(_ text: S) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for b in text.utf8 {
            if b == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | current
                parts += 1
                current = 0
                digits = 0
                leadingZero = false
                continue
            }
            guard b >= 0x30 && b <= 0x39 else { return nil }
            if digits == 0 && b == 0x30 { leadingZero = true } else if leadingZero { return nil }
            current = current * 10 + UInt32(b - 0x30)
            digits += 1
            guard digits <= 3, current <= 255 else { return nil }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | current
    }

    /// IPv6 text (RFC 4291 §2.2): eight groups of 1–4 hex digits, one `::` allowed, an embedded dotted-quad IPv4 in
    /// the last 32 bits allowed. Zone ids (`%eth0`) and brackets are rejected; strip them first.
    /// Returns the address as (high 64 bits, low 64 bits).
    public static func parseIPv6<S: StringProtocol>(_ text: S) -> (UInt64, UInt64)? {
        let s = String(text)
        guard s.utf8.count >= 2, s.utf8.allSatisfy({ isHexDigit($0) || $0 == 0x3A || $0 == 0x2E }) else { return nil }
        let halves = s.components(separatedByDoubleColon: ())
        guard let halves, halves.count <= 2 else { return nil }

        func groups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if piece.utf8.contains(UInt8(ascii: ".")) {
                    guard allowIPv4Tail, index == pieces.count - 1, let v4 = parseIPv4(piece) else { return nil }
                    out.append(UInt16(truncatingIfNeeded: v4 >> 16))
                    out.append(UInt16(truncatingIfNeeded: v4))
                    continue
                }
                guard (1...4).contains(piece.utf8.count), let g = UInt16(piece, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }

        var words: [UInt16]
        if halves.count == 1 {
            guard let g = groups(halves[0], allowIPv4Tail: true), g.count == 8 else { return nil }
            words = g
        } else {
            guard let head = groups(halves[0], allowIPv4Tail: false),
                  let tail = groups(halves[1], allowIPv4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(words[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(words[i]) }
        return (high, low)
    }

    @inline(__always) static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }
}

extension String {
    /// Splits on `::`; nil if `::` appears twice or a `:::` run appears.
    /// Byte scans (the text is ASCII by the caller's check): every AAAA answer of a capture is parsed here, and
    /// Foundation's `contains`/`range(of:)` went through CFString.
    fileprivate func components(separatedByDoubleColon: ()) -> [String]? {
        let u = Array(utf8)
        var parts: [String] = []
        var start = 0, i = 0
        while i + 1 < u.count {
            if u[i] == 0x3A && u[i + 1] == 0x3A {
                if i + 2 < u.count && u[i + 2] == 0x3A { return nil }        // ":::"
                parts.append(String(decoding: u[start..<i], as: UTF8.self))
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        parts.append(String(decoding: u[start..<u.count], as: UTF8.self))
        // A single colon at either end without `::` is invalid (":1:2..." or "...:").
        if parts.count == 1 {
            if hasPrefix(":") || hasSuffix(":") { return nil }
        } else {
            if parts[0].hasPrefix(":") || parts[0].hasSuffix(":") { return nil }
            if let last = parts.last, last.hasPrefix(":") || last.hasSuffix(":") { return nil }
        }
        return parts
    }
}

/// An IPv4 or IPv6 address value; a `String` round-trip is not needed for matching.
public enum IPAddressValue: Hashable, Sendable {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Parses IPv4 dotted quad, else IPv6 (an optional `[...]` around IPv6 is accepted).
    public init?(_ text: String) {
        var t = Substring(text)
        if t.hasPrefix("[") && t.hasSuffix("]") { t = t.dropFirst().dropLast() }
        if let v4 = IPAddressText.parseIPv4(t) { self = .v4(v4); return }
        if let (h, l) = IPAddressText.parseIPv6(t) { self = .v6(h, l); return }
        return nil
    }
}
