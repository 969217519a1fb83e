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

/// Builds one JSON object as text, keys in insertion order.
public struct JSONObjectWriter {
    public private(set) var text = "{"
    private var first = true
    public init() {}
    private mutating func key(_ k: String) {
        if !first { text += "," }
        first = false
        text += "\"" + k + "\":"
    }
    public mutating func raw(_ k: String, _ v: String) { key(k); text += v }
    public mutating func string(_ k: String, _ v: String) { key(k); text += JSONText.quote(v) }
    public mutating func int<I: BinaryInteger>(_ k: String, _ v: I) { key(k); text += String(v) }
    public mutating func bool(_ k: String, _ v: Bool) { key(k); text += v ? "true" : "false" }
    public mutating func intArray<I: BinaryInteger>(_ k: String, _ v: [I]) {
        key(k); text += "[" + v.map { String($0) }.joined(separator: ",") + "]"
    }
    public func finished() -> String { text + "}" }
}
