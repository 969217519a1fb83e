/// An IPv4 or IPv6 address stored inline in 17 bytes (two words and a version tag), trivially copyable and hashable,
/// so flow keys need no allocation. IPv4 addresses live in the low 32 bits of `low` with `high == 0`.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isV6: Bool

    @inlinable public init(v4 value: UInt32) { high = 0; low = UInt64(value); isV6 = false }
    @inlinable public init(v6High: UInt64, low: UInt64) { high = v6High; self.low = low; isV6 = true }

    /// Reads an address of `length` 4 or 16 bytes at `offset` (network order). The caller validated bounds.
    @inlinable public init(reading bytes: UnsafeRawBufferPointer, at offset: Int, v6: Bool) {
        if v6 { self.init(v6High: bytes.be64(offset), low: bytes.be64(offset + 8)) }
        else { self.init(v4: bytes.be32(offset)) }
    }

    public var v4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isV6 != b.isV6 { return !a.isV6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    /// Dotted quad for IPv4; RFC 5952 canonical text for IPv6 (lowercase hex, longest run of ≥2 zero groups as `::`,
    /// first such run on ties, IPv4-mapped `::ffff:a.b.c.d` written with a dotted tail).
    public var description: String {
        if !isV6 {
            let v = v4Value
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 { groups[i] = UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * i)) }
        for i in 0..<4 { groups[4 + i] = UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * i)) }
        if high == 0 && (low >> 32) == 0xffff {
            let v = UInt32(truncatingIfNeeded: low)
            return "::ffff:\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
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

    /// Parses dotted-quad IPv4 or textual IPv6 (with `::` and an optional dotted tail). Returns nil when invalid.
    public init?(_ text: some StringProtocol) {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard !p.isEmpty, p.count <= 3, let n = UInt32(p), n <= 255 else { return nil }
                v = v << 8 | n
            }
            self.init(v4: v)
            return
        }
        var head: [UInt16] = [], tail: [UInt16] = []
        let str = String(text)
        var halves: [String] = []
        if let r = str.firstRange(of: "::") {
            halves = [String(str[..<r.lowerBound]), String(str[r.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        } else {
            halves = [str]
        }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1, p.contains(".") {
                    guard let v4 = IPAddress(p), !v4.isV6 else { return nil }
                    out.append(UInt16(v4.v4Value >> 16)); out.append(UInt16(v4.v4Value & 0xffff))
                } else {
                    guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let h = groups(halves[0]) else { return nil }
        head = h
        if halves.count == 2 {
            guard let t = groups(halves[1]) else { return nil }
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(all[i]) }
        self.init(v6High: hi, low: lo)
    }

    /// `ADDR:PORT`, IPv6 as `[ADDR]:PORT` (REPORT.md).
    public func withPort(_ port: UInt16) -> String { isV6 ? "[\(self)]:\(port)" : "\(self):\(port)" }

    /// Appends `description`'s UTF-8 bytes (IPv4 formatted in place, IPv6 through `description`).
    public func appendText(to out: inout [UInt8]) {
        guard !isV6 else { out.append(contentsOf: description.utf8); return }
        let v = v4Value
        JSONText.appendDecimal(UInt64(v >> 24), to: &out)
        out.append(0x2E)
        JSONText.appendDecimal(UInt64((v >> 16) & 0xff), to: &out)
        out.append(0x2E)
        JSONText.appendDecimal(UInt64((v >> 8) & 0xff), to: &out)
        out.append(0x2E)
        JSONText.appendDecimal(UInt64(v & 0xff), to: &out)
    }

    /// Appends `withPort(port)`'s UTF-8 bytes.
    public func appendText(port: UInt16, to out: inout [UInt8]) {
        if isV6 { out.append(0x5B) }
        appendText(to: &out)
        if isV6 { out.append(0x5D) }
        out.append(0x3A)
        JSONText.appendDecimal(UInt64(port), to: &out)
    }
}
