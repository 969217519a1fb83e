@testable import KZDetect
import Testing
import KZTestSupport

@Suite struct InternerTests {
    /// Indices are first-seen order and stable, values come back by index, and the last-value shortcut never answers
    /// for another value: random sequences with long runs (capture paths), alternations and new values mixed in.
    @Test func indicesAreFirstSeenOrderUnderRunsAndAlternation() {
        var rng = TestRandom(seed: 0xb3c5791101)
        let pool = (0..<50).map { "value-\($0)" } + ["", "a", "A", "value-1 "]
        var interner = Interner<String>()
        var reference: [String: Int32] = [:]
        var previous = pool[0]
        for _ in 0..<20_000 {
            let v: String
            switch Int.random(in: 0..<4, using: &rng) {
            case 0, 1: v = previous                                        // a run
            default: v = pool.randomElement(using: &rng)!
            }
            let want = reference[v] ?? Int32(reference.count)
            reference[v] = want
            #expect(interner.index(v) == want, "\(v)")
            #expect(interner[want] == v)
            #expect(interner.existingIndex(v) == want)
            previous = v
        }
        #expect(interner.existingIndex("never added") == nil)
    }
}
