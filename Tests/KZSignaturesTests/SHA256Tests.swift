import Foundation
import Testing
@testable import KZSignatures

/// FIPS 180-4 / NIST CAVP example vectors, plus incremental-update equivalence.
@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hexDigest(bytes("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(bytes("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hexDigest(bytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(SHA256.hexDigest([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func paddingBoundaries() {
        // 55, 56, 63, 64 and 65 bytes exercise the one- and two-block padding paths; compare with chunked updates.
        for n in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000] {
            let message = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let oneShot = SHA256.hash(message)
            for chunk in [1, 3, 63, 64, 65] {
                var h = SHA256()
                var i = 0
                while i < n {
                    h.update(message[i..<min(n, i + chunk)])
                    i += chunk
                }
                #expect(h.finalize() == oneShot, "n=\(n) chunk=\(chunk)")
            }
        }
        #expect(SHA256.hexDigest(bytes(String(repeating: "a", count: 55)))
                == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hexDigest(bytes(String(repeating: "a", count: 64)))
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
