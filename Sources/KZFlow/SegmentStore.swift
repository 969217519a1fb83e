import KZWire

/// The segment records of every live flow of a table, packed (`PackedSegment`, 32 bytes instead of 64), in chunks of
/// `chunkSize` records cut from blocks that are allocated once and never move, reused through a free list. A
/// `SegmentLog` chains its chunks (`ChunkList`).
///
/// Packing is lossless: the traits that repeat from packet to packet (option kinds, MSS, window scale, TTL, TOS, DF,
/// timestamps option, bad checksum) are kept once in `shapes` and referenced by a 16-bit index; a record whose time
/// or shape does not fit the compact form is kept whole in `wide` (`PackedSegment.isWide`).
///
/// One array per list and direction (the earlier layout) cost each live flow up to six heap blocks, their headers and
/// the slack of doubling (a head of 17 records in room for 32); here a list costs its records and at most one partly
/// filled chunk, and growing never copies.
@usableFromInline struct SegmentStore: Sendable {
    static let chunkSize = 4
    /// Records per block (384 KiB).
    static let blockRecords = 8192

    @usableFromInline enum Layout: ChunkLayout {
        @usableFromInline static var chunkSize: Int { SegmentStore.chunkSize }
        @usableFromInline static var blockElements: Int { SegmentStore.blockRecords }
        @usableFromInline static var filler: PackedSegment { PackedSegment() }
    }
    private var pool = ChunkPool<Layout>()
    /// Chunks handed out and not released.
    var chunksInUse: Int { pool.chunksInUse }
    /// Distinct shapes (never forgotten: a capture has few), and their indices.
    private var shapes: [SegmentShape] = []
    private var shapeIndex: [SegmentShape: UInt16] = [:]
    /// Records that do not pack, and the free entries of `wide`.
    private var wide: [SegmentRecord] = []
    private var freeWide: [Int32] = []
    /// Entries of `wide` in use.
    private(set) var wideInUse = 0
    /// Most shapes kept; later new shapes make their records wide.
    static let maxShapes = 65_535

    init() {}

    /// A fresh chunk (its `next` is -1).
    mutating func allocate() -> Int32 { pool.allocate() }

    /// Returns every chunk of the list starting at `first`, holding `count` records, to the free list (and the wide
    /// records among them).
    mutating func release(list first: Int32, count: Int) {
        var c = first
        var left = count
        while c >= 0 {
            for k in 0..<max(0, min(left, Self.chunkSize)) { discard(self[c, k]) }
            left -= Self.chunkSize
            c = pool.release(c)
        }
    }

    // MARK: packing

    /// `r` packed against its log's first frame and time; nil when its frame is 2^31 frames or more away from `base`.
    @inline(__always)
    mutating func pack(_ r: SegmentRecord, base: FrameNumber, baseTime: Int64) -> PackedSegment? {
        let d = r.frame &- base
        guard d >= Int(Int32.min), d <= Int(Int32.max) else { return nil }
        var p = PackedSegment()
        p.frameDelta = Int32(d)
        // Time: microseconds from the log's first record when exact (pcap), else nanoseconds when within 2^32.
        let (dt, overflow) = r.timestamp.subtractingReportingOverflow(baseTime)
        var timeOK = false
        if !overflow && dt >= 0 {
            if dt % 1000 == 0 && dt / 1000 <= Int64(UInt32.max) {
                p.time = UInt32(dt / 1000)
                timeOK = true
            } else if dt <= Int64(UInt32.max) {
                p.time = UInt32(dt)
                p.flags |= PackedSegment.nanoBit
                timeOK = true
            }
        }
        if timeOK, r.flags & ~PackedSegment.tcpFlagsMask == 0, let shape = shapeNumber(SegmentShape(r)) {
            p.seq = r.seq
            p.ack = r.ack
            p.tsVal = r.tsVal
            p.ipID = r.ipID
            p.payloadLength = r.payloadLength
            p.window = r.window
            p.flags |= r.flags | (r.direction == .reverse ? PackedSegment.reverseBit : 0)
            p.shape = shape
            return p
        }
        // Wide: the whole record aside; `seq` holds its entry.
        let w: Int32
        if let f = freeWide.popLast() {
            w = f
            wide[Int(w)] = r
        } else {
            w = Int32(wide.count)
            wide.append(r)
        }
        wideInUse += 1
        p.seq = UInt32(bitPattern: w)
        p.flags = PackedSegment.wideBit | (r.flags & 0x07)
        return p
    }

