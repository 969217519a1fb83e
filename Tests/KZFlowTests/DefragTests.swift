import Testing
import KZWire
@testable import KZFlow

/// Builds IPv4 / IPv6 fragments as real header bytes plus the summary the decoder would produce.
struct Fragmenter {
    var frame = 0
    var clock: Double = 1_700_000_000
    var src = "192.0.2.1", dst = "198.51.100.7"

    /// A UDP datagram of 8 + 40 bytes (header + payload) to cut into pieces.
    static let datagram: [UInt8] = [0x30, 0x39, 0x00, 0x35, 0x00, 0x30, 0x00, 0x00] + (0..<40).map { UInt8($0 + 65) }

    mutating func v4(id: UInt16, offset: Int, more: Bool, data: [UInt8], dt: Double = 0.001,
                     truncateBy: Int = 0) -> TestPacket {
        frame += 1
        clock += dt
        let total = 20 + data.count
        var h: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff)]
        let fo = UInt16(offset / 8) | (more ? 0x2000 : 0)
        h += [UInt8(fo >> 8), UInt8(fo & 0xff), 64, 17, 0, 0]
        let s = addr(src).v4Value, d = addr(dst).v4Value
        for v in [s, d] { h += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        var bytes = h + data
        bytes.removeLast(truncateBy)
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(clock * 1e9)),
                              capturedLength: bytes.count, wireLength: total, linkType: .ipv4)
        var ip = ipSummary(src: src, dst: dst, proto: .udp, ttl: 64, ipID: UInt32(id), payload: 0)
        ip.totalLength = UInt16(total)
        ip.isFragment = true
        ip.moreFragments = more
        ip.fragmentOffset = UInt16(offset)
        ip.df = false
        ip.headerOffset = 0
        p.ip = ip
        p.flags = [.fragment]
        p.payloadOffset = 20
        p.payloadLength = data.count
        return TestPacket(packet: p, bytes: bytes)
    }

    mutating func v6(id: UInt32, offset: Int, more: Bool, data: [UInt8], dt: Double = 0.001) -> TestPacket {
        frame += 1
        clock += dt
        let s6 = "2001:db8::1", d6 = "2001:db8::2"
        let plen = 8 + data.count
        var h: [UInt8] = [0x60, 0, 0, 0, UInt8(plen >> 8), UInt8(plen & 0xff), 44, 64]
        for a in [addr(s6), addr(d6)] {
            for w in [a.high, a.low] { for k in (0..<8).reversed() { h.append(UInt8(w >> (UInt64(k) * 8) & 0xff)) } }
        }
        let fo = UInt16(offset) | (more ? 1 : 0)
        h += [17, 0, UInt8(fo >> 8), UInt8(fo & 0xff), UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff),
              UInt8(id & 0xff)]
        let bytes = h + data
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(clock * 1e9)),
                              capturedLength: bytes.count, wireLength: bytes.count, linkType: .ipv6)
        var ip = ipSummary(src: s6, dst: d6, proto: .udp, ttl: 64, ipID: id, payload: 0)
        ip.totalLength = UInt16(40 + plen)
        ip.isFragment = true
        ip.hasFragmentHeader = true
        ip.moreFragments = more
        ip.fragmentOffset = UInt16(offset)
        ip.headerOffset = 0
        p.ip = ip
        p.flags = [.fragment]
        p.payloadOffset = 48
        p.payloadLength = data.count
        return TestPacket(packet: p, bytes: bytes)
    }
}

extension IPDefragmenter {
    mutating func feed(_ t: TestPacket) -> DefragOutcome {
        t.bytes.withUnsafeBytes { process(t.packet, frame: $0) }
    }
}

func reassembled(_ o: DefragOutcome) -> ReassembledDatagram? {
    if case .reassembled(let d) = o { return d }
    return nil
}

func droppedReason(_ o: DefragOutcome) -> String? {
    if case .dropped(let r) = o { return r }
    return nil
}

@Suite struct DefragTests {
    let dg = Fragmenter.datagram
    func piece(_ r: Range<Int>) -> [UInt8] { Array(dg[r]) }

