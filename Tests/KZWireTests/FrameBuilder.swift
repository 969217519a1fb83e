import KZWire

/// Builds small frames by hand for decoder tests (checksums computed, so `good` is asserted).
enum FrameBuilder {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func checksum(_ b: [UInt8]) -> UInt16 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < b.count { s += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.count { s += UInt32(b[i]) << 8 }
        while s > 0xffff { s = (s & 0xffff) + (s >> 16) }
        return ~UInt16(s)
    }

    static func v4(_ s: String) -> [UInt8] { s.split(separator: ".").map { UInt8($0)! } }
    static func v6(_ s: String) -> [UInt8] {
        let a = IPAddress(s)!
        return (0..<8).map { UInt8(truncatingIfNeeded: a.high >> UInt64(56 - 8 * $0)) } +
            (0..<8).map { UInt8(truncatingIfNeeded: a.low >> UInt64(56 - 8 * $0)) }
    }

    static func tcp(src: [UInt8], dst: [UInt8], sport: UInt16 = 40000, dport: UInt16 = 80, seq: UInt32 = 1000,
                    ack: UInt32 = 0, flags: UInt8 = 0x02, window: UInt16 = 64240, options: [UInt8] = [],
                    payload: [UInt8] = [], v6: Bool = false) -> [UInt8] {
        let hl = 20 + options.count
        var h = be16(sport) + be16(dport) + be32(seq) + be32(ack) + [UInt8(hl / 4) << 4, flags] + be16(window) + [0, 0, 0, 0]
        h += options
        let seg = h + payload
        let pseudo = src + dst + (v6 ? be32(UInt32(seg.count)) + [0, 0, 0, 6] : [0, 6] + be16(UInt16(seg.count)))
        let c = checksum(pseudo + seg)
        var out = seg
        out[16] = UInt8(c >> 8); out[17] = UInt8(c & 0xff)
        return out
    }

    static func udp(src: [UInt8], dst: [UInt8], sport: UInt16 = 5353, dport: UInt16 = 53, payload: [UInt8], v6: Bool = false) -> [UInt8] {
        let len = UInt16(8 + payload.count)
        let seg = be16(sport) + be16(dport) + be16(len) + [0, 0] + payload
        let pseudo = src + dst + (v6 ? be32(UInt32(seg.count)) + [0, 0, 0, 17] : [0, 17] + be16(len))
        var c = checksum(pseudo + seg)
        if c == 0 { c = 0xffff }
        var out = seg
        out[6] = UInt8(c >> 8); out[7] = UInt8(c & 0xff)
        return out
    }

    static func ipv4(src: String = "10.0.0.1", dst: String = "10.0.0.2", proto: UInt8, ttl: UInt8 = 64, id: UInt16 = 0x1234,
                     flagsFrag: UInt16 = 0x4000, options: [UInt8] = [], payload: [UInt8]) -> [UInt8] {
        let hl = 20 + options.count
        var h: [UInt8] = [0x40 | UInt8(hl / 4), 0] + be16(UInt16(hl + payload.count)) + be16(id) + be16(flagsFrag) + [ttl, proto, 0, 0]
        h += v4(src) + v4(dst) + options
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h + payload
    }

    static func ipv6(src: String = "2001:db8::1", dst: String = "2001:db8::2", next: UInt8, hop: UInt8 = 64,
                     payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [next, hop] + v6(src) + v6(dst) + payload
    }

    static func ethernet(type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] + be16(type) + payload
    }

    static func tcpv4Frame(payload: [UInt8] = [], flags: UInt8 = 0x02, options: [UInt8] = []) -> [UInt8] {
        let t = tcp(src: v4("10.0.0.1"), dst: v4("10.0.0.2"), flags: flags, options: options, payload: payload)
        return ethernet(type: 0x0800, ipv4(proto: 6, payload: t))
    }
}

extension PacketDecoder {
    func decode(_ bytes: [UInt8], _ lt: LinkType, wire: Int? = nil) -> DecodedPacket {
        bytes.withUnsafeBytes { decode($0, frame: 1, timestamp: Timestamp(nanoseconds: 0), wireLength: wire ?? bytes.count, linkType: lt) }
    }
}
