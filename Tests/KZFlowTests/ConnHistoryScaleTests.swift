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
        #expect(MemoryLayout<ConnHistory>.stride == 80)
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
