import Testing
import KZWire
@testable import KZFlow
import KZTestSupport

@Suite struct ReassemblyTests {
    /// Handshake with client ISN `isn` and server ISN 500.
    func open(_ w: inout Wire, isn: UInt32 = 100, wscale: UInt8? = nil) -> [TestPacket] {
        [w.tcp(fromClient: true, [.syn], seq: isn, wscale: wscale),
         w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: isn &+ 1, wscale: wscale),
         w.tcp(fromClient: true, [.ack], seq: isn &+ 1, ack: 501)]
    }

    func data(_ w: inout Wire, _ seq: UInt32, _ s: String) -> TestPacket {
        w.tcp(fromClient: true, [.ack, .psh], seq: seq, ack: 501, payload: bytes(s))
    }

    @Test func inOrderDataIsStreamedWithoutBuffering() throws {
        var w = Wire()
        var table = FlowTable()
        var sink = RecordingSink()
        table.feed(open(&w) + [data(&w, 101, "HELLO"), data(&w, 106, "WORLD")], &sink)
        #expect(sink.text(.forward) == "HELLOWORLD")
        #expect(table.stats.bufferedBytes == 0)
        #expect(sink.chunks.map(\.offset) == [0, 5])
        #expect(sink.chunks.map(\.frame) == [4, 5])
        table.finish(into: &sink)
        #expect(sink.ends.contains { $0.0 == .forward && $0.1 == .closed })
    }

    @Test func outOfOrderIsBufferedThenDelivered() throws {
        var w = Wire()
        var table = FlowTable()
        var sink = RecordingSink()
        table.feed(open(&w) + [data(&w, 106, "WORLD")], &sink)
        #expect(sink.text(.forward) == "")
        #expect(table.stats.bufferedBytes == 5)
        table.feed(data(&w, 101, "HELLO"), &sink)
        #expect(sink.text(.forward) == "HELLOWORLD")
        #expect(table.stats.bufferedBytes == 0)
        // The buffered chunk names the frame that carried it.
        #expect(sink.chunks.map(\.frame) == [5, 4])
        table.finish(into: &sink)
        #expect(sink.gaps.isEmpty)
        #expect(sink.conflicts.isEmpty)
    }

    @Test func identicalRetransmissionIsNotAConflict() throws {
        var w = Wire()
        let sink = run(open(&w) + [data(&w, 101, "HELLO"), data(&w, 101, "HELLO"), data(&w, 106, "!")])
        #expect(sink.text(.forward) == "HELLO!")
        #expect(sink.conflicts.isEmpty)
        let r = try #require(sink.closed.first)
        #expect(r.forward.retransmittedBytes == 5)
        #expect(r.history.contains("T"))
    }

    @Test func conflictingRetransmissionOfDeliveredBytesIsRecorded() throws {
        var w = Wire()
        // An injected response wins the race; the real one arrives after it with different bytes.
        let sink = run(open(&w) + [data(&w, 101, "HTTP/1.1 403 Forbidden"), data(&w, 101, "HTTP/1.1 200 OK\r\nabcd")])
        let c = try #require(sink.conflicts.first)
        #expect(c.firstFrame == 4)
        #expect(c.secondFrame == 5)
        #expect(c.offset == 0)
        #expect(c.length == 21)
        #expect(c.firstDifference == 9)
        #expect(c.seq == 101)
        #expect(c.firstWasDelivered)
        #expect(c.firstBytes.prefix(3) == [UInt8]("403".utf8)[...])
        #expect(c.secondBytes.prefix(3) == [UInt8]("200".utf8)[...])
        // The first version stays delivered.
        #expect(sink.text(.forward) == "HTTP/1.1 403 Forbidden")
        let r = try #require(sink.closed.first)
        #expect(r.overlapConflictCount == 1)
        #expect(r.overlapConflicts == [c])
        #expect(r.count(of: "stream.overlap_conflict") == 1)
    }

    /// A keep-alive probe (RFC 9293 §3.8.4) carries one filler byte just below the next expected byte: it is neither
    /// compared nor counted as a retransmission. Two bytes there, or one byte elsewhere, are data and are compared.
    @Test func keepAliveByteIsNotComparedButDataIs() throws {
        var w = Wire()
        let probe = run(open(&w) + [data(&w, 101, "HELLO"), data(&w, 105, "x")])
        #expect(probe.conflicts.isEmpty)
        #expect(probe.text(.forward) == "HELLO")
        let r = try #require(probe.closed.first)
        #expect(r.forward.retransmittedBytes == 0)
        #expect(r.forward.uncheckedOverlapBytes == 0)

        var w2 = Wire()
        let two = run(open(&w2) + [data(&w2, 101, "HELLO"), data(&w2, 104, "Lx")])
        let c = try #require(two.conflicts.first)
        #expect(two.conflicts.count == 1)
        #expect(c.offset == 3 && c.length == 2 && c.firstDifference == 4 && c.differingBytes == 1)

        var w3 = Wire()
        let earlier = run(open(&w3) + [data(&w3, 101, "HELLO"), data(&w3, 104, "x")])
        let e = try #require(earlier.conflicts.first)
        #expect(earlier.conflicts.count == 1)
        #expect(e.offset == 3 && e.length == 1 && e.firstDifference == 3)
    }

    @Test func conflictWithBufferedBytes() throws {
        var w = Wire()
        let sink = run(open(&w) + [data(&w, 106, "WORLD"), data(&w, 106, "WORXD"), data(&w, 101, "HELLO")])
        let c = try #require(sink.conflicts.first)
        #expect(!c.firstWasDelivered)
        #expect(c.firstFrame == 4 && c.secondFrame == 5)
        #expect(c.offset == 5 && c.length == 5 && c.differingBytes == 1 && c.firstDifference == 8)
        #expect(sink.text(.forward) == "HELLOWORLD")
    }

    @Test func partialOverlapIdenticalAndConflicting() throws {
        var w = Wire()
        let same = run(open(&w) + [data(&w, 101, "HELLO"), data(&w, 104, "LOABC")])
        #expect(same.text(.forward) == "HELLOABC")
        #expect(same.conflicts.isEmpty)
        #expect(same.closed.first?.forward.retransmittedBytes == 2)

        var w2 = Wire()
        let diff = run(open(&w2) + [data(&w2, 101, "HELLO"), data(&w2, 104, "XXABC")])
        #expect(diff.text(.forward) == "HELLOABC")
        let c = try #require(diff.conflicts.first)
        #expect(c.offset == 3 && c.length == 2 && c.differingBytes == 2)
    }

    @Test func overlapSpanningBufferedAndNewBytes() throws {
        var w = Wire()
        // [5,10) buffered; then [3,12) arrives: [3,5) new, [5,10) compared, [10,12) new; then [0,3).
        let sink = run(open(&w) + [data(&w, 106, "FGHIJ"), data(&w, 104, "DEFGHIJKL"), data(&w, 101, "ABC")])
        #expect(sink.text(.forward) == "ABCDEFGHIJKL")
        #expect(sink.conflicts.isEmpty)
    }

    @Test func sequenceWraparound() throws {
        var w = Wire()
        let isn: UInt32 = 0xFFFF_FFF0
        var packets = open(&w, isn: isn)
        let s0 = isn &+ 1
        packets.append(data(&w, s0, "0123456789"))                  // crosses nothing yet
        packets.append(data(&w, s0 &+ 20, "KLMNOPQRST"))            // after the wrap, out of order
        packets.append(data(&w, s0 &+ 10, "ABCDEFGHIJ"))            // crosses 2^32
        packets.append(data(&w, s0 &+ 12, "CDxFG"))                 // conflicting overlap across the wrap point
        let sink = run(packets)
        #expect(sink.text(.forward) == "0123456789ABCDEFGHIJKLMNOPQRST")
        let c = try #require(sink.conflicts.first)
        #expect(c.offset == 12 && c.firstDifference == 14 && c.differingBytes == 1)
        #expect(c.seq == s0 &+ 12)
        #expect(sink.gaps.isEmpty)
    }

    @Test func ackedButUnseenBytesAreAGap() throws {
        var w = Wire()
        var packets = open(&w)
        packets.append(data(&w, 101, "AAAA"))
        packets.append(data(&w, 109, "CCCC"))
        packets.append(w.tcp(fromClient: false, [.ack], seq: 501, ack: 113))
        let sink = run(packets)
        #expect(sink.text(.forward) == "AAAA????CCCC")
        let g = try #require(sink.gaps.first)
        #expect(g.offset == 4 && g.length == 4 && g.reason == .ackedUnseen && g.seq == 105 && g.frame == 6)
        let r = try #require(sink.closed.first)
        #expect(r.history.contains("G"))
        #expect(r.forward.missedBytes == 4)
        #expect(r.gapCount == 1)
    }

    @Test func holeStillOpenAtCloseIsAGap() throws {
        var w = Wire()
        let sink = run(open(&w) + [data(&w, 101, "AB"), data(&w, 110, "ZZ")])
        #expect(sink.gaps.count == 1)
        #expect(sink.gaps[0].reason == .flowClosed && sink.gaps[0].length == 7)
        #expect(sink.text(.forward) == "AB???????ZZ")
    }

    @Test func finEndsTheStreamWhenAllBytesArrived() throws {
        var w = Wire()
        // FIN arrives before the last data segment: the stream ends once the hole fills.
        let sink = run(open(&w) + [data(&w, 101, "AB"),
                                   w.tcp(fromClient: true, [.fin, .ack], seq: 105, ack: 501),
                                   data(&w, 103, "CD")])
        #expect(sink.text(.forward) == "ABCD")
        #expect(sink.ends.first { $0.0 == .forward }?.1 == .fin)
    }

    @Test func perFlowBufferCapSkipsTheHole() throws {
        var w = Wire()
        var limits = FlowLimits()
        limits.maxBufferedBytesPerFlow = 10
        let sink = run(open(&w) + [data(&w, 201, "0123456789"), data(&w, 301, "abcdefghij")], limits: limits)
        let r = try #require(sink.closed.first)
        #expect(r.count(of: "stream.buffer_cap") == 1)
        #expect(sink.gaps.map(\.reason) == [.bufferCap, .flowClosed])
        #expect(sink.gaps.map(\.length) == [100, 90])
        #expect(r.history.contains("X"))
        #expect((sink.stream[.forward] ?? []).count == 210)
        #expect(sink.text(.forward).hasSuffix("0123456789" + String(repeating: "?", count: 90) + "abcdefghij"))
    }

    @Test func globalBufferCapAcrossFlows() throws {
        var limits = FlowLimits()
        limits.maxBufferedBytesTotal = 15
        var table = FlowTable(limits: limits)
        var sink = RecordingSink()
        var a = Wire(), b = Wire()
        b.cport = 40001
        table.feed(open(&a) + [data(&a, 201, "0123456789")], &sink)
        #expect(table.stats.bufferedBytes == 10)
        table.feed(open(&b) + [data(&b, 201, "abcdefghij")], &sink)
        // The second flow could not buffer: it skipped its hole and streamed instead.
        #expect(table.stats.bufferedBytes == 10)
        #expect(table.stats.bufferCapHits == 1)
        #expect(sink.gaps.count == 1 && sink.gaps[0].length == 100)
        table.finish(into: &sink)
        #expect(table.stats.bufferedBytes == 0)
    }

    @Test func snapTruncatedPayloadBecomesAGap() throws {
        var w = Wire()
        let short = w.tcp(fromClient: true, [.ack], seq: 101, ack: 501, payload: bytes("0123456789"), declared: 100)
        let sink = run(open(&w) + [short, data(&w, 201, "next")])
        #expect(sink.gaps.count == 1)
        #expect(sink.gaps[0].reason == .snapTruncated && sink.gaps[0].length == 90)
        #expect(sink.text(.forward).hasSuffix("next"))
        #expect((sink.stream[.forward] ?? []).count == 104)
        #expect(sink.closed.first?.count(of: "stream.snap_truncated") == 1)
    }

    @Test func dataBeforeStreamStartInMidstreamCapture() throws {
        var w = Wire()
        let sink = run([data(&w, 1000, "later"), data(&w, 990, "0123456789")])
        #expect(sink.text(.forward) == "later")
        #expect(sink.closed.first?.count(of: "stream.data_before_start") == 1)
    }

    @Test func segmentLogKeepsHeadTailAndControl() throws {
        var limits = FlowLimits()
        limits.segmentHead = 4
        limits.segmentTail = 2
        limits.controlSegments = 2
        var w = Wire()
        var packets = open(&w)
        var seq: UInt32 = 101
        for _ in 0..<20 {
            packets.append(data(&w, seq, "x"))
            seq += 1
        }
        packets.append(w.tcp(fromClient: true, [.fin, .ack], seq: seq, ack: 501))
        packets.append(w.tcp(fromClient: true, [.ack], seq: seq + 1, ack: 501))
        let r = try #require(run(packets, limits: limits).closed.first)
        let frames = r.forward.segments.map(\.frame)
        // Head: SYN, ACK, two data; control: the FIN (it left the tail ring); tail: last data + last ACK.
        #expect(frames == frames.sorted())
        #expect(frames.prefix(3) == [1, 3, 4])
        #expect(frames.contains(24))
        #expect(r.forward.segments.count == 7)
        #expect(r.forward.segmentsDropped == 24 - 7)
    }
}

