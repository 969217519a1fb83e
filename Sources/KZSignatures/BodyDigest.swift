import Crypto

/// SHA-256 (FIPS 180-4) of block-page bodies, through swift-crypto (BoringSSL, which uses the CPU's SHA extensions
/// where present): every HTTP response body of a capture is hashed once per normalisation, so this is on the hot path.
public enum BodyDigest {
    /// The digest as 64 lower-case hex digits.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// `sha256Hex(normalization.apply(bytes))` without building the normalised copy: the normalised bytes go through
    /// a 4 KiB buffer into an incremental hash.
    public static func sha256Hex(_ bytes: [UInt8], normalized normalization: BodyNormalization) -> String {
        guard normalization == .wsCollapseLower else { return sha256Hex(normalization.apply(bytes)) }
        var hasher = SHA256()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf in
            var n = 0
            var pendingSpace = false, wroteAny = false
            bytes.withUnsafeBufferPointer { src in
                for b in src {
                    switch b {
                    case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20:
                        pendingSpace = true
                    default:
                        if n >= 4094 {
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buf[0..<n])))
                            n = 0
                        }
                        if pendingSpace && wroteAny { buf[n] = 0x20; n += 1 }
                        pendingSpace = false
                        wroteAny = true
                        buf[n] = b >= 0x41 && b <= 0x5A ? b + 32 : b
                        n += 1
                    }
                }
            }
            if n > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buf[0..<n]))) }
        }
        return Hex.encode(Array(hasher.finalize()))
    }
}
