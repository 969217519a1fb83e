import Testing
import KZWire

@Suite struct ASCIICaseTests {
    @Test func comparesIgnoringASCIICaseOnly() {
        #expect("Host".equalsASCIICaseInsensitive("host"))
        #expect("HOST".equalsASCIICaseInsensitive("host"))
        #expect("content-LENGTH".equalsASCIICaseInsensitive("content-length"))
        #expect("".equalsASCIICaseInsensitive(""))
        #expect(!"Hos".equalsASCIICaseInsensitive("host"))
        #expect(!"Hostx".equalsASCIICaseInsensitive("host"))
        #expect(!"host".equalsASCIICaseInsensitive("hos"))
        #expect(!"Ho-t".equalsASCIICaseInsensitive("host"))
        // Only A-Z fold: '@' (0x40) and '[' (0x5B) sit beside them and must not become '`' or '{'.
        #expect(!"@".equalsASCIICaseInsensitive("`"))
        #expect(!"[".equalsASCIICaseInsensitive("{"))
        // Non-ASCII bytes compare exactly.
        #expect(!"HÓST".equalsASCIICaseInsensitive("hóst"))
        #expect("Hóst".equalsASCIICaseInsensitive("hóst"))
        // Substrings too.
        #expect("X-Host: a".prefix(6).equalsASCIICaseInsensitive("x-host"))
    }
}