@Suite struct ReassemblyShuffleTests {
    /// A message cut into segments of 1–7 bytes, delivered in every kind of disorder with duplicates, always yields
    /// the message, with no gap and no conflict.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func shuffledSegmentsReassemble(seed: Int) {
        let message = Array("The quick brown fox jumps over the lazy dog; 0123456789 and more text.".utf8)
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        func rnd(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
        var pieces: [(Int, Int)] = []
        var at = 0
        while at < message.count {
            let n = min(1 + rnd(7), message.count - at)
            pieces.append((at, n))
            at += n
        }
        // Duplicate a few, then shuffle.
        for _ in 0..<5 { pieces.append(pieces[rnd(pieces.count)]) }
        for i in stride(from: pieces.count - 1, to: 0, by: -1) { pieces.swapAt(i, rnd(i + 1)) }
        var w = Wire()
        let isn: UInt32 = seed % 2 == 0 ? 0xFFFF_FFE0 : 1000     // half the runs cross the 2^32 wrap
        var packets = [w.tcp(fromClient: true, [.syn], seq: isn),
                       w.tcp(fromClient: false, [.syn, .ack], seq: 5, ack: isn &+ 1)]
        for (o, n) in pieces {
            packets.append(w.tcp(fromClient: true, [.ack], seq: isn &+ 1 &+ UInt32(o), ack: 6,
                                 payload: Array(message[o..<(o + n)])))
        }
        let sink = run(packets)
        #expect(sink.stream[.forward] ?? [] == message)
        #expect(sink.gaps.isEmpty)
        #expect(sink.conflicts.isEmpty)
    }
}

