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
}
