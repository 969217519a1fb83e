/// Minimal JSON text helpers for line-oriented outputs (jsonl) where building a Codable value per packet would cost
/// more than the decode itself. Keys are written in the order given (callers keep them fixed, so output is stable).
public enum JSONText {
    /// A JSON string literal with RFC 8259 §7 escaping.
    public static func quote(_ s: String) -> String {
        // Fast path: nothing to escape (RFC 8259 §7: quotation mark, reverse solidus, controls below U+0020).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Builds one JSON object as text, keys in insertion order. Writes UTF-8 bytes into one buffer (integers formatted in
/// place, strings escaped in place), so a row of twenty fields costs one allocation instead of dozens of temporary
/// strings.
public struct JSONObjectWriter {
    @usableFromInline var bytes: [UInt8]
    @usableFromInline var first = true

    public init() {
        bytes = []
        bytes.reserveCapacity(256)
        bytes.append(0x7B)
    }

    /// The object so far (without its closing brace).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    @inlinable mutating func key(_ k: String) {
        if !first { bytes.append(0x2C) }
        first = false
        bytes.append(0x22)
        bytes.append(contentsOf: k.utf8)
        bytes.append(0x22)
        bytes.append(0x3A)
    }

    public mutating func raw(_ k: String, _ v: String) { key(k); bytes.append(contentsOf: v.utf8) }
    public mutating func string(_ k: String, _ v: String) { key(k); JSONText.appendQuoted(v, to: &bytes) }
    /// A string value whose UTF-8 bytes `write` appends and which needs no escaping (timestamps, addresses).
    public mutating func plainString(_ k: String, _ write: (inout [UInt8]) -> Void) {
        key(k)
        bytes.append(0x22)
        write(&bytes)
        bytes.append(0x22)
    }
    @inlinable public mutating func int<I: BinaryInteger>(_ k: String, _ v: I) { key(k); JSONText.appendInt(v, to: &bytes) }
    public mutating func bool(_ k: String, _ v: Bool) {
        key(k)
        bytes.append(contentsOf: v ? "true".utf8 : "false".utf8)
    }
    @inlinable public mutating func intArray<I: BinaryInteger>(_ k: String, _ v: [I]) {
        key(k)
        bytes.append(0x5B)
        for (n, x) in v.enumerated() {
            if n > 0 { bytes.append(0x2C) }
            JSONText.appendInt(x, to: &bytes)
        }
        bytes.append(0x5D)
    }
    public func finished() -> String {
        var b = bytes
        b.append(0x7D)
        return String(decoding: b, as: UTF8.self)
    }
    /// The finished object's UTF-8 bytes (consumes the writer's buffer).
    public mutating func finishedBytes() -> [UInt8] {
        bytes.append(0x7D)
        defer { bytes = [] }
        return bytes
    }
}

extension JSONText {
    /// Appends `v` in decimal (what `String(v)` gives).
    @inlinable public static func appendInt<I: BinaryInteger>(_ v: I, to out: inout [UInt8]) {
        if let x = Int64(exactly: v) {
            if x < 0 {
                out.append(0x2D)
                appendDecimal(x.magnitude, to: &out)
            } else {
                appendDecimal(UInt64(x), to: &out)
            }
        } else if let u = UInt64(exactly: v) {
            appendDecimal(u, to: &out)
        } else {
            out.append(contentsOf: String(v).utf8)
        }
    }

    @inlinable public static func appendDecimal(_ v: UInt64, to out: inout [UInt8]) {
        if v < 10 {
            out.append(0x30 &+ UInt8(truncatingIfNeeded: v))
            return
        }
        var count = 1
        var n = v
        while n >= 10 { n /= 10; count &+= 1 }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(0x30), count: count))
        out.withUnsafeMutableBufferPointer { b in
            var x = v
            var i = start &+ count &- 1
            repeat {
                b[i] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10)
                x /= 10
                i &-= 1
            } while x > 0
        }
    }

    /// Appends `s` as a JSON string literal (RFC 8259 §7), as `quote` returns it.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append(contentsOf: s.utf8)
        } else {
            out.append(contentsOf: quote(s).utf8.dropFirst().dropLast())
        }
        out.append(0x22)
    }
}
