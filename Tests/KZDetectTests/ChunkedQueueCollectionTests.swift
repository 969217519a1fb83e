import Testing
@testable import KZDetect

/// `ChunkedQueue` never dropped from (how the detectors use it) keeps what an array would, in order, across chunk
/// boundaries, and reads as a collection.
@Suite struct ChunkedQueueCollectionTests {
    @Test func holdsEveryAppendedElementInOrderAcrossChunks() {
        var a = ChunkedQueue<Int>(chunkShift: 2)
        #expect(a.isEmpty)
        var plain: [Int] = []
        for k in 0..<11 {
            a.append(k * 7)
            plain.append(k * 7)
            #expect(a.count == plain.count)
            #expect(a[a.count - 1] == k * 7)
        }
        #expect(Array(a) == plain)
        #expect(a.indices == plain.indices)
        #expect(a.map { $0 + 1 } == plain.map { $0 + 1 })
        #expect(a.sorted(by: >) == plain.sorted(by: >))
        a.removeAll()
        #expect(a.isEmpty && a.count == 0)
        a.append(5)
        #expect(Array(a) == [5])
        #expect(a.indices == 0..<1)
    }
}
