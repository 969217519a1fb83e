import KZAttribution
@testable import KZWire

/// Raw IPv4 frames (LINKTYPE_RAW), decoded with the real `PacketDecoder`.
enum Raw {
    static func be16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func addr(_ s: String) -> [UInt8] { be32(IPAddress(s)?.v4Value ?? 0) }

    static func checksum(_ b: [UInt8]) -> [UInt8] {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < b.count { sum += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.count { sum += UInt32(b[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return be16(Int(~sum & 0xffff))
    }

    static func ipv4(_ src: String, _ dst: String, ttl: UInt8, id: Int = 1, proto: UInt8, options: [UInt8] = [],
                     payload: [UInt8]) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(0) }
        let hl = 20 + opts.count
        var h: [UInt8] = [0x40 | UInt8(hl / 4), 0] + be16(hl + payload.count) + be16(id) + [0, 0, ttl, proto, 0, 0]
            + addr(src) + addr(dst) + opts
        let c = checksum(h)
        h[10] = c[0]; h[11] = c[1]
        return h + payload
    }

    static func tcp(_ sport: Int, _ dport: Int, seq: UInt32, ack: UInt32 = 0, flags: UInt8, options: [UInt8] = [],
                    payload: [UInt8] = []) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(1) }
        let off = UInt8((20 + opts.count) / 4) << 4
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [off, flags] + be16(65535) + [0, 0, 0, 0] + opts + payload
    }

    static func udp(_ sport: Int, _ dport: Int, payload: [UInt8] = []) -> [UInt8] {
        be16(sport) + be16(dport) + be16(8 + payload.count) + [0, 0] + payload
    }

    /// ICMP error quoting `quoted` (an IPv4 datagram), first `quoteLength` bytes.
    static func icmpError(type: UInt8, code: UInt8 = 0, quoting quoted: [UInt8], quoteLength: Int? = nil) -> [UInt8] {
        let q = Array(quoted.prefix(quoteLength ?? quoted.count))
        var m: [UInt8] = [type, code, 0, 0, 0, 0, 0, 0] + q
        let c = checksum(m)
        m[2] = c[0]; m[3] = c[1]
        return m
    }

    static func echo(request: Bool, id: Int, seq: Int) -> [UInt8] {
        var m: [UInt8] = [request ? 8 : 0, 0, 0, 0] + be16(id) + be16(seq) + [1, 2, 3, 4]
        let c = checksum(m)
        m[2] = c[0]; m[3] = c[1]
        return m
    }

    /// Decodes `frames` (numbered from 1) and keeps their bytes.
    static func decode(_ frames: [[UInt8]]) -> ([DecodedPacket], FrameBytesTable) {
        let d = PacketDecoder()
        var out: [DecodedPacket] = []
        var table = FrameBytesTable()
        for (i, f) in frames.enumerated() {
            let p = f.withUnsafeBytes {
                d.decode($0, frame: i + 1, timestamp: Timestamp(nanoseconds: Int64(i) * 10_000_000), wireLength: f.count,
                         linkType: .raw)
            }
            out.append(p)
            table.frames[i + 1] = f
        }
        return (out, table)
    }
}