@Suite struct RetentionPrefixTests {
    @Test func overlapsBeyondTheRetainedPrefixAreUnchecked() throws {
        var limits = FlowLimits()
        limits.retainStreamPrefix = 8
        var w = Wire()
        let sink = run([w.tcp(fromClient: true, [.syn], seq: 100), w.tcp(fromClient: false, [.syn, .ack], seq: 9, ack: 101),
                        w.tcp(fromClient: true, [.ack], seq: 101, ack: 10, payload: bytes("AAAA")),
                        w.tcp(fromClient: true, [.ack], seq: 101, ack: 10, payload: bytes("AXAA")),
                        w.tcp(fromClient: true, [.ack], seq: 105, ack: 10, payload: bytes(String(repeating: "B", count: 72))),
                        w.tcp(fromClient: true, [.ack], seq: 177, ack: 10, payload: bytes("CCCC")),
                        w.tcp(fromClient: true, [.ack], seq: 177, ack: 10, payload: bytes("CXCC"))], limits: limits)
        // Inside the prefix the conflict is found; past it the ring was released (and offset 76 is past the 64-byte
        // head every stream keeps).
        #expect(sink.conflicts.count == 1)
        #expect(sink.conflicts.first?.offset == 0)
        let r = try #require(sink.closed.first)
        #expect(r.forward.uncheckedOverlapBytes == 4)
        #expect(sink.text(.forward) == "AAAA" + String(repeating: "B", count: 72) + "CCCC")
    }
}