    /// The record `p` packs (`base` and `baseTime` as given to `pack`).
    func unpack(_ p: PackedSegment, base: FrameNumber, baseTime: Int64) -> SegmentRecord {
        if p.isWide { return wide[Int(Int32(bitPattern: p.seq))] }
        var r = SegmentRecord()
        r.frame = base &+ Int(p.frameDelta)
        r.timestamp = baseTime &+ (p.flags & PackedSegment.nanoBit != 0 ? Int64(p.time) : Int64(p.time) &* 1000)
        r.seq = p.seq
        r.ack = p.ack
        r.ipID = p.ipID
        r.tsVal = p.tsVal
        r.payloadLength = p.payloadLength
        r.window = p.window
        r.flags = p.flags & PackedSegment.tcpFlagsMask
        r.direction = p.flags & PackedSegment.reverseBit != 0 ? .reverse : .forward
        let s = shapes[Int(p.shape)]
        r.optionKinds = s.optionKinds
        r.mss = s.mss
        r.windowScale = s.windowScale
        r.ttl = s.ttl
        r.tos = s.tos
        r.df = s.bits & 1 != 0
        r.hasTimestamps = s.bits & 2 != 0
        r.badChecksum = s.bits & 4 != 0
        return r
    }

    /// Frees what a record no longer held needs (its wide entry).
    @inline(__always) mutating func discard(_ p: PackedSegment) {
        guard p.isWide else { return }
        freeWide.append(Int32(bitPattern: p.seq))
        wideInUse -= 1
    }

    private mutating func shapeNumber(_ s: SegmentShape) -> UInt16? {
        if let i = shapeIndex[s] { return i }
        guard shapes.count < Self.maxShapes else { return nil }
        let i = UInt16(shapes.count)
        shapes.append(s)
        shapeIndex[s] = i
        return i
    }

    func next(after c: Int32) -> Int32 { pool.next(after: c) }

    mutating func link(_ c: Int32, to n: Int32) { pool.link(c, to: n) }

    /// Record `i` (< `chunkSize`) of chunk `c`.
    subscript(c: Int32, i: Int) -> PackedSegment {
        get { pool[c, i] }
        set { pool[c, i] = newValue }
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

    /// Replaces record `i` (the caller discards or keeps the old one).
    mutating func set(_ i: Int, _ r: PackedSegment, store: inout SegmentStore) {
        let (c, k) = locate(i, store)
        store[c, k] = r
    }

    /// Appends the records in list order to `out`, unpacked against `base` and `baseTime` (`SegmentStore.unpack`).
    func copy(into out: inout [SegmentRecord], base: FrameNumber, baseTime: Int64, _ store: SegmentStore) {
        var c = first
        var left = Int(count)
        while c >= 0 && left > 0 {
            for k in 0..<min(left, SegmentStore.chunkSize) {
                out.append(store.unpack(store[c, k], base: base, baseTime: baseTime))
            }
            left -= SegmentStore.chunkSize
            c = store.next(after: c)
        }
    }

    /// Gives the chunks (and wide records) back and empties the list.
    mutating func release(_ store: inout SegmentStore) {
        if first >= 0 { store.release(list: first, count: Int(count)) }
        self = ChunkList()
    }
}

/// A `SegmentRecord` in 32 bytes (`SegmentStore.pack`): the frame as a signed distance from its log's first frame,
/// the time as a distance from its log's first time (microseconds, or nanoseconds with `nanoBit`), the repeating
/// traits as a `SegmentShape` number, the direction in the flags' spare bits. A wide record keeps only its control
/// flags here (for `isControl`) and its `SegmentStore.wide` entry in `seq`.
@usableFromInline struct PackedSegment: Sendable {
    var frameDelta: Int32 = 0
    var time: UInt32 = 0
    var seq: UInt32 = 0
    var ack: UInt32 = 0
    var tsVal: UInt32 = 0
    var ipID: UInt32 = 0
    var payloadLength: UInt16 = 0
    var window: UInt16 = 0
    /// TCP flags (RFC 9293 §3.1: 9 bits, `tcpFlagsMask`), then `reverseBit`, `nanoBit`, `wideBit`.
    var flags: UInt16 = 0
    var shape: UInt16 = 0

    static let tcpFlagsMask: UInt16 = 0x0fff
    static let reverseBit: UInt16 = 0x1000
    static let nanoBit: UInt16 = 0x2000
    static let wideBit: UInt16 = 0x4000

    init() {}

    var isWide: Bool { flags & Self.wideBit != 0 }
    /// SYN, FIN or RST.
    var isControl: Bool { flags & 0x07 != 0 }
}

/// The traits of a segment that mostly repeat along a flow (and across flows): kept once per table.
struct SegmentShape: Hashable, Sendable {
    var optionKinds: UInt64
    var mss: UInt16
    var windowScale: UInt8
    var ttl: UInt8
    var tos: UInt8
    /// Bit 0 DF, 1 timestamps option, 2 bad checksum.
    var bits: UInt8

    init(_ r: SegmentRecord) {
        optionKinds = r.optionKinds
        mss = r.mss
        windowScale = r.windowScale
        ttl = r.ttl
        tos = r.tos
        bits = (r.df ? 1 : 0) | (r.hasTimestamps ? 2 : 0) | (r.badChecksum ? 4 : 0)
    }
}

extension SegmentRecord {
    /// An all-zero record (filled in by `SegmentStore.unpack`).
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
