import Crypto

/// SHA-256 (FIPS 180-4) of block-page bodies, through swift-crypto (BoringSSL, which uses the CPU's SHA extensions
/// where present): every HTTP response body of a capture is hashed once per normalisation, so this is on the hot path.
public enum BodyDigest {
    /// Per byte: low 8 bits the ASCII-lowercased byte, bit 8 set for the white space `wsCollapseLower` collapses.
    static let collapseTable: [UInt16] = (0..<256).map { v -> UInt16 in
        let b = UInt8(v)
        switch b {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20: return 0x100 | UInt16(b)
        case 0x41...0x5A: return UInt16(b + 32)
        default: return UInt16(b)
        }
    }

    /// The digest as 64 lower-case hex digits.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// `sha256Hex(normalization.apply(bytes))` without building the normalised copy: the normalised bytes go through
    /// a 4 KiB buffer into an incremental hash.
    public static func sha256Hex(_ bytes: [UInt8], normalized normalization: BodyNormalization) -> String {
        guard normalization == .wsCollapseLower else { return sha256Hex(normalization.apply(bytes)) }
        var hasher = SHA256()
        let table = collapseTable
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf in
            // Branch-free per byte (body text has a space every few bytes, so branches would mispredict): a space is
            // written only after a white-space run that follows output; the byte itself only when it is not white
            // space. Both stores are unconditional; the counts decide what stays.
            var n = 0
            var prevWS = 0, wrote = 0
            let out = buf.baseAddress!
            table.withUnsafeBufferPointer { t in
                bytes.withUnsafeBufferPointer { src in
                    for b in src {
                        if n >= 4094 {
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: out, count: n))
                            n = 0
                        }
                        let entry = t[Int(b)]
                        let ws = Int(entry >> 8)               // 1 for white space
                        let notWS = 1 &- ws
                        out[n] = 0x20
                        n &+= notWS & prevWS & wrote
                        out[n] = UInt8(truncatingIfNeeded: entry)
                        n &+= notWS
                        wrote |= notWS
                        prevWS = ws
                    }
                }
            }
            if n > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(start: out, count: n)) }
        }
        return Hex.encode(Array(hasher.finalize()))
    }
}
