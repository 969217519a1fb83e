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
    ///
    /// One pass over the bytes, no allocation: every AAAA answer of a capture is parsed here (poisoned-answer check).
    public static func parseIPv6<S: StringProtocol>(_ text: S) -> (UInt64, UInt64)? {
        // The longest valid text is six 4-digit groups and a dotted quad: 45 characters.
        let n = text.utf8.count
        guard n >= 2, n <= 45 else { return nil }
        if let r = text.utf8.withContiguousStorageIfAvailable({ parseIPv6(bytes: $0) }) { return r }
        return Array(text.utf8).withUnsafeBufferPointer { parseIPv6(bytes: $0) }
    }

    private static func parseIPv6(bytes b: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
        let n = b.count
        var words = SIMD8<UInt16>()
        var count = 0
        var gap = -1                      // index in `words` where `::` stands
        var i = 0
        if b[0] == 0x3A {                 // a leading colon only as `::`
            guard b[1] == 0x3A else { return nil }
            gap = 0
            i = 2
            if i < n && b[i] == 0x3A { return nil }                      // ":::"
        }
        while i < n {
            let start = i
            var value: UInt32 = 0
            while i < n, let d = hexValue(b[i]), i - start < 5 {
                value = value << 4 | UInt32(d)
                i += 1
            }
            if i < n && b[i] == 0x2E {
                // A dotted quad: the rest of the text, and the last 32 bits.
                guard count <= 6, let v4 = parseIPv4(String(decoding: UnsafeBufferPointer(rebasing: b[start..<n]),
                                                            as: UTF8.self)) else { return nil }
                words[count] = UInt16(truncatingIfNeeded: v4 >> 16)
                words[count + 1] = UInt16(truncatingIfNeeded: v4)
                count += 2
                break
            }
            let digits = i - start
            guard digits >= 1, digits <= 4, count < 8 else { return nil }
            words[count] = UInt16(value)
            count += 1
            if i == n { break }
            guard b[i] == 0x3A, i + 1 < n else { return nil }           // another character, or a trailing ':'
            i += 1
            if b[i] == 0x3A {
                guard gap < 0 else { return nil }                        // a second `::`
                gap = count
                i += 1
                if i < n && b[i] == 0x3A { return nil }                  // ":::"
            }
        }
        if gap < 0 {
            guard count == 8 else { return nil }
        } else {
            guard count <= 7 else { return nil }
            // Move the groups after `::` to the end; zeros fill the gap.
            let tail = count - gap
            var moved = SIMD8<UInt16>()
            for k in 0..<gap { moved[k] = words[k] }
            for k in 0..<tail { moved[8 - tail + k] = words[gap + k] }
            words = moved
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<4 { high = high << 16 | UInt64(words[k]) }
        for k in 4..<8 { low = low << 16 | UInt64(words[k]) }
        return (high, low)
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x61...0x66: b - 0x61 + 10
        case 0x41...0x46: b - 0x41 + 10
        default: nil
        }
    }

    @inline(__always) static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
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
