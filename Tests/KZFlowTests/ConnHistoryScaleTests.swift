import Testing
@testable import KZFlow

/// `c`, `g`, `t`, `w` are written at the 1st, 10th, 100th… occurrence; thresholds are kept as exponents of ten.
@Suite struct ConnHistoryScaleTests {
    @Test func scaledLettersAtPowersOfTenPerDirection() {
        var h = ConnHistory()
        var written: [Int] = []
        for n in 1...1200 {
            let before = h.letters.count
            h.scaled(.t, UInt8(ascii: "T"), true)
            if h.letters.count > before { written.append(n) }
            if n <= 12 { h.scaled(.t, UInt8(ascii: "T"), false) }
        }
        #expect(written == [1, 10, 100, 1000])
        #expect(h.string == "TtTtTT")
        // 16 letters inline instead of a heap array, the TCP sequence marks apart: 72 bytes, no heap block for a
        // typical history; the flow slot, 16-byte aligned, 336 bytes (368 with 64-bit trait counts in `HalfState`,
        // 400 with the marks inside).
        #expect(MemoryLayout<ConnHistory>.size == 72)
        #expect(MemoryLayout<FlowSlot>.stride == 336)
    }

    /// Histories longer than the inline part keep every letter in order, stop at 64, and `^` goes in front.
    @Test func longHistoriesSpillPastTheInlineLettersInOrder() {
        var h = ConnHistory()
        var marks = TCPHistoryMarks()
        var expected: [UInt8] = []
        // S and F again with each new sequence number, both directions: 70 letters offered, 64 kept.
        for k in 0..<35 {
            h.tcp(flags: 0x02, seq: UInt32(k), len: 0, orig: true, marks: &marks)
            h.tcp(flags: 0x01, seq: UInt32(1000 + k), len: 0, orig: false, marks: &marks)
            expected += [UInt8(ascii: "S"), UInt8(ascii: "f")]
        }
        expected = Array(expected.prefix(ConnHistory.maxLetters))
        #expect(h.letters == expected)
        #expect(h.string == String(decoding: expected, as: UTF8.self))
        h.flipped()
        #expect(h.letters == [UInt8(ascii: "^")] + expected)
        var r = ConnHistory()
        var rm = TCPHistoryMarks()
        r.tcp(flags: 0x02, seq: 1, len: 0, orig: true, marks: &rm)
        for k in 0..<20 { r.tcp(flags: 0x10, seq: UInt32(k), len: 5, orig: true, marks: &rm) }
        r.tcp(flags: 0x04, seq: 9, len: 0, orig: true, marks: &rm)
        r.flipped()
        #expect(r.string == "^SDR")
        #expect(r.matchesRSTOS0)
    }

    @Test func thresholdPowersWrapLikeRepeatedMultiplication() {
        var t: UInt32 = 1
        for k in 0...32 {
            #expect(ConnHistory.thresholdPowers[k] == t)
            t = t &* 10
        }
        #expect(ConnHistory.thresholdPowers[10] == 1_410_065_408)
        #expect(ConnHistory.thresholdPowers[32] == 0)
    }
}
