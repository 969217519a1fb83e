import Testing
@testable import KZPipeline

/// `ChunkedQueue` against a plain reference (an array and the absolute index of its first element), through appends,
/// in-place changes and drops that cross chunk boundaries, empty the queue mid-chunk, and restart.
@Suite struct ChunkedQueueTests {
    /// The reference: `items[k]` has absolute index `start + k`.
    struct Reference {
        var items: [String] = []
        var start = 0
        var end: Int { start + items.count }
        mutating func drop(upTo i: Int) {
            let t = min(max(i, start), end)
            items.removeFirst(t - start)
            start = t
        }
    }

    static func check(_ q: ChunkedQueue<String>, _ r: Reference) {
        #expect(q.startIndex == r.start)
        #expect(q.endIndex == r.end)
        #expect(q.count == r.items.count)
        #expect(q.isEmpty == r.items.isEmpty)
        for (k, v) in r.items.enumerated() { #expect(q[r.start + k] == v) }
        // Never more chunks than the held elements span.
        let spanned = r.items.isEmpty ? 0 : ((r.end - 1) >> q.chunkShift) - (r.start >> q.chunkShift) + 1
        #expect(q.chunkCount <= max(spanned, 1))
        if !r.items.isEmpty { #expect(q.chunkCount == spanned) }
    }

    @Test func appendsAndDropsAcrossChunkBoundariesMatchAnArray() {
        // Chunks of 4: every boundary case is a few elements away.
        var q = ChunkedQueue<String>(chunkShift: 2)
        var r = Reference()
        var n = 0
        // (appends, drop to start + k) steps, chosen to land on, before and after chunk edges, and to empty the queue.
        let steps: [(Int, Int)] = [(1, 0), (3, 0), (1, 4), (4, 0), (0, 1), (7, 3), (0, 100), (1, 0), (2, 3), (5, 1),
                                   (0, 2), (9, 8), (0, 1), (3, 0), (0, 7), (4, 4), (0, 0), (13, 5), (0, 50)]
        for (appends, drop) in steps {
            for _ in 0..<appends {
                let v = "v\(n)"
                q.append(v)
                r.items.append(v)
                n += 1
            }
            Self.check(q, r)
            q.dropFirst(upTo: q.startIndex + drop)
            r.drop(upTo: r.start + drop)
            Self.check(q, r)
        }
    }

    @Test func elementsChangeInPlaceAndDropsBelowTheStartAreIgnored() {
        var q = ChunkedQueue<String>(chunkShift: 1)
        var r = Reference()
        for i in 0..<9 {
            q.append("\(i)")
            r.items.append("\(i)")
        }
        for i in stride(from: 0, to: 9, by: 2) {
            q[i] += "x"
            r.items[i] += "x"
        }
        Self.check(q, r)
        q.dropFirst(upTo: 5)
        r.drop(upTo: 5)
        q.dropFirst(upTo: 2)          // below the start: nothing happens
        r.drop(upTo: 2)
        Self.check(q, r)
        q[6].append("y")
        r.items[1].append("y")
        Self.check(q, r)
    }

    @Test func manyChunksFreedBehindAMovingWindow() {
        // A window of about 300 elements sliding over 5000: chunks stay those the window spans.
        var q = ChunkedQueue<String>(chunkShift: 4)
        var r = Reference()
        for i in 0..<5000 {
            q.append("\(i)")
            r.items.append("\(i)")
            if i % 7 == 0 {
                q.dropFirst(upTo: i - 300)
                r.drop(upTo: i - 300)
            }
            #expect(q.chunkCount <= (310 >> 4) + 2)
        }
        Self.check(q, r)
    }
}