/// The first 64 delivered bytes of each direction are kept whatever the retained-byte budget, so the injection race
/// at the start of a stream is found on a capture whose budget is spent.
@Suite struct StreamHeadTests {
    static func noBudget() -> FlowLimits {
        var l = FlowLimits()
        l.maxRetainedBytesTotal = 0
        return l
    }

    func handshake(_ w: inout Wire) -> [TestPacket] {
        [w.tcp(fromClient: true, [.syn], seq: 100), w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101),
         w.tcp(fromClient: true, [.ack], seq: 101, ack: 501)]
    }

    @Test func forgedResponseAheadOfTheRealOneIsFoundWithoutARing() throws {
        var w = Wire()
        let forged = "HTTP/1.1 302 Found\r\nLocation: http://warning.example/\r\n\r\n"
        let real = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "x", count: 200)
        let sink = run(handshake(&w) + [
            w.tcp(fromClient: false, [.ack, .psh, .fin], seq: 501, ack: 101, payload: bytes(forged), ttl: 118),
            w.tcp(fromClient: false, [.ack, .psh], seq: 501, ack: 101, payload: bytes(real)),
        ], limits: Self.noBudget())
        let c = try #require(sink.conflicts.first)
        #expect(sink.conflicts.count == 1)
        #expect(c.firstFrame == 4 && c.secondFrame == 5)
        #expect(c.offset == 0)
        // Compared: the forged bytes, all inside the 64-byte head (the rest of the real segment is new data past FIN).
        #expect(c.length == forged.utf8.count)
        #expect(c.firstDifference == 9)
        #expect(c.firstBytes.prefix(3) == [UInt8]("302".utf8)[...])
        #expect(c.secondBytes.prefix(3) == [UInt8]("200".utf8)[...])
        let r = try #require(sink.closed.first)
        #expect(r.reverse.uncheckedOverlapBytes == 0)
    }

    @Test func overlapPastTheHeadStaysUncheckedWithoutARing() throws {
        var w = Wire()
        let first = String(repeating: "a", count: 100)
        var second = Array(first.utf8)
        second[10] = UInt8(ascii: "B")   // inside the head: found
        second[80] = UInt8(ascii: "C")   // past it: not comparable
        let sink = run(handshake(&w) + [
            w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501, payload: bytes(first)),
            w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501, payload: second),
            w.tcp(fromClient: true, [.ack, .psh], seq: 171, ack: 501, payload: Array(second[70...])),
        ], limits: Self.noBudget())
        #expect(sink.conflicts.count == 1)
        let c = try #require(sink.conflicts.first)
        #expect(c.offset == 0 && c.length == 64 && c.firstDifference == 10 && c.differingBytes == 1)
        let r = try #require(sink.closed.first)
        // 36 bytes of the second copy and all 30 of the third lie past the head.
        #expect(r.forward.uncheckedOverlapBytes == 36 + 30)
    }

    @Test func headAndRingTogetherCheckBothEnds() throws {
        // A ring of 256 bytes (the smallest) keeps the last 256 delivered bytes; the head keeps the first 64. A copy of
        // the whole 400-byte stream is checked at both ends and unchecked in between.
        var limits = FlowLimits()
        limits.retainedBytesPerDirection = 256
        var w = Wire()
        let original = (0..<400).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var copy = original
        copy[5] ^= 0xff      // in the head
        copy[100] ^= 0xff    // between head and ring: unchecked
        copy[390] ^= 0xff    // in the ring
        let sink = run(handshake(&w) + [
            w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501, payload: Array(original[..<200])),
            w.tcp(fromClient: true, [.ack, .psh], seq: 301, ack: 501, payload: Array(original[200...])),
            w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501, payload: copy),
        ], limits: limits)
        let c = try #require(sink.conflicts.first)
        #expect(sink.conflicts.count == 1)
        #expect(c.differingBytes == 2)
        #expect(c.firstDifference == 5)
        #expect(c.offset == 0 && c.length == 400)
        let r = try #require(sink.closed.first)
        #expect(r.forward.uncheckedOverlapBytes == 400 - 64 - 256)
    }

    /// The retained ring grows (256 bytes doubling up to the per-direction limit) while bytes arrive in random pieces,
    /// so its window is copied across wrap points of the old and the new ring; a later copy of a random range of the
    /// last bytes with one byte changed is then found as one conflict at exactly that byte, with both versions' bytes.
    @Test func growingRingKeepsTheWindowAcrossWrapPoints() throws {
        var rng = TestRandom(seed: 0x55d910fb01)
        for round in 0..<40 {
            var limits = FlowLimits()
            limits.retainedBytesPerDirection = [1024, 4096][round % 2]
            let total = Int.random(in: 300...9_000, using: &rng)
            let stream = (0..<total).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var w = Wire()
            var packets = handshake(&w)
            var at = 0
            while at < total {
                let n = min(total - at, Int.random(in: 1...700, using: &rng))
                packets.append(w.tcp(fromClient: true, [.ack, .psh], seq: 101 &+ UInt32(at), ack: 501,
                                     payload: Array(stream[at..<(at + n)])))
                at += n
            }
            // A range inside the last bytes the ring holds, one byte of it changed.
            let window = min(total, limits.retainedBytesPerDirection)
            let a = Int.random(in: (total - window)..<total, using: &rng)
            let b = Int.random(in: (a + 1)...total, using: &rng)
            let x = Int.random(in: a..<b, using: &rng)
            var copy = Array(stream[a..<b])
            copy[x - a] ^= 0x5a
            packets.append(w.tcp(fromClient: true, [.ack, .psh], seq: 101 &+ UInt32(a), ack: 501, payload: copy))
            let sink = run(packets, limits: limits)
            let r = try #require(sink.closed.first)
            #expect(r.forward.uncheckedOverlapBytes == 0)
            let what = "round \(round): total \(total), copy \(a)..<\(b), changed \(x)\(TestRandom.seedNote)"
            if b - a == 1 && b == total {
                // One byte just below the next expected byte is a keep-alive probe (RFC 9293 §3.8.4), whose byte is
                // filler: it is not compared, so no conflict.
                #expect(sink.conflicts.isEmpty, "\(what)")
                continue
            }
            #expect(sink.conflicts.count == 1, "\(what)")
            let c = try #require(sink.conflicts.first)
            #expect(c.differingBytes == 1)
            #expect(c.firstDifference == UInt64(x))
            #expect(c.firstBytes.first == stream[x])
            #expect(c.secondBytes.first == stream[x] ^ 0x5a)
        }
    }

    /// A ring that could not grow while the retained-byte budget was spent has wrapped; when the budget frees, it grows
    /// and its window (the last `retained` bytes, at their stream offsets) must land where the bigger ring reads them.
    @Test func ringGrownAfterWrappingKeepsItsWindow() {
        var rng = TestRandom(seed: 0x55d910fb02)
        for round in 0..<60 {
            var limits = FlowLimits()
            limits.retainedBytesPerDirection = 4096
            limits.maxRetainedBytesTotal = 1 << 20
            var budget = ReassemblyBudget()
            var half = StreamHalf()
            var stream: [UInt8] = []
            let freeAt = Int.random(in: 300...3_000, using: &rng)     // bytes delivered while the budget is spent
            var freed = false
            while stream.count < 9_000 {
                if !freed && stream.count >= 256 {
                    budget.retained = limits.maxRetainedBytesTotal     // other flows spent it: no growth
                }
                if !freed && stream.count >= freeAt {
                    budget.retained = half.ring.count                   // they closed: growth allowed again
                    freed = true
                }
                let piece = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                piece.withUnsafeBytes { half.retain($0, limits: limits, budget: &budget) }
                half.nextOffset &+= UInt64(piece.count)
                stream += piece
                let mask = half.ring.count - 1
                for o in (stream.count - half.retained)..<stream.count where half.ring[o & mask] != stream[o] {
                    Issue.record("round \(round): ring of \(half.ring.count) lost offset \(o) of \(stream.count)")
                    return
                }
            }
            #expect(half.ring.count == 4096)
            #expect(half.retained == 4096)
        }
    }
}
