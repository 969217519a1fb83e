import Testing
import KZWire
@testable import KZFlow
import KZTestSupport

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

@Suite struct FlowIndexTests {
    /// Random inserts and removals against a Dictionary model (exercises probing runs and backward-shift deletion,
    /// with a deliberately tiny table so runs wrap around).
    @Test func matchesADictionaryModel() {
        var keys: [FlowKey] = []
        for i in 0..<600 {
            keys.append(FlowKey(FlowEndpoint(IPAddress(v4: UInt32(i % 7)), UInt16(i)),
                                FlowEndpoint(IPAddress(v4: 99), 80), proto: .tcp))
        }
        var index = FlowIndex(capacity: 4)
        var model: [FlowKey: Int32] = [:]
        var rng = TestRandom(seed: 0x1234_5678)
        func next() -> Int { Int(rng.next() >> 33) }
        for step in 0..<20_000 {
            let k = keys[next() % keys.count]
            let slot = Int32(keys.firstIndex(of: k)!)
            let h = FlowIndex.hash32(k)
            if model[k] != nil && next() % 2 == 0 {
                index.remove(hash: h, slot: slot)
                model[k] = nil
            } else if model[k] == nil {
                index.insert(hash: h, slot: slot)
                model[k] = slot
            }
            if step % 997 == 0 {
                for (j, key) in keys.enumerated() {
                    let found = index.find(key, hash: FlowIndex.hash32(key)) { keys[Int($0)] }
                    #expect(found == (model[key] ?? -1), "key \(j) at step \(step)")
                }
            }
        }
        #expect(index.count == model.count)
    }
}
