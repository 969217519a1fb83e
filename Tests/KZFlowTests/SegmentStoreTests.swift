import KZWire
import Testing
@testable import KZFlow
import KZTestSupport

/// The packed segment store behind `SegmentLog`: records come back exactly as appended, chunks are reused, and a log
/// keeps the same records (head, control, tail ring) as the array-based rule it replaced.
@Suite struct SegmentStoreTests {
    /// A record whose every field depends on `n`, with the flags given.
    static func record(_ n: Int, flags: UInt16 = 0x10, frame: Int? = nil) -> SegmentRecord {
        var r = SegmentRecord()
        r.frame = frame ?? (1000 + n)
        r.timestamp = 1_700_000_000_000_000_000 + Int64(n) * 1_234_567
        r.seq = UInt32(truncatingIfNeeded: n &* 2_654_435_761)
        r.ack = UInt32(n) &+ 7
        r.ipID = UInt32(n % 65536) | 0x10_0000
        r.tsVal = UInt32(n) * 3
        r.optionKinds = n % 2 == 0 ? 0x8000_0000_0000_0016 : 0
        r.payloadLength = UInt16(n % 1500)
        r.window = UInt16(truncatingIfNeeded: n * 11)
        r.mss = n % 3 == 0 ? 1460 : 0
        r.flags = flags
        r.direction = n % 2 == 0 ? .forward : .reverse
        r.ttl = UInt8(truncatingIfNeeded: 40 + n)
        r.tos = UInt8(truncatingIfNeeded: n)
        r.windowScale = n % 4 == 0 ? 0xff : 7
        r.df = n % 3 != 0
        r.hasTimestamps = n % 5 != 0
        r.badChecksum = n % 7 == 0
        return r
    }

    static let t0 = record(0).timestamp

    @Test func packingKeepsEveryFieldAndRefusesFramesTooFarAway() {
        var store = SegmentStore()
        for n in 0..<40 {
            let r = Self.record(n)
            for base in [r.frame, r.frame - 5, r.frame + 9, r.frame - Int(Int32.max)] {
                for baseTime in [Self.t0, r.timestamp, r.timestamp - 7_000, r.timestamp + 1, 0, Int64.min] {
                    let p = store.pack(r, base: base, baseTime: baseTime)
                    #expect(p.map { store.unpack($0, base: base, baseTime: baseTime) } == r)
                    if let p { store.discard(p) }
                }
            }
        }
        #expect(store.wideInUse == 0)
        #expect(MemoryLayout<PackedSegment>.stride == 32)
        let r = Self.record(1, frame: 10)
        #expect(store.pack(r, base: 10 - (1 << 31) - 1, baseTime: r.timestamp) == nil)
        #expect(store.pack(r, base: 10 + (1 << 31) + 1, baseTime: r.timestamp) == nil)
    }

