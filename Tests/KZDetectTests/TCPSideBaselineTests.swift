import Testing
import KZWire
@testable import KZDetect
import KZTestSupport

/// The counting-table mode and the sorted duplicate check give what the dictionary and set versions gave.
@Suite struct TCPSideBaselineTests {
    @Test func byteModeEqualsTheGenericMode() {
        var rng = TestRandom(seed: 0x91e0741101)
        for _ in 0..<2000 {
            let n = Int.random(in: 0...40, using: &rng)
            let values = (0..<n).map { _ in UInt8.random(in: 0...(Bool.random(using: &rng) ? 3 : 255), using: &rng) }
            #expect(TCPSideBaseline.mode8(values) == TCPSideBaseline.mode(values), "\(values)")
            let bits = values.map { $0 & 1 }
            let dfSet = bits.filter { $0 == 1 }.count
            let fromCounts: Bool? = bits.isEmpty ? nil : dfSet > bits.count - dfSet
            #expect(fromCounts == TCPSideBaseline.mode(bits).map { $0 == 1 })
        }
    }

    @Test func onePassIPIDClassificationEqualsTheDefinition() {
        var rng = TestRandom(seed: 0x91e0741102)
        for _ in 0..<3000 {
            let n = Int.random(in: 0...12, using: &rng)
            var id = UInt32.random(in: 0...65535, using: &rng)
            let ids: [UInt32] = (0..<n).map { _ in
                switch Int.random(in: 0...4, using: &rng) {
                case 0: return 0
                case 1: id = (id &+ UInt32.random(in: 0...1500, using: &rng)) & 0xffff; return id
                case 2: return UInt32.random(in: 0...65535, using: &rng)
                default: id = (id &+ 1) & 0xffff; return id
                }
            }
            #expect(TCPSideBaseline.classify(ids.lazy.map { $0 }) == TCPSideBaseline.classify(ids), "\(ids)")
        }
    }

    static func segment(_ frame: Int, seq: UInt32, id: UInt32, flags: TCPFlags = [.ack], len: Int = 0) -> SegmentEvent {
        SegmentEvent(frame: frame, time: Timestamp(nanoseconds: Int64(frame)), side: .server, seq: seq, ack: 1, flags: flags,
                     window: 512, ttl: 60, ipID: id, df: true, payloadLength: len)
    }

    @Test func captureDuplicatesAreFoundWhereverThePairSits() {
        let distinct = (0..<30).map { Self.segment($0 + 1, seq: UInt32(1000 + $0 * 10), id: UInt32($0), len: 10) }
        #expect(!TCPSideBaseline(side: .server, segments: distinct).hasCaptureDuplicates)
        for k in [0, 7, 29] {
            var segs = distinct
            var copy = segs[k]
            copy.frame = 100
            segs.insert(copy, at: Int.random(in: 0...segs.count))
            #expect(TCPSideBaseline(side: .server, segments: segs).hasCaptureDuplicates)
        }
        // Past 48 ordinary segments the check sorts keys instead of comparing pairs.
        let many = (0..<80).map { Self.segment($0 + 1, seq: UInt32(1000 + $0 * 10), id: UInt32($0), len: 10) }
        #expect(!TCPSideBaseline(side: .server, segments: many).hasCaptureDuplicates)
        var manyDup = many
        var c = many[61]
        c.frame = 500
        manyDup.insert(c, at: 5)
        #expect(TCPSideBaseline(side: .server, segments: manyDup).hasCaptureDuplicates)
        // Same bytes, different IP ID: a retransmission, not a duplicate.
        var retrans = distinct
        var r = retrans[3]
        r.ipID = 999
        retrans.append(r)
        #expect(!TCPSideBaseline(side: .server, segments: retrans).hasCaptureDuplicates)
    }
}
