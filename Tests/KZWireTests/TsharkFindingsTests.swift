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
}
