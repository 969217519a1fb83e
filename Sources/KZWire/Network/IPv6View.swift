/// A borrowed view of the IPv6 fixed header (RFC 8200 §3). Extension headers are walked by `IPv6ExtensionWalker`.
public struct IPv6View {
    public let bytes: UnsafeRawBufferPointer
    public enum Field {
        public static let payloadLength = 4, nextHeader = 6, hopLimit = 7, src = 8, dst = 24, end = 40
    }
    @inlinable public init(unchecked bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    public init(validating bytes: UnsafeRawBufferPointer) throws(PacketStatus) {
        guard bytes.count >= Field.end else { throw .truncated(.ipv6) }
        guard bytes[0] >> 4 == 6 else { throw .malformed(.ipv6, .badVersion) }
        self.bytes = bytes
    }
    @inlinable public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: bytes.be16(0) >> 4) }
    @inlinable public var flowLabel: UInt32 { bytes.be32(0) & 0x000f_ffff }
    @inlinable public var payloadLength: UInt16 { bytes.be16(Field.payloadLength) }
    @inlinable public var nextHeader: IPProtocol { IPProtocol(rawValue: bytes[Field.nextHeader]) }
    @inlinable public var hopLimit: UInt8 { bytes[Field.hopLimit] }
    @inlinable public var src: IPAddress { IPAddress(reading: bytes, at: Field.src, v6: true) }
    @inlinable public var dst: IPAddress { IPAddress(reading: bytes, at: Field.dst, v6: true) }
    /// Datagram end within captured bytes. A zero payload length (jumbogram, RFC 2675) takes what was captured.
    @inlinable public var capturedEnd: Int {
        payloadLength == 0 ? bytes.count : min(Field.end + Int(payloadLength), bytes.count)
    }
}

/// Result of walking an IPv6 extension-header chain (RFC 8200 §4: hop-by-hop, routing, fragment, destination options;
/// RFC 4302 AH; RFC 6275 mobility). Stops at the first upper-layer protocol or at a non-first fragment.
public struct IPv6ExtensionChain {
    public var upperProtocol: IPProtocol
    public var upperOffset: Int
    public var hasFragmentHeader = false
    public var fragmentOffset: UInt16 = 0
    public var moreFragments = false
    public var fragmentID: UInt32 = 0
    /// The final destination named by a Routing header with segments left (RFC 8200 §4.4, §8.1: the address the
    /// upper-layer pseudo-header uses): the last address of type 0 and 2 headers, Segment List[0] of an SRH (RFC 8754).
    public var finalDestination: IPAddress? = nil
    /// The Home Address destination option (RFC 6275 §6.3), which upper layers see as the source.
    public var homeAddress: IPAddress? = nil

    /// Walks from `start` (just after the fixed header) within `bytes[..<end]`. Throws a status when an extension header
    /// is cut short or the chain is absurdly long (more than 16 headers).
    public init(bytes: UnsafeRawBufferPointer, first: IPProtocol, start: Int, end: Int) throws(PacketStatus) {
        var nh = first
        var off = start
        var depth = 0
        loop: while true {
            switch nh.rawValue {
            case 0, 43, 60, 135, 139, 140:
                guard off + 8 <= end else { throw .truncated(.ipv6ext) }
                let len = (Int(bytes[off + 1]) + 1) * 8
                guard off + len <= end else { throw .truncated(.ipv6ext) }
                if nh.rawValue == 43 && bytes[off + 3] > 0 && len >= 24 {
                    switch bytes[off + 2] {
                    case 0, 2: finalDestination = IPAddress(reading: bytes, at: off + 8 + (len - 8) / 16 * 16 - 16, v6: true)
                    case 4: finalDestination = IPAddress(reading: bytes, at: off + 8, v6: true)
                    default: break
                    }
                } else if nh.rawValue == 60 {
                    var o = off + 2
                    while o + 2 <= off + len {
                        let type = bytes[o]
                        if type == 0 { o += 1; continue }             // Pad1
                        let olen = Int(bytes[o + 1])
                        if type == 0xc9 && olen == 16 && o + 18 <= off + len {
                            homeAddress = IPAddress(reading: bytes, at: o + 2, v6: true)
                        }
                        o += 2 + olen
                    }
                }
                nh = IPProtocol(rawValue: bytes[off])
                off += len
            case 51:
                guard off + 8 <= end else { throw .truncated(.ipv6ext) }
                let len = (Int(bytes[off + 1]) + 2) * 4
                guard off + len <= end else { throw .truncated(.ipv6ext) }
                nh = IPProtocol(rawValue: bytes[off])
                off += len
            case 44:
                guard off + 8 <= end else { throw .truncated(.ipv6ext) }
                hasFragmentHeader = true
                let fo = bytes.be16(off + 2)
                fragmentOffset = fo & 0xfff8
                moreFragments = fo & 1 != 0
                fragmentID = bytes.be32(off + 4)
                nh = IPProtocol(rawValue: bytes[off])
                off += 8
                if fragmentOffset != 0 { break loop }
            default:
                break loop
            }
            depth += 1
            if depth > 16 { throw .malformed(.ipv6ext, .tooDeep) }
        }
        upperProtocol = nh
        upperOffset = off
    }
}
