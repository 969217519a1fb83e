import KZWire

/// Where a segment's bytes came from (carried into `StreamChunk` and evidence).
@usableFromInline struct SegmentSource: Sendable {
    var frame: FrameNumber
    var timestamp: Timestamp
    var ttl: UInt8
    var ipID: UInt32
}

/// Bytes delivered by one frame, for naming the frame of a later conflict: 16 bytes instead of 24, since delivered spans
/// are kept for every live direction. A span whose frame is 2^31 frames or more from its direction's first is not kept
/// (its conflicts then name frame 0, unknown).
@usableFromInline struct DeliveredSpan: Sendable {
    var offset: UInt64
    var length: UInt32
    var frameDelta: Int32

    init?(offset: UInt64, length: Int, frame: FrameNumber, base: FrameNumber) {
        let d = frame &- base
        guard d >= Int(Int32.min), d <= Int(Int32.max), length >= 0, length <= Int(UInt32.max) else { return nil }
        self.offset = offset
        self.length = UInt32(length)
        frameDelta = Int32(d)
    }

    var end: UInt64 { offset &+ UInt64(length) }

    private init(zeroOffset: Void) {
        offset = 0
        length = 0
        frameDelta = 0
    }

    /// An empty span (fills unused store space).
    static let zero = DeliveredSpan(zeroOffset: ())
}

/// Out-of-order bytes waiting for the hole before them to fill. Only this path copies payload.
@usableFromInline struct BufferedSegment: Sendable {
    var offset: UInt64
    var bytes: [UInt8]
    var source: SegmentSource
    var end: UInt64 { offset &+ UInt64(bytes.count) }
}

/// Reassembly of one direction of a TCP connection (RFC 9293 §3.4 sequence space, §3.10.7.4 segment processing,
/// §3.10.7.4 "segments with higher beginning sequence numbers may be held"): in-order bytes stream straight from the
/// frame to the sink without a copy; out-of-order bytes are copied and buffered; every byte that arrives again is
/// compared with the version seen first (retained ring for delivered bytes, buffer for waiting ones) and differences
/// are recorded as `OverlapConflict`s with both frames. The first version wins, as in most stacks for delivered data.
///
/// Offsets are 64-bit stream offsets, so sequence wraparound (RFC 9293 §3.4, 2^32) needs no special case: a segment is
/// placed by its signed 32-bit distance to the next expected sequence number.
@usableFromInline struct StreamHalf: Sendable {
    // Small fields first, in one word (160 bytes in all, 24 fewer than in declaration order by topic).
    var started = false
    var ended = false
    /// Valid bytes in `head` (offsets `0..<headCount`).
    var headCount: UInt8 = 0
    var nextSeq: UInt32 = 0
    var nextOffset: UInt64 = 0
    var finOffset: UInt64 = .max
    var ooo: [BufferedSegment] = []
    var bufferedBytes = 0
    /// Retained delivered bytes: `ring[o & (ring.count-1)]` holds offset `o` for `o` in `nextOffset-retained ..<
    /// nextOffset`.
    var ring: [UInt8] = []
    var retained = 0
    /// The first `StreamHalf.headCapacity` delivered bytes, kept inline whatever the retained-byte budget: injection
    /// races sit at the start of a stream (a forged response ahead of the real one), and on a busy capture the ring
    /// budget is spent long before the real response arrives (on the 1 GiB reference, 167 of 188 injected HTTP block
    /// pages were only found with it).
    var head = InlineArray<64, UInt8>(repeating: 0)
    static let headCapacity = 64
    /// The last 16 delivered spans and their frames, for naming the first frame of a conflict (in the table's
    /// `SpanStore`, `ReassemblyBudget.spans`); frames count from `spanBase` (the first span's frame).
    var spans = SpanList()
    var spanBase: FrameNumber = 0
    var retransmittedBytes = 0
    var missedBytes = 0
    var uncheckedBytes = 0

    // MARK: start

