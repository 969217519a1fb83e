import Foundation

/// Deterministic JSON for reports: sorted keys, fixed layout, no wall-clock time.
/// The text is what Foundation's `JSONEncoder` writes with `[.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]`
/// (without `.prettyPrinted` for a line), produced by `JSONTextEncoder` in a fraction of the time.
public enum ReportJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        try JSONTextEncoder(prettyPrinted: true).encode(value)
    }
    /// One line (jsonl).
    public static func encodeLine<T: Encodable>(_ value: T) throws -> String {
        try JSONTextEncoder(prettyPrinted: false).encode(value)
    }

    /// Foundation's encoder with the same options: the reference `JSONTextEncoder` is tested against.
    public static func foundationEncode<T: Encodable>(_ value: T, prettyPrinted: Bool = true) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = prettyPrinted ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}
