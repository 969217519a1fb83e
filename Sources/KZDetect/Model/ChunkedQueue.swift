/// A first-in first-out sequence addressed by absolute index (the `n`th element ever appended has index `n`), stored in
/// chunks of `chunkSize` elements that are allocated when the first of their elements is appended and freed when
/// `dropFirst(upTo:)` passes their last.
///
/// An array used as a queue (append at the end, remove from the front once half of it is consumed) doubles as it
/// grows: at the moment it doubles, the old and the new buffer are both held (three times the elements it holds), and
/// afterwards its capacity stays at the largest it ever reached, consumed entries included. Here memory is the held
/// elements rounded up to whole chunks, growing never copies an element, and a chunk of `chunkSize` large elements is
/// a block of its own that `free` returns to the system.
///
/// Never dropped from, it is an append-only array that grows without the doubling copy: the detectors keep what they
/// gather about every flow or transaction until `finish` in one (on the 1 GiB reference the last doubling of such an
/// array, 7 -> 14 MB as the last flows closed, was the run's peak). It is a random-access collection over the held
/// absolute indices.
public struct ChunkedQueue<Element>: RandomAccessCollection {
    /// Elements per chunk (a power of two, so index arithmetic is a shift and a mask).
    public let chunkShift: Int
    @inlinable var chunkSize: Int { 1 << chunkShift }
    /// `chunks[chunkHead...]` are live; chunk `chunkHead + k` holds absolute indices `(firstChunk + k) * chunkSize ..<`.
    @usableFromInline var chunks: [[Element]] = []
    @usableFromInline var chunkHead = 0
    /// Absolute number of the first live chunk.
    @usableFromInline var firstChunk = 0
    /// Absolute index of the first element held (`startIndex ..< endIndex` are held).
    @inlinable public var startIndex: Int { start }
    @usableFromInline var start = 0
    /// Absolute index the next append gets.
    @inlinable public var endIndex: Int { end }
    @usableFromInline var end = 0

    /// `chunkShift`: log2 of the elements per chunk (0...20).
    public init(chunkShift: Int = 10) {
        precondition(chunkShift >= 0 && chunkShift <= 20)
        self.chunkShift = chunkShift
    }

    @inlinable public var count: Int { endIndex - startIndex }
    @inlinable public var isEmpty: Bool { endIndex == startIndex }
    @inlinable public func index(after i: Int) -> Int { i + 1 }
    @inlinable public func index(before i: Int) -> Int { i - 1 }
    /// Chunks currently allocated.
    public var chunkCount: Int { chunks.count - chunkHead }

    /// The element with absolute index `i` (`startIndex <= i < endIndex`).
    @inlinable public subscript(i: Int) -> Element {
        get {
            precondition(i >= startIndex && i < endIndex, "ChunkedQueue index out of range")
            return chunks[chunkHead + (i >> chunkShift) - firstChunk][i & (chunkSize - 1)]
        }
        _modify {
            precondition(i >= startIndex && i < endIndex, "ChunkedQueue index out of range")
            let c = chunkHead + (i >> chunkShift) - firstChunk
            yield &chunks[c][i & (chunkSize - 1)]
        }
    }

    /// Appends `e` at absolute index `endIndex`.
    @inlinable public mutating func append(_ e: Element) {
        if endIndex & (chunkSize - 1) == 0 || chunks.count == chunkHead {
            var chunk: [Element] = []
            chunk.reserveCapacity(chunkSize)
            if chunks.count == chunkHead {
                // Empty queue: the new chunk is the one endIndex falls in.
                chunks.removeAll(keepingCapacity: true)
                chunkHead = 0
                firstChunk = endIndex >> chunkShift
                // A queue emptied in the middle of a chunk restarts there: pad up to endIndex's position.
                let pad = endIndex & (chunkSize - 1)
                if pad > 0 { chunk.append(contentsOf: repeatElement(e, count: pad)) }
            }
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(e)
        end += 1
    }

    /// Forgets every element below absolute index `i` (clamped to the held range); chunks whose elements are all
    /// forgotten are freed.
    public mutating func dropFirst(upTo i: Int) {
        let target = Swift.min(Swift.max(i, startIndex), endIndex)
        start = target
        if startIndex == endIndex {
            chunks.removeAll(keepingCapacity: false)
            chunkHead = 0
            firstChunk = endIndex >> chunkShift
            return
        }
        let keepFrom = startIndex >> chunkShift
        while firstChunk < keepFrom {
            chunks[chunkHead] = []
            chunkHead += 1
            firstChunk += 1
        }
        // The directory of chunks: drop its dead front once it is half of it.
        if chunkHead > 16 && chunkHead * 2 > chunks.count {
            chunks.removeFirst(chunkHead)
            chunkHead = 0
        }
    }

    /// Frees every chunk and starts again at absolute index 0.
    public mutating func removeAll() {
        chunks = []
        chunkHead = 0
        firstChunk = 0
        start = 0
        end = 0
    }
}

extension ChunkedQueue: Sendable where Element: Sendable {}
