import Testing
@testable import KZWire

/// Decoder fixes found by the tshark comparison over the corpus (Tests/KZCaptureTests/CorpusTests.swift).
@Suite struct TsharkFindingsTests {
    let d = PacketDecoder()

    /// Segmentation offload (TSO, Linux BIG TCP) leaves IPv4 total length 0 in captures taken on the sender
    /// (tcpdump/bigtcp-ipv4.pcap, ipv4_tcp_http_xml_tso.pcap): the datagram is the rest of the frame.
    @Test func ipv4ZeroTotalLengthTakesTheFrame() {
        let payload = [UInt8](repeating: 0x41, count: 100)
        let seg = FB.tcp(src: FB.v4("10.0.0.1"), dst: FB.v4("10.0.0.2"), flags: 0x18, payload: payload)
        var ip = FB.ipv4(proto: 6, payload: seg)
        ip[2] = 0; ip[3] = 0; ip[10] = 0; ip[11] = 0
        let c = FB.checksum(Array(ip[0..<20]))
        ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xff)
        let p = d.decode(FB.ethernet(type: 0x0800, ip), .ethernet)
        #expect(p.status == .ok)
        #expect(p.ip?.totalLength == 0)
        #expect(p.tcp?.dstPort == 80)
        #expect(p.payloadLength == 100)
        #expect(p.tcp?.checksum == .good)
        // Cut by a snaplen: the declared payload still counts the bytes on the wire.
        let cut = Array(FB.ethernet(type: 0x0800, ip).prefix(14 + 20 + 20 + 10))
        let q = d.decode(cut, .ethernet, wire: 14 + ip.count)
        #expect(q.status == .ok)
        #expect(q.payloadLength == 100 && q.payloadCapturedLength == 10)
        // Every other total length below the header length is still malformed.
        var bad = ip; bad[3] = 10
        #expect(d.decode(bad, .ipv4).status.description == "malformed.ipv4.length_mismatch")
    }

    /// RFC 8200 §8.1: with a Routing header (segments left > 0) the pseudo-header uses the final destination
    /// (zeek/chksums__ip6-route0-tcp-bad-chksum.pcap is bad under this rule, good under the naive one).
    @Test func routingHeaderFinalDestinationInPseudoHeader() {
        let final = FB.v6("2001:db8::99")
        func frame(checksumDst: [UInt8]) -> [UInt8] {
            let seg = FB.tcp(src: FB.v6("2001:db8::1"), dst: checksumDst, v6: true)
            let rh: [UInt8] = [6, 2, 0, 1, 0, 0, 0, 0] + final          // type 0, one address, 1 segment left
            return FB.ipv6(next: 43, payload: rh + seg)
        }
        #expect(d.decode(frame(checksumDst: final), .ipv6).tcp?.checksum == .good)
        #expect(d.decode(frame(checksumDst: FB.v6("2001:db8::2")), .ipv6).tcp?.checksum == .bad)
        // Segments left 0: the header's destination is final.
        var done = frame(checksumDst: FB.v6("2001:db8::2"))
        done[40 + 3] = 0
        #expect(d.decode(done, .ipv6).tcp?.checksum == .good)
        // Every truncated prefix is accounted without a crash.
        let full = frame(checksumDst: final)
        for n in 0..<full.count { _ = d.decode(Array(full.prefix(n)), .ipv6, wire: full.count) }
    }

    /// RFC 6275 §6.3: the Home Address destination option replaces the source in the pseudo-header
    /// (zeek/ipv6-mobility-dst-opts.pcap).
    @Test func homeAddressOptionInPseudoHeader() {
        let home = FB.v6("2001:db8:1::5")
        let udp = FB.udp(src: home, dst: FB.v6("2001:db8::2"), payload: [1, 2, 3, 4], v6: true)
        let dstOpts: [UInt8] = [17, 2, 1, 2, 0, 0] + [0xc9, 16] + home            // PadN(2), then HAO: 24 bytes
        let p = d.decode(FB.ipv6(next: 60, payload: dstOpts + udp), .ipv6)
        #expect(p.status == .ok)
        #expect(p.udp?.checksum == .good)
        #expect(p.ip?.src.description == "2001:db8::1")
    }
}
