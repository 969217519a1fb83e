import Testing
@testable import KZWire
import KZTestSupport

typealias FB = FrameBuilder

@Suite struct LinkLayerTests {
    let d = PacketDecoder()
    let tcpSeg = FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2"), options: [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0])
    var ip4: [UInt8] { FB.ipv4(proto: 6, payload: tcpSeg) }

    @Test func ethernetIPv4TCP() {
        let p = d.decode(FB.ethernet(type: 0x0800, ip4), .ethernet)
        #expect(p.status == .ok)
        #expect(p.ip?.src.description == "10.0.0.1")
        #expect(p.ip?.dst.description == "10.0.0.2")
        #expect(p.ip?.ttl == 64)
        #expect(p.ip?.ipID == 0x1234)
        #expect(p.ip?.df == true)
        #expect(p.ip?.headerChecksum == .good)
        let t = p.tcp
        #expect(t?.srcPort == 40000 && t?.dstPort == 80)
        #expect(t?.flags.letters == "S")
        #expect(t?.options.mss == 1460)
        #expect(t?.options.windowScale == 7)
        #expect(t?.options.sackPermitted == true)
        #expect(t?.checksum == .good)
    }

    @Test func vlanQinQStack() {
        let inner = FB.be16(0x0064) + FB.be16(0x0800) + ip4                   // VLAN 100 → IPv4
        let frame = FB.ethernet(type: 0x88a8, FB.be16(0x2007) + FB.be16(0x8100) + inner)   // S-tag 7
        let p = d.decode(frame, .ethernet)
        #expect(p.status == .ok)
        #expect(p.vlans == [7, 100])
        #expect(p.tcp != nil)
    }

    @Test func vlanTooDeepIsMalformed() {
        var payload = ip4
        for _ in 0..<9 { payload = FB.be16(1) + FB.be16(0x8100) + payload }
        let p = d.decode(FB.ethernet(type: 0x8100, payload), .ethernet)
        #expect(p.status.description == "malformed.vlan.too_deep")
    }