    /// Starts (or, before any byte arrived, restarts) the stream at `seq` (the first data byte).
    mutating func start(at seq: UInt32) {
        started = true
        nextSeq = seq
    }

    /// Offset of `seq` relative to the next expected byte (may be negative).
    @inline(__always) func offset(of seq: UInt32) -> Int64 {
        Int64(bitPattern: nextOffset) &+ Int64(Int32(bitPattern: seq &- nextSeq))
    }

    /// True when no byte was delivered or buffered yet (a new SYN may still move the start).
    var pristine: Bool { nextOffset == 0 && ooo.isEmpty }

    // MARK: data

    /// Processes the payload of one segment. `seq` is the sequence number of the first payload byte, `length` the
    /// payload length the headers declare, `bytes` the captured part (`bytes.count <= length`).
    mutating func receive<S: FlowEventSink>(
        seq: UInt32, length: Int, bytes inBytes: UnsafeRawBufferPointer, source: SegmentSource,
        direction: FlowDirection, flow: FlowContext, notes: inout FlowNotes, budget: inout ReassemblyBudget,
        limits: FlowLimits, sink: inout S
    ) {
        if !started { start(at: seq) }
        var bytes = inBytes
        var start = offset(of: seq)
        let end = start + Int64(length)
        if start < 0 {
            notes.anomaly(.dataBeforeStart, frame: source.frame)
            if end <= 0 { return }
            let drop = Int(-start)
            bytes = drop < bytes.count ? bytes.dropping(drop) : UnsafeRawBufferPointer(start: nil, count: 0)
            start = 0
        }
        // Keep-alive probe: one byte (or none) just below the next expected byte (RFC 9293 §3.8.4).
        if length <= 1 && end == Int64(nextOffset) && start == Int64(nextOffset) - 1 && ooo.isEmpty { return }

        // Buffer caps: when this segment needs buffering and does not fit, skip holes until it does.
        if start > Int64(nextOffset) {
            let n = min(bytes.count, length)
            while bufferedBytes + n > limits.maxBufferedBytesPerFlow
                || budget.buffered + n > limits.maxBufferedBytesTotal {
                notes.anomaly(.bufferCap, frame: source.frame)
                notes.history.once(.x, UInt8(ascii: "X"), direction == .forward)
                budget.bufferCapHits &+= 1
                let target = ooo.isEmpty ? UInt64(start) : min(ooo[0].offset, UInt64(start))
                skip(to: target, reason: .bufferCap, frame: source.frame, direction: direction, flow: flow,
                     notes: &notes, limits: limits, sink: &sink)
                drain(at: source.frame, direction: direction, flow: flow, budget: &budget, limits: limits, sink: &sink)
                if Int64(nextOffset) >= start { break }
            }
        }

        // Bytes at or below the delivery point: compare with what was delivered.
        let next = Int64(nextOffset)
        if start < next {
            let ovEnd = min(end, next)
            let capEnd = min(ovEnd, start + Int64(bytes.count))
            compareDelivered(from: UInt64(start), to: UInt64(ovEnd), captured: bytes, capturedEnd: capEnd,
                             seq: seq &+ UInt32(truncatingIfNeeded: start - offset(of: seq)), source: source,
                             direction: direction, flow: flow, notes: &notes, limits: limits,
                             spanStore: budget.spans, sink: &sink)
            if end <= next { return }
            let drop = Int(next - start)
            bytes = drop < bytes.count ? bytes.dropping(drop) : UnsafeRawBufferPointer(start: nil, count: 0)
            start = next
        }

        // New bytes [start, start + bytes.count): fill around buffered segments.
        let capEnd = UInt64(start) + UInt64(bytes.count)
        var pos = UInt64(start)
        var i = 0
        while i < ooo.count && ooo[i].end <= pos { i += 1 }
        while pos < capEnd {
            if i < ooo.count && ooo[i].offset <= pos {
                let oe = min(ooo[i].end, capEnd)
                compareBuffered(index: i, from: pos, to: oe, new: bytes, newStart: UInt64(start), source: source,
                                direction: direction, flow: flow, notes: &notes, limits: limits, sink: &sink)
                pos = oe
                i += 1
                continue
            }
            let pieceEnd = i < ooo.count ? min(ooo[i].offset, capEnd) : capEnd
            let piece = bytes.slice(Int(pos - UInt64(start))..<Int(pieceEnd - UInt64(start)))
            if pos == nextOffset {
                deliver(piece, source: source, at: source.frame, direction: direction, flow: flow, limits: limits,
                        budget: &budget, sink: &sink)
            } else {
                ooo.insert(BufferedSegment(offset: pos, bytes: Array(piece), source: source), at: i)
                bufferedBytes &+= piece.count
                budget.buffered &+= piece.count
                if budget.buffered > budget.peakBuffered { budget.peakBuffered = budget.buffered }
                i += 1
            }
            pos = pieceEnd
        }
        if !ooo.isEmpty {
            drain(at: source.frame, direction: direction, flow: flow, budget: &budget, limits: limits, sink: &sink)
        }
        // Sequence space the snap length cut off: nothing will ever fill it.
        if UInt64(end) > capEnd && nextOffset == capEnd {
            notes.anomaly(.snapTruncated, frame: source.frame)
            skip(to: UInt64(end), reason: .snapTruncated, frame: source.frame, direction: direction, flow: flow,
                 notes: &notes, limits: limits, sink: &sink)
            drain(at: source.frame, direction: direction, flow: flow, budget: &budget, limits: limits, sink: &sink)
        }
    }

