import Testing
@testable import KZPipeline

/// Equal values handed to a `SharingPool` come back sharing one buffer; the pool forgets at its limit.
@Suite struct SharingPoolTests {
    static func address<T>(_ v: [T]) -> UnsafeRawPointer? {
        v.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    @Test func equalArraysShareOneBufferAndDifferentOnesDoNot() {
        var pool = SharingPool<[String]>(limit: 4)
        let a = pool.shared(["93.184.216.34", "CNAME example.net"])
        let b = pool.shared(["93.184.216.34"] + ["CNAME example.net"])
        let c = pool.shared(["10.10.10.10"])
        #expect(a == b)
        #expect(Self.address(a) == Self.address(b))
        #expect(Self.address(a) != Self.address(c))
        #expect(pool.count == 2)
    }

    @Test func reachingTheLimitForgetsButHandedOutValuesStay() {
        var pool = SharingPool<[UInt32]>(limit: 3)
        let first = pool.shared([300])
        for t in 1...2 { _ = pool.shared([UInt32(t)]) }
        #expect(pool.count == 3)
        let again = pool.shared([300])          // the pool was full: it starts over
        #expect(pool.count == 1)
        #expect(again == first)
        #expect(Self.address(again) != Self.address(first))
        #expect(Self.address(pool.shared([300])) == Self.address(again))
    }
}
