import Foundation
import Testing
import KZWire

/// JSON string quoting (RFC 8259 §7): what a JSON parser reads back is the original string.
@Suite struct JSONTextTests {
    @Test func escapesWhatMustBeEscapedAndNothingElse() {
        #expect(JSONText.quote("plain host.example:443") == "\"plain host.example:443\"")
        #expect(JSONText.quote("a\"b\\c\nd\te\r\u{01}") == #""a\"b\\c\nd\te\r\u0001""#)
        #expect(JSONText.quote("Қазақстан é") == "\"Қазақстан é\"")
    }

    @Test func randomStringsRoundTripThroughAJSONParser() throws {
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\u{01}", "\u{1f}", "é", "Қ", "😀", "/", ":"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let s = String((0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let json = "[" + JSONText.quote(s) + "]"
            let back = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
            #expect(back == [s], "\(json)")
        }
    }

    /// The byte writer formats integers as `String(v)` does, at the edges of every width.
    @Test func integersMatchStringConversion() {
        func text<I: BinaryInteger>(_ v: I) -> String {
            var b: [UInt8] = []
            JSONText.appendInt(v, to: &b)
            return String(decoding: b, as: UTF8.self)
        }
        let signed: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 1_000_000_007, -9_999_999_999, .max, .min]
        for v in signed { #expect(text(v) == String(v)) }
        for v in [UInt64.max, UInt64(Int64.max) + 1, 0] { #expect(text(v) == String(v)) }
        for v in [UInt8.max, 0] { #expect(text(v) == String(v)) }
        for v in [Int8.min, Int8.max] { #expect(text(v) == String(v)) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let v = Int64.random(in: .min ... .max, using: &rng) >> Int64.random(in: 0..<63, using: &rng)
            #expect(text(v) == String(v))
        }
    }

    /// A written object parses back to the values written, keys in the order written.
    @Test func objectWriterRoundTrips() throws {
        var w = JSONObjectWriter()
        w.string("capture", "a \"b\" \\ Қ\n")
        w.int("n", -42)
        w.int("u", UInt64.max)
        w.bool("t", true)
        w.bool("f", false)
        w.intArray("ttl", [UInt8(64), 255])
        w.intArray("empty", [Int]())
        w.raw("anomalies", "{}")
        let text = w.finished()
        #expect(text.hasPrefix("{\"capture\":") && text.hasSuffix("\"anomalies\":{}}"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(o["capture"] as? String == "a \"b\" \\ Қ\n")
        #expect((o["n"] as? NSNumber)?.int64Value == -42)
        #expect((o["u"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect(o["t"] as? Bool == true && o["f"] as? Bool == false)
        #expect(o["ttl"] as? [Int] == [64, 255] && (o["empty"] as? [Int])?.isEmpty == true)
        var w2 = w
        #expect(String(decoding: w2.finishedBytes(), as: UTF8.self) == text)
        #expect(JSONObjectWriter().finished() == "{}")
    }
}