    /// Records where the FIN sits (`seq` = sequence number of the FIN itself, after any payload).
    mutating func fin<S: FlowEventSink>(seq: UInt32, flow: FlowContext, direction: FlowDirection, sink: inout S) {
        if !started { start(at: seq) }
        let o = offset(of: seq)
        guard o >= 0 else { return }
        if finOffset == .max || UInt64(o) < finOffset { finOffset = UInt64(o) }
        if !ended && nextOffset >= finOffset {
            ended = true
            sink.streamEnd(flow, direction: direction, offset: nextOffset, reason: .fin)
        }
    }

    /// The peer acknowledged up to `ack` (RFC 9293 §3.4): bytes below it that never arrived are a gap (capture loss).
    mutating func acknowledged<S: FlowEventSink>(
        _ ack: UInt32, frame: FrameNumber, direction: FlowDirection, flow: FlowContext, notes: inout FlowNotes,
        budget: inout ReassemblyBudget, limits: FlowLimits, sink: inout S
    ) {
        guard started else { return }
        let d = Int64(Int32(bitPattern: ack &- nextSeq))
        guard d > 0, d < 1 << 30 else { return }
        // One unexplained sequence number may be a FIN the capture missed.
        if d == 1 && finOffset == .max { return }
        var target = nextOffset &+ UInt64(d)
        if finOffset != .max && target > finOffset { target = finOffset }
        while target > nextOffset {
            let holeEnd = ooo.first.map { min($0.offset, target) } ?? target
            skip(to: holeEnd, reason: .ackedUnseen, frame: frame, direction: direction, flow: flow, notes: &notes,
                 limits: limits, sink: &sink)
            drain(at: frame, direction: direction, flow: flow, budget: &budget, limits: limits, sink: &sink)
        }
    }

    /// End of the flow: flushes buffered data behind holes (as gaps), ends the stream, returns budgets.
    mutating func close<S: FlowEventSink>(
        frame: FrameNumber, direction: FlowDirection, flow: FlowContext, notes: inout FlowNotes,
        budget: inout ReassemblyBudget, limits: FlowLimits, sink: inout S
    ) {
        while let first = ooo.first {
            skip(to: first.offset, reason: .flowClosed, frame: frame, direction: direction, flow: flow,
                 notes: &notes, limits: limits, sink: &sink)
            drain(at: frame, direction: direction, flow: flow, budget: &budget, limits: limits, sink: &sink)
        }
        if started && !ended {
            ended = true
            sink.streamEnd(flow, direction: direction, offset: nextOffset, reason: .closed)
        }
        budget.retained &-= ring.count
        ring = []
        retained = 0
        spans.release(&budget.spans)
    }

