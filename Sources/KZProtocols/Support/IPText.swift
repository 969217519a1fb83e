/// Text forms of IP addresses found inside application data (DNS rdata, certificate SANs).
public enum IPText {
    /// Dotted-quad IPv4 text of 4 bytes; nil for another count.
    public static func ipv4<C: Collection>(_ b: C) -> String? where C.Element == UInt8 {
        guard b.count == 4 else { return nil }
        return b.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 §4 canonical IPv6 text of 16 bytes: lowercase, no leading zeros, the longest run of two or
    /// more zero groups (the first on a tie) shortened to `::`; IPv4-mapped addresses (`::ffff:0:0/96`) in the
    /// mixed form of §5 (`::ffff:192.0.2.1`). Nil for another count.
    public static func ipv6<C: Collection>(_ b: C) -> String? where C.Element == UInt8 {
        guard b.count == 16 else { return nil }
        let a = Array(b)
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<8 { groups[i] = UInt16(a[2 * i]) << 8 | UInt16(a[2 * i + 1]) }
        if groups[0...4].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return "::ffff:" + a[12...15].map { String($0) }.joined(separator: ".")
        }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        if bestLen < 2 { bestStart = -1 }
        var out = ""
        i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLen
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}
