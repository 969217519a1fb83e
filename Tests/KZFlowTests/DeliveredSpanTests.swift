import KZWire
import Testing
@testable import KZFlow

/// The compact delivered-span record behind `StreamHalf.frameDelivering`.
@Suite struct DeliveredSpanTests {
    @Test func spansKeepOffsetEndAndFrameWithinTheDeltaRange() {
        let a = DeliveredSpan(offset: 1_000_000_000_000, length: 1460, frame: 9_000_000_123, base: 9_000_000_000)
        #expect(a?.offset == 1_000_000_000_000)
        #expect(a?.end == 1_000_000_001_460)
        #expect(a.map { 9_000_000_000 + Int($0.frameDelta) } == 9_000_000_123)
        // A frame before the base (reassembled datagrams carry their first fragment's frame) is fine too.
        #expect(DeliveredSpan(offset: 0, length: 1, frame: 95, base: 100)?.frameDelta == -5)
        #expect(DeliveredSpan(offset: 0, length: 1, frame: 100 + Int(Int32.max) + 1, base: 100) == nil)
        #expect(DeliveredSpan(offset: 0, length: -1, frame: 100, base: 100) == nil)
        #expect(MemoryLayout<DeliveredSpan>.stride == 16)
    }
}