    // MARK: internals

    /// Delivers `bytes` at `nextOffset`.
    @inline(__always)
    mutating func deliver<S: FlowEventSink>(
        _ bytes: UnsafeRawBufferPointer, source: SegmentSource, at frame: FrameNumber, direction: FlowDirection,
        flow: FlowContext, limits: FlowLimits, budget: inout ReassemblyBudget, sink: inout S
    ) {
        let n = bytes.count
        guard n > 0 else { return }
        sink.streamData(flow, StreamChunk(direction: direction, offset: nextOffset, seq: nextSeq, bytes: bytes,
                                          frame: source.frame, timestamp: source.timestamp, ttl: source.ttl,
                                          ipID: source.ipID, deliveredAtFrame: frame))
        if nextOffset < UInt64(StreamHalf.headCapacity) {
            let k = min(n, StreamHalf.headCapacity - Int(nextOffset))
            for j in 0..<k { head[Int(nextOffset) + j] = bytes[j] }
            headCount = UInt8(Int(nextOffset) + k)
        }
        if nextOffset < limits.retainStreamPrefix {
            retain(bytes, limits: limits, budget: &budget)
        } else if retained > 0 || !ring.isEmpty {
            budget.retained &-= ring.count
            ring = []
            retained = 0
        }
        if spans.isEmpty { spanBase = source.frame }
        if let span = DeliveredSpan(offset: nextOffset, length: n, frame: source.frame, base: spanBase) {
            spans.add(span, store: &budget.spans)
        }
        nextOffset &+= UInt64(n)
        nextSeq &+= UInt32(truncatingIfNeeded: n)
        if !ended && nextOffset >= finOffset {
            ended = true
            sink.streamEnd(flow, direction: direction, offset: nextOffset, reason: .fin)
        }
    }

    /// Delivers buffered segments that became contiguous.
    mutating func drain<S: FlowEventSink>(
        at frame: FrameNumber, direction: FlowDirection, flow: FlowContext, budget: inout ReassemblyBudget,
        limits: FlowLimits, sink: inout S
    ) {
        while let first = ooo.first, first.offset <= nextOffset {
            ooo.removeFirst()
            bufferedBytes &-= first.bytes.count
            budget.buffered &-= first.bytes.count
            guard first.end > nextOffset else { continue }
            let skipN = Int(nextOffset - first.offset)
            first.bytes.withUnsafeBytes { raw in
                deliver(raw.dropping(skipN), source: first.source, at: frame, direction: direction, flow: flow,
                        limits: limits, budget: &budget, sink: &sink)
            }
        }
    }

    /// Declares `[nextOffset, target)` missing and moves past it.
    mutating func skip<S: FlowEventSink>(
        to target: UInt64, reason: GapReason, frame: FrameNumber, direction: FlowDirection, flow: FlowContext,
        notes: inout FlowNotes, limits: FlowLimits, sink: inout S
    ) {
        guard target > nextOffset else { return }
        let len = Int(target - nextOffset)
        let gap = StreamGap(direction: direction, offset: nextOffset, length: len, seq: nextSeq, frame: frame,
                            reason: reason)
        notes.gap(gap, limit: limits.maxGapsPerFlow)
        notes.anomaly(.gap, frame: frame)
        notes.history.scaled(.g, UInt8(ascii: "G"), direction == .forward)
        missedBytes &+= len
        sink.streamGap(flow, gap)
        nextOffset = target
        nextSeq &+= UInt32(truncatingIfNeeded: len)
        retained = 0
        if !ended && nextOffset >= finOffset {
            ended = true
            sink.streamEnd(flow, direction: direction, offset: nextOffset, reason: .fin)
        }
    }

