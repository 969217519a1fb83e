import Foundation
import Testing
import KZWire
import KZTestSupport

/// JSON string quoting (RFC 8259 §7): what a JSON parser reads back is the original string.
@Suite struct JSONTextTests {
    @Test func escapesWhatMustBeEscapedAndNothingElse() {
        #expect(JSONText.quote("plain host.example:443") == "\"plain host.example:443\"")
        #expect(JSONText.quote("a\"b\\c\nd\te\r\u{01}") == #""a\"b\\c\nd\te\r\u0001""#)
        #expect(JSONText.quote("Қазақстан é") == "\"Қазақстан é\"")
    }

    @Test func randomStringsRoundTripThroughAJSONParser() throws {
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\u{01}", "\u{1f}", "é", "Қ", "😀", "/", ":"]
        var rng = TestRandom(seed: 0x2116e63001)
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
        var rng = TestRandom(seed: 0x2116e63002)
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

    /// Timestamps and addresses written as bytes read exactly as their `description` (every precision, negative
    /// times, IPv4, IPv6 and v4-mapped addresses).
    @Test func timestampAndAddressBytesMatchDescriptions() {
        var rng = TestRandom(seed: 0x2116e63003)
        func bytes(_ f: (inout [UInt8]) -> Void) -> String {
            var b: [UInt8] = []
            f(&b)
            return String(decoding: b, as: UTF8.self)
        }
        var stamps: [Timestamp] = [Timestamp(nanoseconds: 0, digits: 6), Timestamp(nanoseconds: 1, digits: 9),
                                   Timestamp(nanoseconds: -1_500_000_000, digits: 6), Timestamp(nanoseconds: .max),
                                   Timestamp(nanoseconds: .min, digits: 3), Timestamp(nanoseconds: 1_700_000_000_000_000_007, digits: 0)]
        for _ in 0..<3000 {
            stamps.append(Timestamp(nanoseconds: Int64.random(in: -4_000_000_000_000_000_000 ... 4_000_000_000_000_000_000, using: &rng)
                                        >> Int64.random(in: 0..<40, using: &rng),
                                    digits: UInt8.random(in: 0...12, using: &rng)))
        }
        for t in stamps { #expect(bytes { t.appendText(to: &$0) } == t.description) }

        var addrs: [IPAddress] = [IPAddress(v4: 0), IPAddress(v4: .max), IPAddress(v4: 0x0a00_0001)]
        for _ in 0..<2000 {
            addrs.append(IPAddress(v4: UInt32.random(in: 0 ... .max, using: &rng)))
            let hi = Bool.random(using: &rng) ? UInt64.random(in: 0 ... .max, using: &rng) : 0
            let lo = Bool.random(using: &rng) ? 0x0000_ffff_0000_0000 | UInt64.random(in: 0...0xffff_ffff, using: &rng)
                : UInt64.random(in: 0 ... .max, using: &rng) & (Bool.random(using: &rng) ? 0xffff_0000_0000_ffff : .max)
            addrs.append(IPAddress(v6High: hi, low: lo))
        }
        for a in addrs {
            let port = UInt16.random(in: 0 ... .max, using: &rng)
            #expect(bytes { a.appendText(to: &$0) } == a.description)
            #expect(bytes { a.appendText(port: port, to: &$0) } == a.withPort(port))
        }
    }
}
