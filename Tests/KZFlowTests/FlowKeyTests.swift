import Testing
import KZWire
@testable import KZFlow

@Suite struct FlowKeyTests {
    @Test func canonicalKeyIsTheSameBothWays() {
        let a = FlowEndpoint(addr("10.0.0.2"), 40000), b = FlowEndpoint(addr("10.0.0.1"), 80)
        let k1 = FlowKey(a, b, proto: .tcp), k2 = FlowKey(b, a, proto: .tcp)
        #expect(k1 == k2)
        #expect(k1.hashValue == k2.hashValue)
        #expect(k1.low == b && k1.high == a)
        #expect(FlowKey(a, b, proto: .tcp, vlan: 10) != k1)
        #expect(FlowKey(a, b, proto: .udp) != k1)
        #expect(_isPOD(FlowKey.self))
    }

    @Test func ipv6AndIPv4DoNotCollide() {
        let v4 = FlowEndpoint(IPAddress(v4: 1), 1), v6 = FlowEndpoint(IPAddress(v6High: 0, low: 1), 1)
        #expect(FlowKey(v4, v4, proto: .tcp) != FlowKey(v6, v6, proto: .tcp))
        #expect(FlowKey(v4, v6, proto: .tcp).low == v4)
    }

    @Test func sequenceNumbersCompareModulo2to32() {
        let a = TCPSeq(0xffff_fff0), b = TCPSeq(0x10)
        #expect(a < b)
        #expect(!(b < a))
        #expect(a.distance(to: b) == 0x20)
        #expect(b.distance(to: a) == -0x20)
        #expect((a + 0x20) == b)
        #expect(TCPSeq(5).isIn(a, b))
        #expect(!TCPSeq(0x20).isIn(a, b))
        #expect(TCPSeq(0xffff_fff0).isIn(a, b))
    }
}