    /// Lets go of what only serves comparing a later segment with delivered bytes: the retained ring and the delivered
    /// spans (`FlowTable.releaseDeliveredState`). The spans are dropped without being handed back to `budget.spans`,
    /// which the caller replaces.
    mutating func forgetDelivered(_ budget: inout ReassemblyBudget) {
        budget.retained &-= ring.count
        ring = []
        retained = 0
        spans = SpanList()
    }

    /// Appends delivered bytes to the retained ring, growing it (power of two) within the budgets.
    @inline(__always)
    mutating func retain(_ bytes: UnsafeRawBufferPointer, limits: FlowLimits, budget: inout ReassemblyBudget) {
        let n = bytes.count
        if ring.count < limits.retainedBytesPerDirection && retained + n > ring.count {
            grow(to: retained + n, limits: limits, budget: &budget)
        }
        let cap = ring.count
        guard cap > 0 else { retained = 0; return }
        let mask = cap - 1
        var src = bytes
        var at = nextOffset
        if n > cap {
            src = bytes.dropping(n - cap)
            at = nextOffset &+ UInt64(n - cap)
        }
        ring.withUnsafeMutableBytes { r in
            let pos = Int(truncatingIfNeeded: at) & mask
            let first = min(src.count, cap - pos)
            r.baseAddress!.advanced(by: pos).copyMemory(from: src.baseAddress!, byteCount: first)
            if first < src.count {
                r.baseAddress!.copyMemory(from: src.baseAddress!.advanced(by: first), byteCount: src.count - first)
            }
        }
        retained = min(cap, retained + n)
    }

    mutating func grow(to need: Int, limits: FlowLimits, budget: inout ReassemblyBudget) {
        var want = max(256, ring.count)
        while want < need && want < limits.retainedBytesPerDirection { want <<= 1 }
        want = min(want, max(256, limits.retainedBytesPerDirection))
        // Keep a power of two.
        var p = 1
        while p < want { p <<= 1 }
        if p > want { p >>= 1 }
        want = p
        guard want > ring.count, !budget.closing,
              budget.retained + (want - ring.count) <= limits.maxRetainedBytesTotal else { return }
        var newRing = [UInt8](repeating: 0, count: want)
        let oldCount = ring.count
        // The retained window keeps its stream offsets: each byte goes from `o mod old` to `o mod new`, copied in the
        // runs between the two rings' wrap points (at most three).
        ring.withUnsafeBytes { src in
            newRing.withUnsafeMutableBytes { dst in
                var o = nextOffset &- UInt64(retained)
                var left = retained
                while left > 0 {
                    let from = Int(truncatingIfNeeded: o) & (oldCount - 1)
                    let to = Int(truncatingIfNeeded: o) & (want - 1)
                    let run = min(left, oldCount - from, want - to)
                    dst.baseAddress!.advanced(by: to).copyMemory(from: src.baseAddress!.advanced(by: from), byteCount: run)
                    o &+= UInt64(run)
                    left -= run
                }
            }
        }
        budget.retained &+= want - ring.count
        ring = newRing
    }

    /// Frame that delivered `offset`, when still remembered.
    func frameDelivering(_ offset: UInt64, _ store: SpanStore) -> FrameNumber {
        guard let s = spans.find(offset, store) else { return 0 }
        return spanBase &+ Int(s.frameDelta)
    }

