import Testing
import KZWire
@testable import KZDetect

/// The counting-table mode and the sorted duplicate check give what the dictionary and set versions gave.
@Suite struct TCPSideBaselineTests {
    @Test func byteModeEqualsTheGenericMode() {
        var rng = SystemRandomNumberGenerator()
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
        // Same bytes, different IP ID: a retransmission, not a duplicate.
        var retrans = distinct
        var r = retrans[3]
        r.ipID = 999
        retrans.append(r)
        #expect(!TCPSideBaseline(side: .server, segments: retrans).hasCaptureDuplicates)
    }
}
