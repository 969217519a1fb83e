import Foundation

/// The random numbers of the property tests: SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014), seeded, so a failing round fails again on every run and on every machine.
///
/// Each test names its own seed. `KZ_TEST_SEED=n swift test` mixes `n` into every seed, which lets a local loop
/// explore other inputs; without it (as in CI) the inputs are always the same. A failure found with `KZ_TEST_SEED`
/// reproduces with the same value.
public struct TestRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    /// The generator for one test: `seed`, mixed with `KZ_TEST_SEED` when that is set.
    public init(seed: UInt64) { state = seed ^ (TestRandom.override &* 0x9e37_79b9_7f4a_7c15) }

    /// `KZ_TEST_SEED` as a number, 0 when unset or not a number.
    public static let override: UInt64 = {
        guard let s = ProcessInfo.processInfo.environment["KZ_TEST_SEED"], let v = UInt64(s) else { return 0 }
        return v
    }()

    /// Words to add to a failure message: empty in the default run, the override otherwise.
    public static var seedNote: String { override == 0 ? "" : " (KZ_TEST_SEED=\(override))" }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