    @Test func pppoeSession() {
        let ppp = [0x11, 0x00] + FB.be16(0x1a2b) + FB.be16(UInt16(ip4.count + 2)) + FB.be16(0x0021) + ip4
        let p = d.decode(FB.ethernet(type: 0x8864, ppp), .ethernet)
        #expect(p.status == .ok)
        #expect(p.pppoeSession == 0x1a2b)
        #expect(p.tcp?.dstPort == 80)
        let v6 = FB.ipv6(next: 17, payload: FB.udp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::2"), payload: [1, 2, 3], v6: true))
        let p6 = d.decode(FB.ethernet(type: 0x8864, [0x11, 0] + FB.be16(5) + FB.be16(UInt16(v6.count + 2)) + FB.be16(0x0057) + v6), .ethernet)
        #expect(p6.status == .ok)
        #expect(p6.udp?.checksum == .good)
        let lcp = d.decode(FB.ethernet(type: 0x8864, [0x11, 0] + FB.be16(5) + FB.be16(6) + FB.be16(0xc021) + [1, 1, 0, 4]), .ethernet)
        #expect(lcp.status == .ok && lcp.ip == nil)
        let odd = d.decode(FB.ethernet(type: 0x8864, [0x11, 0] + FB.be16(5) + FB.be16(6) + FB.be16(0x4021) + [1, 1, 0, 4]), .ethernet)
        #expect(odd.status.description == "unsupported.ppp.0x4021")
    }

    @Test func pppoeDiscoveryIsLinkOnly() {
        let p = d.decode(FB.ethernet(type: 0x8863, [0x11, 0x09, 0, 0, 0, 0]), .ethernet)
        #expect(p.status == .ok)
        #expect(p.flags.contains(.pppoeDiscovery))
    }

    @Test func mplsStack() {
        let labels = FB.be32(0x0001_4000) + FB.be32(0x0002_51ff)   // second has bottom-of-stack
        let p = d.decode(FB.ethernet(type: 0x8847, labels + ip4), .ethernet)
        #expect(p.status == .ok)
        #expect(p.mplsDepth == 2)
        #expect(p.tcp != nil)
    }

    @Test func linuxSLLAndSLL2() {
        let sll: [UInt8] = [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + FB.be16(0x0800) + ip4
        let p = d.decode(sll, .linuxSLL)
        #expect(p.status == .ok && p.tcp != nil)
        let sll2: [UInt8] = FB.be16(0x0800) + [0, 0] + FB.be32(2) + FB.be16(1) + [0, 6] + [1, 2, 3, 4, 5, 6, 0, 0] + ip4
        let p2 = d.decode(sll2, .linuxSLL2)
        #expect(p2.status == .ok && p2.tcp != nil)
    }

    @Test func rawAndIPv4IPv6LinkTypes() {
        #expect(d.decode(ip4, .raw).tcp != nil)
        #expect(d.decode(ip4, LinkType(dlt: 12)).tcp != nil)
        #expect(d.decode(ip4, .ipv4).tcp != nil)
        let v6 = FB.ipv6(next: 6, payload: FB.tcp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::2"), v6: true))
        let p = d.decode(v6, .ipv6)
        #expect(p.status == .ok)
        #expect(p.tcp?.checksum == .good)
        #expect(p.ip?.src.description == "2001:db8::1")
        #expect(d.decode([0x50] + ip4.dropFirst(), .raw).status.description == "unsupported.ip_version.5")
    }

    @Test func bsdNullAndLoop() {
        #expect(d.decode([2, 0, 0, 0] + ip4, .null).tcp != nil)            // little-endian host
        #expect(d.decode([0, 0, 0, 2] + ip4, .null).tcp != nil)            // big-endian host
        #expect(d.decode([0, 0, 0, 2] + ip4, .loop).tcp != nil)
        let v6 = FB.ipv6(next: 59, payload: [])
        #expect(d.decode([30, 0, 0, 0] + v6, .null).ip?.version == 6)     // Darwin AF_INET6
        #expect(d.decode([7, 0, 0, 0] + ip4, .null).status.description == "unsupported.null_family.7")
    }

    @Test func pppLinkTypes() {
        #expect(d.decode([0xff, 0x03, 0x00, 0x21] + ip4, .ppp).tcp != nil)
        #expect(d.decode([0x00, 0x21] + ip4, .ppp).tcp != nil)
        #expect(d.decode([0x21] + ip4, .pppSerial).tcp != nil)             // protocol-field compression
        #expect(d.decode([0x11, 0] + FB.be16(1) + FB.be16(UInt16(ip4.count + 2)) + FB.be16(0x0021) + ip4, .pppEther).tcp != nil)
    }

    @Test func unknownLinkTypeAndEtherType() {
        #expect(d.decode(ip4, LinkType(rawValue: 147)).status.description == "unsupported.linktype.147")
        #expect(d.decode(FB.ethernet(type: 0x88cc, [1, 2, 3]), .ethernet).status.description == "unsupported.ethertype.0x88cc")
        #expect(d.decode(FB.ethernet(type: 0x0026, [0x42, 0x42, 3]), .ethernet).status.description == "unsupported.llc")
        let arp = d.decode(FB.ethernet(type: 0x0806, [UInt8](repeating: 0, count: 28)), .ethernet)
        #expect(arp.status == .ok && arp.flags.contains(.arp))
    }
}

@Suite struct NetworkLayerTests {
    let d = PacketDecoder()

    @Test func ipv4RejectionLadder() {
        let good = FB.ipv4(proto: 6, payload: FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2")))
        var badVersion = good; badVersion[0] = 0x55
        #expect(d.decode(badVersion, .ipv4).status.description == "malformed.ipv4.bad_version")
        var shortIHL = good; shortIHL[0] = 0x44
        #expect(d.decode(shortIHL, .ipv4).status.description == "malformed.ipv4.header_too_short")
        var lenLess = good; lenLess[2] = 0; lenLess[3] = 10
        #expect(d.decode(lenLess, .ipv4).status.description == "malformed.ipv4.length_mismatch")
        var lenMore = good; lenMore[2] = 0x05; lenMore[3] = 0xdc
        #expect(d.decode(lenMore, .ipv4).status.description == "truncated.ipv4")
        var badSum = good; badSum[8] = 1
        let p = d.decode(badSum, .ipv4)
        #expect(p.status == .ok && p.ip?.headerChecksum == .bad && p.flags.contains(.badIPChecksum))
    }

    @Test func snaplenTruncationKeepsHeaders() {
        let payload = [UInt8](repeating: 0x41, count: 200)
        let frame = FB.tcpv4Frame(payload: payload, flags: 0x18)
        let cut = Array(frame.prefix(68))
        let p = d.decode(cut, .ethernet, wire: frame.count)
        #expect(p.status == .ok)
        #expect(p.flags.contains(.snapTruncated))
        #expect(p.payloadLength == 200)
        #expect(p.payloadCapturedLength == 68 - 54)
        #expect(p.tcp?.checksum == .unverified)
    }

    @Test func recordRouteOption() {
        let rr: [UInt8] = [7, 11, 12] + FB.v4("192.0.2.1") + FB.v4("192.0.2.2") + [0]   // ptr 12: two recorded
        let pkt = FB.ipv4(proto: 1, options: rr, payload: [8, 0, 0xf7, 0xff, 0, 0, 0, 0])
        let p = d.decode(pkt, .ipv4)
        #expect(p.ip?.recordRouteCount == 2)
        pkt.withUnsafeBytes { b in
            #expect(IPv4View(unchecked: b).recordedRoute().map(\.description) == ["192.0.2.1", "192.0.2.2"])
        }
    }

    @Test func ipv4Fragments() {
        let first = FB.ipv4(proto: 17, flagsFrag: 0x2000, payload: [0, 53, 0, 53, 0, 100, 0, 0] + [UInt8](repeating: 1, count: 16))
        let p1 = d.decode(first, .ipv4)
        #expect(p1.ip?.isFragment == true && p1.ip?.moreFragments == true)
        #expect(p1.udp?.dstPort == 53)
        let later = FB.ipv4(proto: 17, flagsFrag: 0x0003, payload: [UInt8](repeating: 1, count: 16))
        let p2 = d.decode(later, .ipv4)
        #expect(p2.status == .ok && p2.ip?.fragmentOffset == 24 && p2.transport == .none)
        #expect(p2.payloadLength == 16)
    }

    @Test func ipv6ExtensionChain() {
        let udp = FB.udp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::2"), payload: [9, 9], v6: true)
        let hbh: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]            // next: dest opts
        let dst: [UInt8] = [44, 0, 1, 4, 0, 0, 0, 0]            // next: fragment
        let frag: [UInt8] = [17, 0, 0, 1] + FB.be32(0xdeadbeef)  // offset 0, M=1, next UDP
        let p = d.decode(FB.ipv6(next: 0, payload: hbh + dst + frag + udp), .ipv6)
        #expect(p.status == .ok)
        #expect(p.ip?.proto == .udp)
        #expect(p.ip?.hasFragmentHeader == true && p.ip?.ipID == 0xdeadbeef && p.ip?.moreFragments == true)
        #expect(p.udp?.dstPort == 53)
        let routing: [UInt8] = [51, 0, 0, 0, 0, 0, 0, 0]
        let ah: [UInt8] = [6, 1, 0, 0] + FB.be32(1) + FB.be32(1)   // AH length (1+2)*4 = 12
        let tcp = FB.tcp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::2"), v6: true)
        let p2 = d.decode(FB.ipv6(next: 43, payload: routing + ah + tcp), .ipv6)
        #expect(p2.tcp != nil)
        let cut = d.decode(FB.ipv6(next: 0, payload: [60, 5, 0, 0]), .ipv6)
        #expect(cut.status.description == "truncated.ipv6_ext")
        var deep: [UInt8] = []
        for _ in 0..<20 { deep += [60, 0, 1, 4, 0, 0, 0, 0] }
        #expect(d.decode(FB.ipv6(next: 60, payload: deep), .ipv6).status.description == "malformed.ipv6_ext.too_deep")
    }

    @Test func tunnels() {
        let inner = FB.ipv4(src: "192.168.1.1", dst: "192.168.1.2", proto: 6,
                            payload: FB.tcp(src: FB.v4("192.168.1.1"), dst: FB.v4("192.168.1.2")))
        let ipip = d.decode(FB.ipv4(proto: 4, payload: inner), .ipv4)
        #expect(ipip.status == .ok && ipip.ip?.src.description == "192.168.1.1" && ipip.ip?.tunnelDepth == 1)
        #expect(ipip.flags.contains(.tunnelled) && ipip.tcp?.checksum == .good)
        let v6 = FB.ipv6(next: 59, payload: [])
        let sixin4 = d.decode(FB.ipv4(proto: 41, payload: v6), .ipv4)
        #expect(sixin4.ip?.version == 6)
        let gre = d.decode(FB.ipv4(proto: 47, payload: [0x20, 0] + FB.be16(0x0800) + FB.be32(42) + inner), .ipv4)
        #expect(gre.status == .ok && gre.ip?.src.description == "192.168.1.1" && gre.tcp != nil)
        var nest = inner
        for _ in 0..<6 { nest = FB.ipv4(proto: 4, payload: nest) }
        #expect(d.decode(nest, .ipv4).status.description == "malformed.ipv4.too_deep")
    }
}

@Suite struct TransportLayerTests {
    let d = PacketDecoder()

    @Test func tcpRejections() {
        var seg = FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2"))
        seg[12] = 0x40                                            // data offset 16 bytes
        #expect(d.decode(FB.ipv4(proto: 6, payload: seg), .ipv4).status.description == "malformed.tcp.header_too_short")
        seg[12] = 0xf0                                            // 60 > segment
        #expect(d.decode(FB.ipv4(proto: 6, payload: seg), .ipv4).status.description == "malformed.tcp.bad_length")
        #expect(d.decode(FB.ipv4(proto: 6, payload: Array(seg.prefix(12))), .ipv4).status.description == "truncated.tcp")
        let bad = FB.ipv4(proto: 6, payload: FB.tcp(src: FB.v4("10.0.0.9"), dst: FB.v4("10.0.0.2")))
        let p = d.decode(FB.ipv4(src: "10.0.0.1", proto: 6, payload: Array(bad.dropFirst(20))), .ipv4)
        #expect(p.tcp?.checksum == .bad)
    }

    @Test func tcpOptionsSackAndTimestamps() {
        let opts: [UInt8] = [1, 1, 8, 10] + FB.be32(111) + FB.be32(222) + [1, 1, 5, 18] + FB.be32(1) + FB.be32(2) + FB.be32(3) + FB.be32(4)
        let p = d.decode(FB.tcpv4Frame(flags: 0x10, options: opts), .ethernet)
        #expect(p.tcp?.options.tsVal == 111 && p.tcp?.options.tsEcr == 222)
        #expect(p.tcp?.options.sackBlockCount == 2)
        #expect(p.tcp?.options.malformed == false)
        let badOpt = d.decode(FB.tcpv4Frame(options: [2, 9, 0, 0]), .ethernet)
        #expect(badOpt.tcp?.options.malformed == true)
    }

    @Test func udpAndBadLength() {
        let u = FB.udp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2"), payload: [1, 2, 3, 4])
        let p = d.decode(FB.ipv4(proto: 17, payload: u), .ipv4)
        #expect(p.udp?.checksum == .good && p.payloadLength == 4)
        var bad = u; bad[4] = 0; bad[5] = 4
        #expect(d.decode(FB.ipv4(proto: 17, payload: bad), .ipv4).status.description == "malformed.udp.bad_length")
    }

    @Test func icmpTimeExceededQuotesProbe() {
        let probe = FB.ipv4(src: "10.0.0.1", dst: "203.0.113.5", proto: 6, ttl: 1, id: 777,
                            payload: FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("203.0.113.5"), sport: 33000, dport: 443, seq: 0xabcdef01))
        var icmp: [UInt8] = [11, 0, 0, 0, 0, 0, 0, 0] + Array(probe.prefix(28))
        let c = FB.checksum(icmp); icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xff)
        let p = d.decode(FB.ipv4(src: "10.9.9.1", dst: "10.0.0.1", proto: 1, payload: icmp), .ipv4)
        let i = p.icmp
        #expect(i?.isTimeExceeded == true && i?.checksum == .good)
        #expect(i?.quoted?.dst.description == "203.0.113.5")
        #expect(i?.quoted?.ttl == 1 && i?.quoted?.ipID == 777)
        #expect(i?.quoted?.srcPort == 33000 && i?.quoted?.dstPort == 443)
        #expect(i?.quoted?.tcpSeq == 0xabcdef01)
    }

    @Test func icmpv6UnreachableQuote() {
        let inner = FB.ipv6(src: "2001:db8::1", dst: "2001:db8::99", next: 17,
                            payload: FB.udp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::99"), sport: 1234, dport: 33434, payload: [0], v6: true))
        let msg: [UInt8] = [1, 1, 0, 0, 0, 0, 0, 0] + inner
        let p = d.decode(FB.ipv6(src: "2001:db8::fe", dst: "2001:db8::1", next: 58, payload: msg), .ipv6)
        #expect(p.icmp?.isUnreachable == true && p.icmp?.code == 1)
        #expect(p.icmp?.quoted?.dstPort == 33434)
        #expect(p.icmp?.checksum == .bad)     // built without a checksum on purpose
    }
}

@Suite struct TruncationSweepTests {
    /// Every prefix of every valid frame decodes to exactly one status and never crashes.
    @Test func everyPrefixIsAccounted() {
        let d = PacketDecoder()
        let tcpSeg = FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2"), options: [2, 4, 5, 0xb4], payload: Array("GET / HTTP/1.1\r\n".utf8))
        let ip4 = FB.ipv4(proto: 6, payload: tcpSeg)
        let v6 = FB.ipv6(next: 0, payload: [17, 0, 1, 4, 0, 0, 0, 0] + FB.udp(src: FB.v6("2001:db8::1"), dst: FB.v6("2001:db8::2"), payload: [1, 2], v6: true))
        let samples: [([UInt8], LinkType)] = [
            (FB.ethernet(type: 0x0800, ip4), .ethernet),
            (FB.ethernet(type: 0x8100, FB.be16(5) + FB.be16(0x86dd) + v6), .ethernet),
            (FB.ethernet(type: 0x8864, [0x11, 0] + FB.be16(1) + FB.be16(UInt16(ip4.count + 2)) + FB.be16(0x0021) + ip4), .ethernet),
            (FB.ethernet(type: 0x8847, FB.be32(0x0001_41ff) + ip4), .ethernet),
            ([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + FB.be16(0x0800) + ip4, .linuxSLL),
            (FB.be16(0x86dd) + [0, 0] + FB.be32(2) + FB.be16(1) + [0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + v6, .linuxSLL2),
            ([2, 0, 0, 0] + ip4, .null),
            ([0xff, 3, 0, 0x21] + ip4, .ppp),
            (FB.ipv4(proto: 47, payload: [0, 0, 8, 0] + ip4), .raw),
        ]
        for (frame, lt) in samples {
            var acct = PacketAccounting()
            for n in 0...frame.count {
                let prefix = Array(frame.prefix(n))
                let p = d.decode(prefix, lt, wire: frame.count)      // snaplen-style cut
                acct.count(p.status)
                let q = d.decode(prefix, lt)                           // the frame itself is short
                acct.count(q.status)
            }
            #expect(acct.frames == 2 * (frame.count + 1))
            #expect(acct.isBalanced)
            #expect(acct.decoded >= 2, "the whole frame decodes")
        }
    }
}

@Suite struct CoreTypeTests {
    @Test func ipv6TextForm() {
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("2001:0db8::0001")?.description == "2001:db8::1")
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("fe80::1:2:3:4:5:6")?.description == "fe80:0:1:2:3:4:5:6")
        #expect(IPAddress("::ffff:10.0.0.1")?.description == "::ffff:10.0.0.1")
        #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPAddress("10.0.0.256") == nil)
        #expect(IPAddress("10.0.0.1")!.withPort(80) == "10.0.0.1:80")
        #expect(IPAddress("::1")!.withPort(53) == "[::1]:53")
    }

    @Test func timestampPrecision() {
        #expect(Timestamp(nanoseconds: 1_700_000_000_123_456_000, digits: 6).description == "1700000000.123456")
        #expect(Timestamp(nanoseconds: 1_700_000_000_000_000_789, digits: 9).description == "1700000000.000000789")
        #expect(Timestamp(nanoseconds: 5_000_000_000, digits: 0).description == "5")
    }

    @Test func checksumMatchesReference() {
        var rng = TestRandom(seed: 0xac9584ac01)
        for len in 0..<80 {
            let bytes = (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ref = ~FB.checksum(bytes)         // ones-complement sum, folded
            let got = bytes.withUnsafeBytes { InternetChecksum.sum($0) }
            #expect(UInt16(got) == ref || (ref == 0xffff && got == 0) || (ref == 0 && got == 0xffff), "length \(len)")
        }
    }
}