    /// Compares bytes that arrive again for `[s, e)` below the delivery point with what was delivered: the retained
    /// ring's window (`nextOffset - retained ..< nextOffset`) and the stream head (`0 ..< headCount`) are checked;
    /// bytes in neither, or past the capture, count as unchecked.
    mutating func compareDelivered<S: FlowEventSink>(
        from s: UInt64, to e: UInt64, captured: UnsafeRawBufferPointer, capturedEnd: Int64, seq: UInt32,
        source: SegmentSource, direction: FlowDirection, flow: FlowContext, notes: inout FlowNotes,
        limits: FlowLimits, spanStore: SpanStore, sink: inout S
    ) {
        let total = Int(e - s)
        let ringStart = ring.isEmpty ? nextOffset : nextOffset &- UInt64(retained)
        let headEnd = UInt64(headCount)
        let ce = capturedEnd > Int64(s) ? min(UInt64(capturedEnd), e) : s
        // The checkable part: the head's part of [s, ce), then the ring's (they may overlap or leave a hole between).
        let mask = ring.count &- 1
        @inline(__always) func delivered(_ o: UInt64) -> UInt8? {
            if o >= ringStart && o < nextOffset { return ring[Int(truncatingIfNeeded: o) & mask] }
            if o < headEnd { return head[Int(o)] }
            return nil
        }
        var checked = 0
        var differing = 0
        var firstDiff: UInt64 = 0
        var firstChecked: UInt64 = .max, lastChecked: UInt64 = 0
        var o = s
        // Skip straight to the checkable ranges: [s, headEnd) and [ringStart, ce).
        while o < ce {
            if o >= headEnd && o < ringStart { o = ringStart; continue }
            guard let old = delivered(o) else { break }
            checked &+= 1
            if firstChecked == .max { firstChecked = o }
            lastChecked = o
            if old != captured[Int(o - s)] {
                if differing == 0 { firstDiff = o }
                differing &+= 1
            }
            o &+= 1
        }
        uncheckedBytes &+= total - checked
        guard checked > 0 else { return }
        if differing == 0 {
            retransmittedBytes &+= checked
            return
        }
        var a = [UInt8](), b = [UInt8]()
        var j = firstDiff
        while a.count < limits.conflictSampleBytes && j < ce, let old = delivered(j) {
            a.append(old)
            b.append(captured[Int(j - s)])
            j &+= 1
        }
        let c = OverlapConflict(direction: direction, offset: firstChecked, length: Int(lastChecked - firstChecked) + 1,
                                seq: seq &+ UInt32(truncatingIfNeeded: firstChecked - s), differingBytes: differing,
                                firstDifference: firstDiff, firstFrame: frameDelivering(firstDiff, spanStore),
                                secondFrame: source.frame, firstBytes: a, secondBytes: b, firstWasDelivered: true)
        record(c, frame: source.frame, notes: &notes, limits: limits, flow: flow, sink: &sink)
    }

    mutating func compareBuffered<S: FlowEventSink>(
        index i: Int, from s: UInt64, to e: UInt64, new: UnsafeRawBufferPointer, newStart: UInt64,
        source: SegmentSource, direction: FlowDirection, flow: FlowContext, notes: inout FlowNotes,
        limits: FlowLimits, sink: inout S
    ) {
        let old = ooo[i]
        var differing = 0
        var firstDiff: UInt64 = 0
        old.bytes.withUnsafeBytes { ob in
            var o = s
            while o < e {
                if ob[Int(o - old.offset)] != new[Int(o - newStart)] {
                    if differing == 0 { firstDiff = o }
                    differing &+= 1
                }
                o &+= 1
            }
        }
        if differing == 0 {
            retransmittedBytes &+= Int(e - s)
            return
        }
        let k = min(limits.conflictSampleBytes, Int(e - firstDiff))
        var a = [UInt8](), b = [UInt8]()
        for j in 0..<k {
            let o = firstDiff &+ UInt64(j)
            a.append(old.bytes[Int(o - old.offset)])
            b.append(new[Int(o - newStart)])
        }
        let seqAtS = nextSeq &+ UInt32(truncatingIfNeeded: s &- nextOffset)
        let c = OverlapConflict(direction: direction, offset: s, length: Int(e - s), seq: seqAtS,
                                differingBytes: differing, firstDifference: firstDiff, firstFrame: old.source.frame,
                                secondFrame: source.frame, firstBytes: a, secondBytes: b, firstWasDelivered: false)
        record(c, frame: source.frame, notes: &notes, limits: limits, flow: flow, sink: &sink)
    }

