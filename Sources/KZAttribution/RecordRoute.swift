import KZWire

/// IPv4 Record Route option (RFC 791 §3.1, option type 7): `type, length, pointer, route data`. The pointer is
/// 1-based from the option start and points at the next free slot (≥ 4); slots before it hold the addresses recorded
/// so far, in path order.
public enum RecordRoute {
    /// Addresses recorded in the first Record Route option of the IPv4 header starting at `headerStart` in `bytes`.
    /// Empty when there is no such option or the header is cut; never traps.
    public static func addresses(inIPv4HeaderAt headerStart: Int, of bytes: [UInt8]) -> [IPAddress] {
        guard headerStart >= 0, headerStart < bytes.count, bytes[headerStart] >> 4 == 4 else { return [] }
        let ihl = Int(bytes[headerStart] & 0x0f) * 4
        guard ihl > 20 else { return [] }
        let end = min(bytes.count, headerStart + ihl)
        var i = headerStart + 20
        while i < end {
            let type = bytes[i]
            if type == 0 { break }                 // end of option list
            if type == 1 { i += 1; continue }      // no-operation
            guard i + 1 < end else { break }
            let len = Int(bytes[i + 1])
            guard len >= 2, i + len <= end else { break }
            if type == 7, len >= 3 {
                let pointer = Int(bytes[i + 2])
                let filledEnd = min(i + len, i + max(pointer, 4) - 1)   // first byte of the free slot
                var out: [IPAddress] = []
                var a = i + 3
                while a + 4 <= filledEnd {
                    let v = UInt32(bytes[a]) << 24 | UInt32(bytes[a + 1]) << 16 | UInt32(bytes[a + 2]) << 8
                        | UInt32(bytes[a + 3])
                    out.append(IPAddress(v4: v))
                    a += 4
                }
                return out
            }
            i += len
        }
        return []
    }

    /// Offset of the IPv4 header an ICMP error quotes: after the outer IP header and the 8-byte ICMP header.
    public static func quotedHeaderOffset(of packet: DecodedPacket) -> Int? {
        guard let ip = packet.ip, ip.version == 4, packet.icmp?.quoted != nil else { return nil }
        return ip.headerOffset + Int(ip.headerLength) + 8
    }
}
