/// A borrowed view of a TCP header (RFC 9293 §3.1). Validation checks the fixed header and the data offset against the
/// captured bytes; options are parsed by `parseOptions()` without allocation.
public struct TCPView {
    public let bytes: UnsafeRawBufferPointer
    public enum Field {
        public static let srcPort = 0, dstPort = 2, seq = 4, ack = 8, dataOffset = 12, flags = 13, window = 14
        public static let checksum = 16, urgent = 18, end = 20
    }
    @inlinable public init(unchecked bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    /// `segmentLength` is the length the IP header declares for the segment; `bytes` may be shorter (snaplen).
    public init(validating bytes: UnsafeRawBufferPointer, segmentLength: Int) throws(PacketStatus) {
        guard bytes.count >= Field.end, segmentLength >= Field.end else { throw .truncated(.tcp) }
        let v = TCPView(unchecked: bytes)
        guard v.headerLength >= Field.end else { throw .malformed(.tcp, .headerTooShort) }
        guard v.headerLength <= segmentLength else { throw .malformed(.tcp, .badLength) }
        guard v.headerLength <= bytes.count else { throw .truncated(.tcp) }
        self = v
    }
    @inlinable public var srcPort: UInt16 { bytes.be16(Field.srcPort) }
    @inlinable public var dstPort: UInt16 { bytes.be16(Field.dstPort) }
    @inlinable public var seq: UInt32 { bytes.be32(Field.seq) }
    @inlinable public var ack: UInt32 { bytes.be32(Field.ack) }
    @inlinable public var headerLength: Int { Int(bytes[Field.dataOffset] >> 4) &* 4 }
    /// FSRPAUEC in the low byte, NS (RFC 3540, historic) as bit 8.
    @inlinable public var flags: TCPFlags { TCPFlags(rawValue: UInt16(bytes[Field.flags]) | (UInt16(bytes[Field.dataOffset] & 1) << 8)) }
    @inlinable public var window: UInt16 { bytes.be16(Field.window) }
    @inlinable public var urgentPointer: UInt16 { bytes.be16(Field.urgent) }

    /// Parses options (RFC 9293 §3.2, RFC 7323 §2.2/§3.2, RFC 2018 §2–3) into a fixed struct.
    public func parseOptions() -> TCPOptionsSummary {
        var o = TCPOptionsSummary()
        var i = Field.end
        let end = headerLength
        while i < end {
            let kind = bytes[i]
            if o.count < 8 { o.order |= UInt64(kind) << (8 * UInt64(o.count)) }
            o.count &+= 1
            o.kindsSeen |= kind < 63 ? (1 << UInt64(kind)) : (1 << 63)
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { o.malformed = true; break }
            let len = Int(bytes[i + 1])
            guard len >= 2, i + len <= end else { o.malformed = true; break }
            switch kind {
            case 2 where len == 4: o.mss = bytes.be16(i + 2)
            case 3 where len == 3: o.windowScale = bytes[i + 2]
            case 4 where len == 2: o.sackPermitted = true
            case 5 where (len - 2) % 8 == 0: o.sackBlockCount = UInt8((len - 2) / 8)
            case 8 where len == 10:
                o.tsVal = bytes.be32(i + 2)
                o.tsEcr = bytes.be32(i + 6)
            case 2, 3, 4, 5, 8: o.malformed = true
            default: break
            }
            i += len
        }
        return o
    }
}
