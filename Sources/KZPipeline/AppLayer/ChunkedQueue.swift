/// A first-in first-out sequence addressed by absolute index (the `n`th element ever appended has index `n`), stored in
/// chunks of `chunkSize` elements that are allocated when the first of their elements is appended and freed when
/// `dropFirst(upTo:)` passes their last.
///
/// An array used as a queue (append at the end, remove from the front once half of it is consumed) doubles as it
/// grows: at the moment it doubles, the old and the new buffer are both held (three times the elements it holds), and
/// afterwards its capacity stays at the largest it ever reached, consumed entries included. Here memory is the held
/// elements rounded up to whole chunks, growing never copies an element, and a chunk of `chunkSize` large elements is
/// a block of its own that `free` returns to the system.
struct ChunkedQueue<Element> {
    /// Elements per chunk (a power of two, so index arithmetic is a shift and a mask).
    let chunkShift: Int
    var chunkSize: Int { 1 << chunkShift }
    /// `chunks[chunkHead...]` are live; chunk `chunkHead + k` holds absolute indices `(firstChunk + k) * chunkSize ..<`.
    private var chunks: [[Element]] = []
    private var chunkHead = 0
    /// Absolute number of the first live chunk.
    private var firstChunk = 0
    /// Absolute index of the first element held (`startIndex ..< endIndex` are held).
    private(set) var startIndex = 0
    /// Absolute index the next append gets.
    private(set) var endIndex = 0

    /// `chunkShift`: log2 of the elements per chunk (0...20).
    init(chunkShift: Int = 10) {
        precondition(chunkShift >= 0 && chunkShift <= 20)
        self.chunkShift = chunkShift
    }

    var count: Int { endIndex - startIndex }
    var isEmpty: Bool { endIndex == startIndex }
    /// Chunks currently allocated.
    var chunkCount: Int { chunks.count - chunkHead }

    /// The element with absolute index `i` (`startIndex <= i < endIndex`).
    subscript(i: Int) -> Element {
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
    mutating func append(_ e: Element) {
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
        endIndex += 1
    }

    /// Forgets every element below absolute index `i` (clamped to the held range); chunks whose elements are all
    /// forgotten are freed.
    mutating func dropFirst(upTo i: Int) {
        let target = min(max(i, startIndex), endIndex)
        startIndex = target
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
}
