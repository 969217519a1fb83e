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

/// `SpanList` in the shared `SpanStore` answers as the 16-entry array ring it replaced.
@Suite struct SpanListTests {
    /// The earlier rule: append up to 16, then overwrite entry `next` and advance it modulo 16.
    struct ArrayRing {
        var spans: [DeliveredSpan] = []
        var next = 0
        mutating func add(_ s: DeliveredSpan) {
            if spans.count < 16 { spans.append(s) } else { spans[next] = s; next = (next + 1) & 15 }
        }
        func find(_ o: UInt64) -> DeliveredSpan? { spans.first { $0.offset <= o && o < $0.end } }
    }

    static func same(_ a: DeliveredSpan?, _ b: DeliveredSpan?) -> Bool {
        a?.offset == b?.offset && a?.length == b?.length && a?.frameDelta == b?.frameDelta
    }

    @Test(arguments: [1, 3, 4, 5, 16, 17, 40])
    func aListAnswersAsTheArrayRing(deliveries: Int) {
        var store = SpanStore()
        var other = SpanList()
        // Another direction interleaved, so chunks of two lists alternate in the store.
        var list = SpanList(), ring = ArrayRing()
        var offset: UInt64 = 0
        for n in 0..<deliveries {
            let len = 100 + (n * 37) % 900
            let s = DeliveredSpan(offset: offset, length: len, frame: 1000 + n * 3, base: 1000)!
            list.add(s, store: &store)
            ring.add(s)
            other.add(DeliveredSpan(offset: UInt64(n), length: 1, frame: n, base: 0)!, store: &store)
            offset += UInt64(len) + (n % 5 == 0 ? 50 : 0)   // gaps now and then
            #expect(list.count == ring.spans.count)
        }
        #expect(list.all(store).map(\.offset) == ring.spans.map(\.offset))
        for o in stride(from: UInt64(0), through: offset + 10, by: 7) {
            #expect(Self.same(list.find(o, store), ring.find(o)))
        }
        let perList = (min(deliveries, 16) + SpanStore.chunkSize - 1) / SpanStore.chunkSize
        #expect(store.chunksInUse == 2 * perList)
        list.release(&store)
        #expect(list.isEmpty && list.first == -1)
        #expect(store.chunksInUse == perList)
        other.release(&store)
        #expect(store.chunksInUse == 0)
    }
}
