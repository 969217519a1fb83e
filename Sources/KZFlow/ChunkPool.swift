/// The shape of a `ChunkPool`: static, so the index arithmetic of a specialised pool divides by constants.
@usableFromInline protocol ChunkLayout {
    associatedtype Element: Sendable
    static var chunkSize: Int { get }
    static var blockElements: Int { get }
    /// What fresh blocks are filled with (never read before it is written).
    static var filler: Element { get }
}

/// Fixed-size chunks of `chunkSize` elements, cut from blocks of `blockElements` that are allocated once and never
/// move, chained into lists by `next` links and reused through a free list. Many short per-flow lists (segment
/// records, delivered spans) then cost no heap block each. Chunk numbers are `Int32`; -1 ends a list.
@usableFromInline struct ChunkPool<Layout: ChunkLayout>: Sendable {
    typealias Element = Layout.Element
    private var chunkSize: Int { Layout.chunkSize }
    private var blockElements: Int { Layout.blockElements }
    private var blocks: [[Element]] = []
    /// The chunk after each chunk in its list, -1 for the last.
    private var next: [Int32] = []
    private var free: [Int32] = []
    /// Chunks handed out and not released.
    private(set) var chunksInUse = 0

    init() {
        precondition(Layout.chunkSize > 0 && Layout.blockElements % Layout.chunkSize == 0)
    }

    /// A fresh chunk (its `next` is -1).
    mutating func allocate() -> Int32 {
        chunksInUse += 1
        if let c = free.popLast() {
            next[Int(c)] = -1
            return c
        }
        let c = next.count
        if c * chunkSize == blocks.count * blockElements {
            blocks.append(Array(repeating: Layout.filler, count: blockElements))
        }
        next.append(-1)
        return Int32(c)
    }

    /// Returns chunk `c` to the free list, and the chunk that followed it.
    mutating func release(_ c: Int32) -> Int32 {
        let n = next[Int(c)]
        free.append(c)
        chunksInUse -= 1
        return n
    }

    /// Returns every chunk of the list starting at `first` to the free list.
    mutating func release(list first: Int32) {
        var c = first
        while c >= 0 { c = release(c) }
    }

    func next(after c: Int32) -> Int32 { next[Int(c)] }

    mutating func link(_ c: Int32, to n: Int32) { next[Int(c)] = n }

    /// Element `i` (< `chunkSize`) of chunk `c`.
    subscript(c: Int32, i: Int) -> Element {
        get {
            let k = Int(c) * chunkSize + i
            return blocks[k / blockElements][k % blockElements]
        }
        set {
            let k = Int(c) * chunkSize + i
            blocks[k / blockElements][k % blockElements] = newValue
        }
    }
}
