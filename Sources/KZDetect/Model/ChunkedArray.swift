/// An append-only array stored in chunks of `2^chunkShift` elements, for what a detector keeps about every flow or
/// transaction until `finish`.
///
/// An array that grows by appending doubles: at the moment it does, the old buffer and the new one (filled up to the old
/// count) are both held, so the last doubling of a 7 MB array needs 7 MB more for an instant. On the 1 GiB reference
/// that instant came at the end of the capture pass, with every flow open, and was the run's peak. Here growing adds one
/// chunk and never copies an element.
struct ChunkedArray<Element>: RandomAccessCollection {
    /// log2 of the elements per chunk.
    let chunkShift: Int
    private var chunks: [[Element]] = []
    private(set) var count = 0

    /// `chunkShift`: log2 of the elements per chunk (0...20).
    init(chunkShift: Int = 12) {
        precondition(chunkShift >= 0 && chunkShift <= 20)
        self.chunkShift = chunkShift
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }
    func index(after i: Int) -> Int { i + 1 }
    func index(before i: Int) -> Int { i - 1 }

    subscript(i: Int) -> Element {
        precondition(i >= 0 && i < count, "ChunkedArray index out of range")
        return chunks[i >> chunkShift][i & ((1 << chunkShift) - 1)]
    }

    mutating func append(_ e: Element) {
        if count & ((1 << chunkShift) - 1) == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(1 << chunkShift)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(e)
        count += 1
    }

    /// Frees every chunk.
    mutating func removeAll() {
        chunks = []
        count = 0
    }
}

extension ChunkedArray: Sendable where Element: Sendable {}
