import KZWire

/// The segment records of every live flow of a table, packed (`PackedSegment`, 48 bytes instead of 56), in chunks of
/// `chunkSize` records cut from blocks that are allocated once and never move, reused through a free list. A
/// `SegmentLog` chains its chunks (`ChunkList`).
///
/// One array per list and direction (the earlier layout) cost each live flow up to six heap blocks, their headers and
/// the slack of doubling (a head of 17 records in room for 32); here a list costs its records and at most one partly
/// filled chunk, and growing never copies.
@usableFromInline struct SegmentStore: Sendable {
    static let chunkSize = 4
    /// Records per block (384 KiB).
    static let blockRecords = 8192

    private var blocks: [[PackedSegment]] = []
    /// The chunk after each chunk in its list, -1 for the last.
    private var next: [Int32] = []
    private var free: [Int32] = []
    /// Chunks handed out and not released.
    private(set) var chunksInUse = 0

    init() {}

    /// A fresh chunk (its `next` is -1).
    mutating func allocate() -> Int32 {
        chunksInUse += 1
        if let c = free.popLast() {
            next[Int(c)] = -1
            return c
        }
        let c = next.count
        if c * Self.chunkSize == blocks.count * Self.blockRecords {
            blocks.append(Array(repeating: PackedSegment(), count: Self.blockRecords))
        }
        next.append(-1)
        return Int32(c)
    }

    /// Returns every chunk of the list starting at `first` to the free list.
    mutating func release(list first: Int32) {
        var c = first
        while c >= 0 {
            let n = next[Int(c)]
            free.append(c)
            chunksInUse -= 1
            c = n
        }
    }

    func next(after c: Int32) -> Int32 { next[Int(c)] }

    mutating func link(_ c: Int32, to n: Int32) { next[Int(c)] = n }

    /// Record `i` (< `chunkSize`) of chunk `c`.
    subscript(c: Int32, i: Int) -> PackedSegment {
        get {
            let k = Int(c) * Self.chunkSize + i
            return blocks[k / Self.blockRecords][k % Self.blockRecords]
        }
        set {
            let k = Int(c) * Self.chunkSize + i
            blocks[k / Self.blockRecords][k % Self.blockRecords] = newValue
        }
    }
}

/// A list of records in chained `SegmentStore` chunks: 12 bytes inline.
@usableFromInline struct ChunkList: Sendable {
    var first: Int32 = -1
    var last: Int32 = -1
    var count: Int32 = 0

    /// Appends at the end, taking a new chunk when the last is full.
    @inline(__always) mutating func append(_ r: PackedSegment, store: inout SegmentStore) {
        let i = Int(count) % SegmentStore.chunkSize
        if i == 0 {
            let c = store.allocate()
            if last >= 0 { store.link(last, to: c) } else { first = c }
            last = c
        }
        store[last, i] = r
        count &+= 1
    }

    /// The chunk holding record `i` and the index in it.
    private func locate(_ i: Int, _ store: SegmentStore) -> (Int32, Int) {
        var c = first
        for _ in 0..<(i / SegmentStore.chunkSize) { c = store.next(after: c) }
        return (c, i % SegmentStore.chunkSize)
    }

    func get(_ i: Int, _ store: SegmentStore) -> PackedSegment {
        let (c, k) = locate(i, store)
        return store[c, k]
    }

    mutating func set(_ i: Int, _ r: PackedSegment, store: inout SegmentStore) {
        let (c, k) = locate(i, store)
        store[c, k] = r
    }

    /// Appends the records in list order to `out`, unpacked against `base` (`PackedSegment.unpacked`).
    func copy(into out: inout [SegmentRecord], base: FrameNumber, _ store: SegmentStore) {
        var c = first
        var left = Int(count)
        while c >= 0 && left > 0 {
            for k in 0..<min(left, SegmentStore.chunkSize) { out.append(store[c, k].unpacked(base: base)) }
            left -= SegmentStore.chunkSize
            c = store.next(after: c)
        }
    }

    /// Gives the chunks back and empties the list.
    mutating func release(_ store: inout SegmentStore) {
        if first >= 0 { store.release(list: first) }
        self = ChunkList()
    }
}

/// A `SegmentRecord` in 48 bytes: the frame as a signed distance from its log's first frame, the four flags in one
/// byte.
@usableFromInline struct PackedSegment: Sendable {
    var timestamp: Int64 = 0
    var optionKinds: UInt64 = 0
    var frameDelta: Int32 = 0
    var seq: UInt32 = 0
    var ack: UInt32 = 0
    var ipID: UInt32 = 0
    var tsVal: UInt32 = 0
    var payloadLength: UInt16 = 0
    var window: UInt16 = 0
    var mss: UInt16 = 0
    var flags: UInt16 = 0
    var ttl: UInt8 = 0
    var tos: UInt8 = 0
    var windowScale: UInt8 = 0xff
    /// Bit 0 reverse direction, 1 DF, 2 timestamps option, 3 bad checksum.
    var bits: UInt8 = 0

    init() {}

    /// `r` packed against `base`, nil when its frame is 2^31 frames or more away from `base`.
    @inline(__always) init?(_ r: SegmentRecord, base: FrameNumber) {
        let d = r.frame &- base
        guard d >= Int(Int32.min), d <= Int(Int32.max) else { return nil }
        timestamp = r.timestamp
        optionKinds = r.optionKinds
        frameDelta = Int32(d)
        seq = r.seq
        ack = r.ack
        ipID = r.ipID
        tsVal = r.tsVal
        payloadLength = r.payloadLength
        window = r.window
        mss = r.mss
        flags = r.flags
        ttl = r.ttl
        tos = r.tos
        windowScale = r.windowScale
        bits = (r.direction == .reverse ? 1 : 0) | (r.df ? 2 : 0) | (r.hasTimestamps ? 4 : 0) | (r.badChecksum ? 8 : 0)
    }

    /// SYN, FIN or RST.
    var isControl: Bool { flags & 0x07 != 0 }

    func unpacked(base: FrameNumber) -> SegmentRecord {
        var r = SegmentRecord()
        r.frame = base &+ Int(frameDelta)
        r.timestamp = timestamp
        r.seq = seq
        r.ack = ack
        r.ipID = ipID
        r.tsVal = tsVal
        r.optionKinds = optionKinds
        r.payloadLength = payloadLength
        r.window = window
        r.mss = mss
        r.flags = flags
        r.direction = bits & 1 != 0 ? .reverse : .forward
        r.ttl = ttl
        r.tos = tos
        r.windowScale = windowScale
        r.df = bits & 2 != 0
        r.hasTimestamps = bits & 4 != 0
        r.badChecksum = bits & 8 != 0
        return r
    }
}

extension SegmentRecord {
    /// An all-zero record (filled in by `PackedSegment.unpacked`).
    init() {
        frame = 0
        timestamp = 0
        seq = 0
        ack = 0
        ipID = 0
        tsVal = 0
        optionKinds = 0
        payloadLength = 0
        window = 0
        mss = 0
        flags = 0
        direction = .forward
        ttl = 0
        tos = 0
        windowScale = 0xff
        df = false
        hasTimestamps = false
        badChecksum = false
    }
}
