import Crypto

/// SHA-256 (FIPS 180-4) of block-page bodies, through swift-crypto (BoringSSL, which uses the CPU's SHA extensions
/// where present): every HTTP response body of a capture is hashed once per normalisation, so this is on the hot path.
public enum BodyDigest {
    /// The digest as 64 lower-case hex digits.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(Array(SHA256.hash(data: bytes)))
    }
}
