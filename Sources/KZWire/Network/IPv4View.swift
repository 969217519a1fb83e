/// A borrowed view of an IPv4 header (RFC 791 §3.1). `init(validating:)` checks the fixed header, IHL and that the
/// header itself is captured; total length is *not* required to fit (snaplen), callers clamp with `capturedEnd`.
/// Odd values (TTL 0, reserved flag, options) are let through on purpose: for us they are evidence.
public struct IPv4View {
    public let bytes: UnsafeRawBufferPointer

    public enum Field {
        public static let versionIHL = 0, tos = 1, totalLength = 2, identification = 4, flagsFragment = 6, ttl = 8
        public static let proto = 9, checksum = 10, src = 12, dst = 16, end = 20
    }

    @inlinable public init(unchecked bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public init(validating bytes: UnsafeRawBufferPointer) throws(PacketStatus) {
        guard bytes.count >= Field.end else { throw .truncated(.ipv4) }
        let v = IPv4View(unchecked: bytes)
        guard v.version == 4 else { throw .malformed(.ipv4, .badVersion) }
        guard v.headerLength >= Field.end else { throw .malformed(.ipv4, .headerTooShort) }
        guard bytes.count >= v.headerLength else { throw .truncated(.ipv4) }
        // A zero total length is what segmentation offload (TSO, Linux BIG TCP) leaves in captures taken on the sending
        // host: the datagram is the rest of the frame (`capturedEnd`), as tshark and tcpdump read it.
        guard Int(v.totalLength) >= v.headerLength || v.totalLength == 0 else {
            throw .malformed(.ipv4, .lengthMismatch)
        }
        self = v
    }

    @inlinable public var version: UInt8 { bytes[Field.versionIHL] >> 4 }
    @inlinable public var headerLength: Int { Int(bytes[Field.versionIHL] & 0x0f) &* 4 }
    @inlinable public var tos: UInt8 { bytes[Field.tos] }
    @inlinable public var totalLength: UInt16 { bytes.be16(Field.totalLength) }
    @inlinable public var identification: UInt16 { bytes.be16(Field.identification) }
    @inlinable public var dontFragment: Bool { bytes[Field.flagsFragment] & 0x40 != 0 }
    @inlinable public var moreFragments: Bool { bytes[Field.flagsFragment] & 0x20 != 0 }
    /// Fragment offset in bytes (the field counts 8-byte units).
    @inlinable public var fragmentOffset: UInt16 { (bytes.be16(Field.flagsFragment) & 0x1fff) &<< 3 }
    @inlinable public var ttl: UInt8 { bytes[Field.ttl] }
    @inlinable public var proto: IPProtocol { IPProtocol(rawValue: bytes[Field.proto]) }
    @inlinable public var src: IPAddress { IPAddress(v4: bytes.be32(Field.src)) }
    @inlinable public var dst: IPAddress { IPAddress(v4: bytes.be32(Field.dst)) }
    /// End of the datagram within the captured bytes (excludes link padding, clamped to what was captured). A zero
    /// total length (segmentation offload) takes everything captured.
    @inlinable public var capturedEnd: Int { totalLength == 0 ? bytes.count : min(Int(totalLength), bytes.count) }
    @inlinable public var headerChecksumValid: Bool {
        InternetChecksum.verifies(InternetChecksum.sum(bytes.slice(0..<headerLength)))
    }

    /// Walks the options (RFC 791 §3.1): returns the Record Route address count (type 7) and whether the option list
    /// was well formed.
    public func optionSummary() -> (recordRoute: UInt8, wellFormed: Bool) {
        var i = Field.end
        let end = headerLength
        var rr: UInt8 = 0
        while i < end {
            let kind = bytes[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { return (rr, false) }
            let len = Int(bytes[i + 1])
            guard len >= 2, i + len <= end else { return (rr, false) }
            if kind == 7, len >= 3 {
                let ptr = Int(bytes[i + 2])
                if ptr >= 4 { rr = UInt8(min(9, (min(ptr, len + 1) - 4) / 4)) }
            }
            i += len
        }
        return (rr, true)
    }

    /// Addresses recorded by a Record Route option (RFC 791 §3.1), in order.
    public func recordedRoute() -> [IPAddress] {
        var i = Field.end
        let end = headerLength
        while i < end {
            let kind = bytes[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(bytes[i + 1])
            guard len >= 2, i + len <= end else { break }
            if kind == 7, len >= 3 {
                let ptr = Int(bytes[i + 2])
                var out: [IPAddress] = []
                var j = 3
                while j + 4 <= min(ptr - 1, len) {
                    out.append(IPAddress(v4: bytes.be32(i + j)))
                    j += 4
                }
                return out
            }
            i += len
        }
        return []
    }
}
