import Testing
@testable import KZPipeline
import KZDetect

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

    /// The queue under test and its reference, changed together.
    struct Pair {
        var q: ChunkedQueue<String>
        var r = Reference()
        init(chunkShift: Int) { q = ChunkedQueue(chunkShift: chunkShift) }
        mutating func append(_ v: String) {
            q.append(v)
            r.items.append(v)
        }
        /// Drops below `i` counted from the current start when `relative`, else below absolute index `i`.
        mutating func drop(upTo i: Int, relative: Bool = false) {
            q.dropFirst(upTo: relative ? q.startIndex + i : i)
            r.drop(upTo: relative ? r.start + i : i)
        }
        func check() {
            #expect(q.startIndex == r.start)
            #expect(q.endIndex == r.end)
            #expect(q.count == r.items.count)
            #expect(q.isEmpty == r.items.isEmpty)
            for (k, v) in r.items.enumerated() { #expect(q[r.start + k] == v) }
            // Exactly the chunks the held elements span (one at most when empty).
            let spanned = r.items.isEmpty ? 0 : ((r.end - 1) >> q.chunkShift) - (r.start >> q.chunkShift) + 1
            #expect(q.chunkCount <= max(spanned, 1))
            if !r.items.isEmpty { #expect(q.chunkCount == spanned) }
        }
    }

    @Test func appendsAndDropsAcrossChunkBoundariesMatchAnArray() {
        // Chunks of 4: every boundary case is a few elements away.
        var p = Pair(chunkShift: 2)
        var n = 0
        // (appends, drop to start + k) steps, chosen to land on, before and after chunk edges, and to empty the queue.
        let steps: [(Int, Int)] = [(1, 0), (3, 0), (1, 4), (4, 0), (0, 1), (7, 3), (0, 100), (1, 0), (2, 3), (5, 1),
                                   (0, 2), (9, 8), (0, 1), (3, 0), (0, 7), (4, 4), (0, 0), (13, 5), (0, 50)]
        for (appends, drop) in steps {
            for _ in 0..<appends {
                p.append("v\(n)")
                n += 1
            }
            p.check()
            p.drop(upTo: drop, relative: true)
            p.check()
        }
    }

    @Test func elementsChangeInPlaceAndDropsBelowTheStartAreIgnored() {
        var p = Pair(chunkShift: 1)
        for i in 0..<9 { p.append("\(i)") }
        for i in stride(from: 0, to: 9, by: 2) {
            p.q[i] += "x"
            p.r.items[i] += "x"
        }
        p.check()
        p.drop(upTo: 5)
        p.drop(upTo: 2)          // below the start: nothing happens
        p.check()
        p.q[6].append("y")
        p.r.items[1].append("y")
        p.check()
    }

    @Test func manyChunksFreedBehindAMovingWindow() {
        // A window of about 300 elements sliding over 5000: chunks stay those the window spans.
        var p = Pair(chunkShift: 4)
        for i in 0..<5000 {
            p.append("\(i)")
            if i % 7 == 0 { p.drop(upTo: i - 300) }
            #expect(p.q.chunkCount <= (310 >> 4) + 2)
        }
        p.check()
    }
}