    /// Times in microseconds (pcap) and nanoseconds close to the log's first pack compactly; times before it, far
    /// after it, or flags beyond the TCP header's 9 bits are kept whole (wide), and come back the same.
    @Test func recordsThatDoNotFitAreKeptWholeAndFreedWhenDiscarded() {
        var store = SegmentStore()
        var r = Self.record(3)
        let base = r.frame
        let t = r.timestamp
        r.timestamp = t + 5_000_000   // 5 ms, whole microseconds
        #expect(store.pack(r, base: base, baseTime: t)?.isWide == false)
        r.timestamp = t + 4_000_000_001   // 4 s and 1 ns: nanoseconds still fit 32 bits
        #expect(store.pack(r, base: base, baseTime: t)?.isWide == false)
        var wide: [(PackedSegment, SegmentRecord)] = []
        for (dt, flags) in [(Int64(-1_000), UInt16(0x10)), (5_000_000_001, 0x10), (Int64(UInt32.max) * 1000 + 1000, 0x12),
                            (1_000, 0x1010)] {
            var w = Self.record(4, flags: flags)
            w.timestamp = t + dt
            let p = store.pack(w, base: base, baseTime: t)
            #expect(p?.isWide == true)
            #expect(p?.isControl == w.isControl)
            if let p { wide.append((p, w)) }
        }
        #expect(store.wideInUse == 4)
        for (p, w) in wide { #expect(store.unpack(p, base: base, baseTime: t) == w) }
        store.discard(wide[1].0)
        #expect(store.wideInUse == 3)
        // A freed entry is reused; the others keep their records.
        var again = Self.record(9)
        again.timestamp = t - 5
        let p = store.pack(again, base: base, baseTime: t)
        #expect(p?.isWide == true && store.wideInUse == 4)
        #expect(p.map { store.unpack($0, base: base, baseTime: t) } == again)
        #expect(store.unpack(wide[0].0, base: base, baseTime: t) == wide[0].1)
        #expect(store.unpack(wide[2].0, base: base, baseTime: t) == wide[2].1)
    }

    /// Shapes are numbered once and looked up through a 256-entry cache: thousands of distinct shapes in random order
    /// (so cache entries collide and are replaced) all come back exactly, and a repeated shape keeps its number.
    @Test func manyShapesInRandomOrderComeBackExactly() {
        var store = SegmentStore()
        var rng = TestRandom(seed: 0x59e06ab601)
        var shapes: [SegmentRecord] = []
        for n in 0..<3_000 {
            var r = Self.record(n)
            r.optionKinds = UInt64(n % 5) << 60          // shared by many shapes that differ in the other fields
            r.mss = UInt16(truncatingIfNeeded: n * 13)
            r.ttl = UInt8(truncatingIfNeeded: n)
            shapes.append(r)
        }
        var numbers: [Int: UInt16] = [:]
        for _ in 0..<30_000 {
            let k = Int.random(in: 0..<shapes.count, using: &rng)
            let r = shapes[k]
            guard let p = store.pack(r, base: r.frame, baseTime: r.timestamp) else {
                Issue.record("record \(k) did not pack")
                continue
            }
            #expect(!p.isWide)
            #expect(store.unpack(p, base: r.frame, baseTime: r.timestamp) == r, "shape \(k)")
            if let known = numbers[k] { #expect(p.shape == known, "shape \(k) renumbered") } else { numbers[k] = p.shape }
        }
        #expect(Set(numbers.values).count == numbers.count)
    }

    @Test func chunkListsSpanChunksAndGiveThemBackForReuse() {
        var store = SegmentStore()
        var a = ChunkList(), b = ChunkList()
        let t0 = Self.t0
        for n in 0..<11 {
            a.append(store.pack(Self.record(n), base: 0, baseTime: t0)!, store: &store)
            b.append(store.pack(Self.record(100 + n), base: 0, baseTime: t0)!, store: &store)
        }
        let perList = (11 + SegmentStore.chunkSize - 1) / SegmentStore.chunkSize
        #expect(store.chunksInUse == 2 * perList)
        b.set(9, store.pack(Self.record(500), base: 0, baseTime: t0)!, store: &store)
        var out: [SegmentRecord] = []
        a.copy(into: &out, base: 0, baseTime: t0, store)
        #expect(out == (0..<11).map { Self.record($0) })
        #expect(store.unpack(b.get(9, store), base: 0, baseTime: t0) == Self.record(500))
        #expect(store.unpack(b.get(10, store), base: 0, baseTime: t0) == Self.record(110))
        a.release(&store)
        #expect(a.count == 0 && a.first == -1)
        #expect(store.chunksInUse == perList)
        // Released chunks are handed out again before new ones: a list as long as `a` needs no new block space.
        var c = ChunkList()
        for n in 0..<11 { c.append(store.pack(Self.record(200 + n), base: 0, baseTime: t0)!, store: &store) }
        #expect(store.chunksInUse == 2 * perList)
        out = []
        c.copy(into: &out, base: 0, baseTime: t0, store)
        #expect(out == (0..<11).map { Self.record(200 + $0) })
        out = []
        b.copy(into: &out, base: 0, baseTime: t0, store)
        #expect(out.count == 11 && out[0] == Self.record(100) && out[9] == Self.record(500))
    }

    /// The earlier array-based log, as the reference for which records are kept.
    struct ArrayLog {
        var head: [SegmentRecord] = [], tail: [SegmentRecord] = [], control: [SegmentRecord] = []
        var tailNext = 0, dropped = 0
        mutating func append(_ r: SegmentRecord, _ l: FlowLimits, allowGrowth: Bool) {
            if head.count < l.segmentHead {
                if allowGrowth { head.append(r) } else { dropped += 1 }
                return
            }
            if r.isControl && control.count < l.controlSegments && allowGrowth { control.append(r); return }
            guard l.segmentTail > 0 else { dropped += 1; return }
            if tail.count < l.segmentTail {
                if allowGrowth { tail.append(r) } else { dropped += 1 }
            } else {
                let old = tail[tailNext]
                if old.isControl && control.count < l.controlSegments && allowGrowth { control.append(old) } else { dropped += 1 }
                tail[tailNext] = r
                tailNext = (tailNext + 1) % l.segmentTail
            }
        }
        var records: [SegmentRecord] { (head + control + tail).sorted { $0.frame < $1.frame } }
    }

    @Test(arguments: [false, true])
    func aLogKeepsWhatTheArrayRuleKept(timeGoesBack: Bool) {
        var limits = FlowLimits()
        limits.segmentHead = 5
        limits.segmentTail = 6
        limits.controlSegments = 3
        var store = SegmentStore()
        var log = SegmentLog()
        var ref = ArrayLog()
        var held = 0
        for n in 0..<200 {
            // Every 9th a FIN or RST, and growth refused for a stretch (the global budget).
            var r = Self.record(n, flags: n % 9 == 4 ? 0x04 : (n % 9 == 7 ? 0x11 : 0x10))
            // Some records before the log's first time: kept wide, freed when they leave the tail ring.
            if timeGoesBack && n > 0 && n % 4 == 1 { r.timestamp = Self.t0 - Int64(n) }
            let allow = !(60..<70).contains(n)
            held += log.append(r, limits: limits, allowGrowth: allow, store: &store)
            ref.append(r, limits, allowGrowth: allow)
            #expect(log.held == held)
            if n % 37 == 0 { #expect(log.records(store) == ref.records) }
        }
        #expect(log.records(store) == ref.records)
        #expect(log.dropped == ref.dropped)
        #expect(log.held == ref.head.count + ref.tail.count + ref.control.count)
        log.release(&store)
        #expect(store.chunksInUse == 0)
        #expect(store.wideInUse == 0)
        #expect(log.held == 0)
    }
}
