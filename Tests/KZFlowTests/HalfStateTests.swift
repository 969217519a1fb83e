import Testing
import KZWire
@testable import KZFlow

/// One direction's IP-level counts: what `DirectionSummary.ttl` and `.ipID` report, and the 32-bit trait counts'
/// saturation.
@Suite struct HalfStateTests {
    func ip(ttl: UInt8, id: UInt32) -> IPSummary {
        IPSummary(version: 4, src: IPAddress(v4: 0x0a00_0001), dst: IPAddress(v4: 0x0a00_0002), ttl: ttl, ipID: id,
                  df: false, moreFragments: false, fragmentOffset: 0, isFragment: false, hasFragmentHeader: false,
                  proto: .udp, tos: 0, totalLength: 60, headerLength: 20, headerChecksum: .good, hasOptions: false,
                  recordRouteCount: 0, headerOffset: 14, tunnelDepth: 0, flowLabel: 0)
    }

    @Test func countsTTLChangesAndIPIDTraits() {
        var h = HalfState()
        // TTL 64, 64, 250, 64: two changes. IP-ID 100, 0, 5, 3: one zero, decreases 100 -> 0 and 5 -> 3.
        for (ttl, id) in [(64, 100), (64, 0), (250, 5), (64, 3)] as [(UInt8, UInt32)] {
            h.countIP(ip(ttl: ttl, id: id), wire: 74)
        }
        #expect(h.ttl == TTLRange(min: 64, max: 250, changes: 2))
        #expect(h.ipid.zeros == 1 && h.ipid.decreases == 2 && h.ipid.count == 4)
        #expect(h.ipid.maxStep == 5)
        #expect(h.packets == 4 && h.wireBytes == 296 && h.ipBytes == 240)
        #expect(MemoryLayout<HalfState>.stride == 72)
    }

    @Test func traitCountsSaturateInsteadOfWrapping() {
        var h = HalfState()
        h.countIP(ip(ttl: 64, id: 7), wire: 74)
        h.ttlChanges = .max - 1
        h.ipidZeros = .max - 1
        h.countIP(ip(ttl: 63, id: 0), wire: 74)
        h.countIP(ip(ttl: 64, id: 0), wire: 74)
        h.countIP(ip(ttl: 63, id: 0), wire: 74)
        #expect(h.ttlChanges == .max && h.ttl.changes == Int(UInt32.max))
        #expect(h.ipidZeros == .max && h.ipid.zeros == Int(UInt32.max))
        var n: UInt32 = .max
        HalfState.bump(&n)
        #expect(n == .max)
    }
}