    func record<S: FlowEventSink>(_ c: OverlapConflict, frame: FrameNumber, notes: inout FlowNotes,
                                  limits: FlowLimits, flow: FlowContext, sink: inout S) {
        notes.conflict(c, limit: limits.maxConflictsPerFlow)
        notes.anomaly(.overlapConflict, frame: frame)
        sink.overlapConflict(flow, c)
    }
}

/// The delivered spans of every live stream direction of a table, in chunks of `chunkSize` cut from blocks allocated
/// once, reused through a free list (as `SegmentStore`): a direction's 16 spans cost 272 bytes instead of an array's
/// 304 (header and allocator overhead), and a direction with a few spans 68 instead of 112.
@usableFromInline struct SpanStore: Sendable {
    static let chunkSize = 4
    /// Spans per block (128 KiB).
    static let blockSpans = 8192

    @usableFromInline enum Layout: ChunkLayout {
        @usableFromInline static var chunkSize: Int { SpanStore.chunkSize }
        @usableFromInline static var blockElements: Int { SpanStore.blockSpans }
        @usableFromInline static var filler: DeliveredSpan { .zero }
    }
    private var pool = ChunkPool<Layout>()
    /// Chunks handed out and not released.
    var chunksInUse: Int { pool.chunksInUse }

    init() {}

    mutating func allocate() -> Int32 { pool.allocate() }
    mutating func release(list first: Int32) { pool.release(list: first) }
    func next(after c: Int32) -> Int32 { pool.next(after: c) }
    mutating func link(_ c: Int32, to n: Int32) { pool.link(c, to: n) }

    subscript(c: Int32, i: Int) -> DeliveredSpan {
        get { pool[c, i] }
        set { pool[c, i] = newValue }
    }
}

/// The last `capacity` delivered spans of one direction, in `SpanStore` chunks: appended until full, then each new
/// span overwrites the oldest (a ring). 9 bytes inline.
@usableFromInline struct SpanList: Sendable {
    static let capacity = 16
    var first: Int32 = -1
    var last: Int32 = -1
    /// Spans held while fewer than `capacity`; once full, `capacity` + the ring position to overwrite next.
    var fill: UInt8 = 0

    var isEmpty: Bool { fill == 0 }
    var count: Int { min(Int(fill), Self.capacity) }

    mutating func add(_ s: DeliveredSpan, store: inout SpanStore) {
        let n = Int(fill)
        if n < Self.capacity {
            let i = n % SpanStore.chunkSize
            if i == 0 {
                let c = store.allocate()
                if last >= 0 { store.link(last, to: c) } else { first = c }
                last = c
            }
            store[last, i] = s
            fill &+= 1
        } else {
            let pos = n - Self.capacity
            var c = first
            for _ in 0..<(pos / SpanStore.chunkSize) { c = store.next(after: c) }
            store[c, pos % SpanStore.chunkSize] = s
            fill = UInt8(Self.capacity + (pos + 1) % Self.capacity)
        }
    }

    /// The span holding `offset` (spans never overlap: each starts where the stream stood when it was delivered).
    func find(_ offset: UInt64, _ store: SpanStore) -> DeliveredSpan? {
        var c = first
        var left = count
        while c >= 0 && left > 0 {
            for k in 0..<min(left, SpanStore.chunkSize) {
                let s = store[c, k]
                if s.offset <= offset && offset < s.end { return s }
            }
            left -= SpanStore.chunkSize
            c = store.next(after: c)
        }
        return nil
    }

    /// All spans held, in storage order.
    func all(_ store: SpanStore) -> [DeliveredSpan] {
        var out: [DeliveredSpan] = []
        var c = first
        var left = count
        while c >= 0 && left > 0 {
            for k in 0..<min(left, SpanStore.chunkSize) { out.append(store[c, k]) }
            left -= SpanStore.chunkSize
            c = store.next(after: c)
        }
        return out
    }

    mutating func release(_ store: inout SpanStore) {
        if first >= 0 { store.release(list: first) }
        self = SpanList()
    }
}
