import KZWire
import Testing
@testable import KZFlow

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

    @Test func packingKeepsEveryFieldAndRefusesFramesTooFarAway() {
        for n in 0..<40 {
            let r = Self.record(n)
            for base in [r.frame, r.frame - 5, r.frame + 9, r.frame - Int(Int32.max)] {
                let p = PackedSegment(r, base: base)
                #expect(p?.unpacked(base: base) == r)
            }
        }
        #expect(MemoryLayout<PackedSegment>.stride == 48)
        let r = Self.record(1, frame: 10)
        #expect(PackedSegment(r, base: 10 - (1 << 31) - 1) == nil)
        #expect(PackedSegment(r, base: 10 + (1 << 31) + 1) == nil)
    }

    @Test func chunkListsSpanChunksAndGiveThemBackForReuse() {
        var store = SegmentStore()
        var a = ChunkList(), b = ChunkList()
        for n in 0..<11 {
            a.append(PackedSegment(Self.record(n), base: 0)!, store: &store)
            b.append(PackedSegment(Self.record(100 + n), base: 0)!, store: &store)
        }
        let perList = (11 + SegmentStore.chunkSize - 1) / SegmentStore.chunkSize
        #expect(store.chunksInUse == 2 * perList)
        b.set(9, PackedSegment(Self.record(500), base: 0)!, store: &store)
        var out: [SegmentRecord] = []
        a.copy(into: &out, base: 0, store)
        #expect(out == (0..<11).map { Self.record($0) })
        #expect(b.get(9, store).unpacked(base: 0) == Self.record(500))
        #expect(b.get(10, store).unpacked(base: 0) == Self.record(110))
        a.release(&store)
        #expect(a.count == 0 && a.first == -1)
        #expect(store.chunksInUse == perList)
        // Released chunks are handed out again before new ones: a list as long as `a` needs no new block space.
        var c = ChunkList()
        for n in 0..<11 { c.append(PackedSegment(Self.record(200 + n), base: 0)!, store: &store) }
        #expect(store.chunksInUse == 2 * perList)
        out = []
        c.copy(into: &out, base: 0, store)
        #expect(out == (0..<11).map { Self.record(200 + $0) })
        out = []
        b.copy(into: &out, base: 0, store)
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

    @Test func aLogKeepsWhatTheArrayRuleKept() {
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
            let r = Self.record(n, flags: n % 9 == 4 ? 0x04 : (n % 9 == 7 ? 0x11 : 0x10))
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
        #expect(log.held == 0)
    }
}
