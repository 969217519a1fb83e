import Foundation
import Testing
@testable import KZSignatures
import KZTestSupport

/// FIPS 180-4 / NIST CAVP example vectors through the digest the block-page matcher uses.
@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(BodyDigest.sha256Hex(bytes("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(BodyDigest.sha256Hex(bytes("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(BodyDigest.sha256Hex(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(BodyDigest.sha256Hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(BodyDigest.sha256Hex(bytes(String(repeating: "a", count: 64)))
                == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func hexHelpers() {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.canonicalFingerprint("AB:cd 01") == "abcd01")
        #expect(Hex.canonicalFingerprint("xyz") == nil)
        #expect(Hex.canonicalFingerprint("") == nil)
        #expect(Hex.isHex(String(repeating: "F", count: 40), count: 40))
        #expect(!Hex.isHex(String(repeating: "g", count: 40), count: 40))
    }
}

@Suite struct NormalizationTests {
    @Test func noneIsIdentity() {
        let body = bytes("  A\tB  ")
        #expect(BodyNormalization.none.apply(body) == body)
    }

    @Test func wsCollapseLowerRules() {
        let n = BodyNormalization.wsCollapseLower
        #expect(n.apply(bytes("  <HTML>\r\n\t<Body>  Blocked\u{0B}\u{0C}Page </Body></HTML>\n"))
                == bytes("<html> <body> blocked page </body></html>"))
        #expect(n.apply(bytes("")) == [])
        #expect(n.apply(bytes(" \t\r\n ")) == [])
        #expect(n.apply(bytes("ABC")) == bytes("abc"))
        // Non-ASCII bytes are left alone: Cyrillic is not lower-cased and NBSP is not white space.
        #expect(n.apply(bytes("ДОСТУП\u{00A0}X")) == bytes("ДОСТУП\u{00A0}x"))
        // Invalid UTF-8 passes through.
        #expect(n.apply([0xFF, 0x20, 0x20, 0x41]) == [0xFF, 0x20, 0x61])
    }

    @Test func wsCollapseLowerIsIdempotent() {
        let n = BodyNormalization.wsCollapseLower
        let once = n.apply(bytes("\n <P>  One\n\nTwo </P>  "))
        #expect(n.apply(once) == once)
    }
}

/// The regexp prefilter may only skip texts that cannot match.
/// The streaming normalised digest equals the digest of the normalised copy, across its 4 KiB buffer boundaries.
@Suite struct NormalizedDigestTests {
    @Test func streamingDigestEqualsDigestOfTheNormalisedCopy() {
        let pieces: [[UInt8]] = [Array("Access DENIED".utf8), [0x20, 0x20], [0x09], [0x0d, 0x0a], Array("é<HTML>".utf8),
                                 [0x0b, 0x0c], Array(repeating: 0x41, count: 1500), Array(repeating: 0x20, count: 700), [0xff, 0x00]]
        var rng = TestRandom(seed: 0x7114d18901)
        for round in 0..<300 {
            var body: [UInt8] = []
            for _ in 0..<Int.random(in: 0...(round % 3 == 0 ? 40 : 8), using: &rng) { body += pieces.randomElement(using: &rng)! }
            for n in BodyNormalization.allCases {
                #expect(BodyDigest.sha256Hex(body, normalized: n) == BodyDigest.sha256Hex(n.apply(body)))
            }
        }
        #expect(BodyDigest.sha256Hex([], normalized: .wsCollapseLower) == BodyDigest.sha256Hex([]))
    }
}

@Suite struct RegexPrefilterTests {
    @Test func requiredLiteralIsAPrefixEveryMatchNeeds() {
        #expect(CompiledRegex.requiredLiteral(of: "<p>Sorry, but the URL you.* requesting is prohibited!</p>")
                == Array("<p>Sorry, but the URL you".utf8))
        #expect(CompiledRegex.requiredLiteral(of: "blocked\\.kz") == Array("blocked".utf8))
        #expect(CompiledRegex.requiredLiteral(of: "abcde*") == Array("abcd".utf8))     // e may occur zero times
        #expect(CompiledRegex.requiredLiteral(of: "abcde?x") == Array("abcd".utf8))
        #expect(CompiledRegex.requiredLiteral(of: "abcde{0,2}") == Array("abcd".utf8))
        #expect(CompiledRegex.requiredLiteral(of: "ab*cdef") == nil)                 // only "a" is certain
        #expect(CompiledRegex.requiredLiteral(of: "blocked|denied") == nil)
        #expect(CompiledRegex.requiredLiteral(of: "(?i)blocked") == nil)
        #expect(CompiledRegex.requiredLiteral(of: "[Bb]locked") == nil)
        #expect(CompiledRegex.requiredLiteral(of: "Запрещено") == nil)               // not ASCII
    }

    /// For random bodies around the literal, prefiltered matching equals running the expression on every body.
    @Test func prefilterNeverChangesAVerdict() throws {
        let patterns = ["<p>Sorry, but the URL you.* requesting is prohibited!</p>", "Access denied.*policy", "abcde*f"]
        var seed: UInt64 = 7
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        let pieces = ["<p>Sorry, but the URL you", " are ", "requesting is prohibited!</p>", "Access denied", " by policy",
                      "abcd", "abcdf", "\u{FF}\u{FE}", "x", "\n", "Sorry"]
        for p in patterns {
            let re = CompiledRegex(try NSRegularExpression(pattern: p, options: [.dotMatchesLineSeparators]))
            for _ in 0..<300 {
                var body: [UInt8] = []
                for _ in 0..<next(6) { body += Array(pieces[next(pieces.count)].utf8) }
                if next(5) == 0 { body.append(0xC3) }                                    // a cut UTF-8 sequence
                let full = re.matches(String(decoding: body, as: UTF8.self))
                let skipped = re.requiredLiteral.map { !ByteSearch.contains(body, $0) } ?? false
                #expect(!(skipped && full), "pattern \(p) body \(body)")
            }
        }
    }

    /// `ByteSearch.contains` (memchr on the needle's rarest byte) agrees with a naive scan: random haystacks and
    /// needles over a small alphabet (many partial matches), needles cut from the haystack at its start, middle and
    /// end, and the edges (empty needle, needle longer than or equal to the haystack).
    @Test func byteSearchAgreesWithANaiveScan() {
        func naive(_ h: [UInt8], _ n: [UInt8]) -> Bool {
            if n.isEmpty { return true }
            if n.count > h.count { return false }
            for i in 0...(h.count - n.count) where Array(h[i..<(i + n.count)]) == n { return true }
            return false
        }
        var rng = TestRandom(seed: 0x7114d18902)
        let alphabet: [UInt8] = Array("<a e/>Z!".utf8) + [0xD0, 0xB0, 0x00]
        var found = 0
        for _ in 0..<4_000 {
            let h = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            var needles: [[UInt8]] = [[], h, h + [0x20]]
            needles.append((0..<Int.random(in: 1...4, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            if !h.isEmpty {
                let i = Int.random(in: 0..<h.count, using: &rng)
                let j = Int.random(in: (i + 1)...h.count, using: &rng)
                needles.append(Array(h[i..<j]))
                needles.append(Array(h[0..<j]))
                needles.append(Array(h[i...]))
            }
            for n in needles {
                let want = naive(h, n)
                #expect(ByteSearch.contains(h, n) == want, "haystack \(h) needle \(n)")
                if want && !n.isEmpty && n != h { found += 1 }
            }
        }
        #expect(found > 4_000)
        #expect(ByteSearch.contains(Array("<p>x</p><title>A</title>".utf8), Array("<title>A</title>".utf8)))
        #expect(!ByteSearch.contains(Array("<p>x</p><title>A</titl".utf8), Array("<title>A</title>".utf8)))
    }
}