    func checkV4(_ d: ReassembledDatagram) {
        #expect(d.bytes.count == 20 + 48)
        #expect(Array(d.bytes[20...]) == dg)
        #expect(Int(d.bytes[2]) << 8 | Int(d.bytes[3]) == 68)
        #expect(d.bytes[6] & 0x3f == 0 && d.bytes[7] == 0)
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(d.bytes[i]) << 8 | UInt32(d.bytes[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        #expect(sum == 0xffff)
    }

    @Test func notAFragment() {
        var d = IPDefragmenter()
        var w = Wire()
        guard case .notFragment = d.feed(w.udp(fromClient: true, payload: [1])) else {
            Issue.record("expected notFragment"); return
        }
    }

    @Test func ipv4InOrder() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        guard case .buffered = d.feed(f.v4(id: 9, offset: 0, more: true, data: piece(0..<16))) else {
            Issue.record("first fragment should be buffered"); return
        }
        _ = d.feed(f.v4(id: 9, offset: 16, more: true, data: piece(16..<32)))
        let r = try #require(reassembled(d.feed(f.v4(id: 9, offset: 32, more: false, data: piece(32..<48)))))
        checkV4(r)
        #expect(r.fragmentFrames == [1, 2, 3])
        #expect(r.lastFrame == 3)
        #expect(r.key.id == 9 && r.key.proto == 17)
        #expect(d.inFlight == 0 && d.buffered == 0)
        #expect(d.anomalies.isEmpty)
    }

    @Test func ipv4ReverseOrder() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v4(id: 9, offset: 32, more: false, data: piece(32..<48)))
        _ = d.feed(f.v4(id: 9, offset: 16, more: true, data: piece(16..<32)))
        let r = try #require(reassembled(d.feed(f.v4(id: 9, offset: 0, more: true, data: piece(0..<16)))))
        checkV4(r)
        #expect(r.fragmentFrames == [1, 2, 3])
    }

    @Test func ipv4IdenticalOverlap() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v4(id: 9, offset: 0, more: true, data: piece(0..<16)))
        _ = d.feed(f.v4(id: 9, offset: 16, more: true, data: piece(16..<32)))
        _ = d.feed(f.v4(id: 9, offset: 8, more: true, data: piece(8..<24)))
        let r = try #require(reassembled(d.feed(f.v4(id: 9, offset: 32, more: false, data: piece(32..<48)))))
        checkV4(r)
        #expect(r.identicalOverlaps == 2)
        #expect(r.conflicts.isEmpty)
        #expect(d.anomalies.map(\.name) == ["ip.fragment_overlap"])
    }

    @Test func ipv4ConflictingOverlapKeepsTheFirstCopy() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v4(id: 9, offset: 0, more: true, data: piece(0..<16)))
        _ = d.feed(f.v4(id: 9, offset: 16, more: true, data: piece(16..<32)))
        var forged = piece(24..<40)
        for i in 0..<8 { forged[i] = 0 }
        _ = d.feed(f.v4(id: 9, offset: 24, more: true, data: forged))
        let r = try #require(reassembled(d.feed(f.v4(id: 9, offset: 32, more: false, data: piece(32..<48)))))
        checkV4(r)
        #expect(r.conflicts == [FragmentConflict(offset: 24, length: 8, differingBytes: 8, firstFrame: 2,
                                                 secondFrame: 3)])
        #expect(d.anomalies.first { $0.name == "ip.fragment_overlap_conflict" }?.firstFrame == 3)
    }

    @Test func ipv6InOrder() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v6(id: 0xdead_beef, offset: 0, more: true, data: piece(0..<24)))
        let r = try #require(reassembled(d.feed(f.v6(id: 0xdead_beef, offset: 24, more: false, data: piece(24..<48)))))
        #expect(r.bytes.count == 40 + 48)
        #expect(r.bytes[6] == 17)
        #expect(Int(r.bytes[4]) << 8 | Int(r.bytes[5]) == 48)
        #expect(Array(r.bytes[40...]) == dg)
        #expect(r.key.version == 6 && r.key.id == 0xdead_beef)
    }

    @Test func ipv6OverlapDiscardsTheDatagram() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v6(id: 5, offset: 0, more: true, data: piece(0..<24)))
        #expect(droppedReason(d.feed(f.v6(id: 5, offset: 16, more: true, data: piece(16..<32))))
                == "ip.fragment_overlap_v6_discard")
        // Later fragments of the same datagram are discarded too (RFC 5722 §4).
        #expect(droppedReason(d.feed(f.v6(id: 5, offset: 24, more: false, data: piece(24..<48))))
                == "ip.fragment_overlap_v6_discard")
        let gone = d.takeDiscarded()
        #expect(gone.count == 1)
        #expect(gone.first?.fragmentFrames == [1, 2])
        #expect(d.inFlight == 0 && d.buffered == 0)
    }

    @Test func ipv6ExactDuplicateIsTolerated() throws {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v6(id: 5, offset: 0, more: true, data: piece(0..<24)))
        _ = d.feed(f.v6(id: 5, offset: 0, more: true, data: piece(0..<24)))
        let r = try #require(reassembled(d.feed(f.v6(id: 5, offset: 24, more: false, data: piece(24..<48)))))
        #expect(Array(r.bytes[40...]) == dg)
        #expect(r.fragmentFrames == [1, 2, 3])
    }

    @Test func timeoutDiscards() {
        var f = Fragmenter()
        var d = IPDefragmenter()
        _ = d.feed(f.v4(id: 1, offset: 0, more: true, data: piece(0..<16)))
        _ = d.feed(f.v4(id: 2, offset: 0, more: true, data: piece(0..<16), dt: 31))
        let gone = d.takeDiscarded()
        #expect(gone.map(\.reason) == ["ip.fragment_timeout"])
        #expect(gone.first?.key.id == 1 && gone.first?.fragmentFrames == [1])
        #expect(d.inFlight == 1)
        d.finish()
        #expect(d.takeDiscarded().map(\.key.id) == [2])
    }

    @Test func datagramCapEvictsTheOldest() {
        var f = Fragmenter()
        var limits = DefragLimits()
        limits.maxDatagrams = 2
        var d = IPDefragmenter(limits: limits)
        for id in 1...3 { _ = d.feed(f.v4(id: UInt16(id), offset: 0, more: true, data: piece(0..<16))) }
        #expect(d.inFlight == 2)
        #expect(d.takeDiscarded().map(\.key.id) == [1])
        #expect(d.anomalies.map(\.name) == ["ip.fragment_evicted"])
    }

    @Test func byteCapEvictsTheOldest() {
        var f = Fragmenter()
        var limits = DefragLimits()
        limits.maxBufferedBytes = 40
        var d = IPDefragmenter(limits: limits)
        _ = d.feed(f.v4(id: 1, offset: 0, more: true, data: piece(0..<16)))
        _ = d.feed(f.v4(id: 2, offset: 0, more: true, data: piece(0..<16)))
        _ = d.feed(f.v4(id: 3, offset: 0, more: true, data: piece(0..<16)))
        #expect(d.buffered <= 40)
        #expect(d.takeDiscarded().map(\.key.id) == [1])
    }

    @Test func truncatedAndOversizeFragmentsAreDropped() {
        var f = Fragmenter()
        var d = IPDefragmenter()
        #expect(droppedReason(d.feed(f.v4(id: 1, offset: 0, more: true, data: piece(0..<16), truncateBy: 4)))
                == "ip.fragment_truncated")
        #expect(droppedReason(d.feed(f.v4(id: 2, offset: 65528, more: false, data: piece(0..<16))))
                == "ip.fragment_oversize")
        #expect(d.inFlight == 0)
    }

    @Test func everyTruncatedPrefixIsHandled() {
        var f = Fragmenter()
        let full = f.v4(id: 1, offset: 0, more: true, data: piece(0..<16))
        for n in 0..<full.bytes.count {
            var d = IPDefragmenter()
            let cut = TestPacket(packet: full.packet, bytes: Array(full.bytes.prefix(n)))
            #expect(droppedReason(d.feed(cut)) == "ip.fragment_truncated")
        }
    }
}
