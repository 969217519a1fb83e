import KZWire

/// What one resolver's uncontested responses in a capture look like: IP TTL, IP ID, DF and round-trip time.
///
/// Hold-On (Duan et al., "Hold-On: Protecting Against On-Path DNS Poisoning", SATIN 2012) validates a reply by its IP
/// TTL (within ±1 of the resolver's usual value) and its RTT (at least half the expected one); an on-path injector sits
/// closer than the resolver, so its forgeries arrive early and from another hop distance. The baseline is built from
/// responses of transactions that got exactly one response; every verdict leaves out the response being judged, so a
/// response is never its own evidence.
struct ResolverBaseline: Sendable {
    struct Sample: Sendable, Hashable {
        var frame: FrameNumber
        var time: Timestamp
        var ttl: UInt8
        var ipID: UInt32
        var df: Bool
        var rtt: Double
    }

    private(set) var samples: [Sample] = []

    mutating func add(_ s: Sample) { samples.append(s) }

    private func others(excluding frame: FrameNumber) -> [Sample] { samples.filter { $0.frame != frame } }

    /// The TTL verdict for `ttl`: nil when the baseline is too small or the TTL fits. It does not fit when it is more
    /// than `tolerance` from the most common TTL cluster *and* the responses within `tolerance` of it are rarer than
    /// `rareFraction` of the baseline (so a route change that moves many responses is not called an injection).
    func ttlMismatch(_ ttl: UInt8, excluding frame: FrameNumber, minSamples: Int, tolerance: Int,
                     rareFraction: Double) -> (expected: UInt8, baselineFrame: FrameNumber)? {
        let o = others(excluding: frame)
        guard o.count >= minSamples else { return nil }
        // Cluster counts: for each observed TTL value, how many samples lie within ±tolerance.
        var counts: [UInt8: Int] = [:]
        for s in o { counts[s.ttl, default: 0] += 1 }
        func cluster(_ t: Int) -> Int {
            counts.reduce(0) { $0 + (abs(Int($1.key) - t) <= tolerance ? $1.value : 0) }
        }
        // Mode: the value with the largest exact count, ties to the smaller TTL (deterministic).
        guard let mode = counts.max(by: { ($0.value, -Int($0.key)) < ($1.value, -Int($1.key)) })?.key else { return nil }
        guard abs(Int(ttl) - Int(mode)) > tolerance else { return nil }
        let near = cluster(Int(ttl))
        guard Double(near) < rareFraction * Double(o.count) else { return nil }
        let baselineFrame = o.first { $0.ttl == mode }?.frame ?? o[0].frame
        return (mode, baselineFrame)
    }

    /// The resolver's round-trip floor: the smallest delay among the other responses, when there are at least
    /// `minSamples`. The floor, not the median: a recursive resolver answers cached names in one network RTT and others
    /// much later, so only "faster than the path allows" separates a closer injector from a cache hit.
    func floorRTT(excluding frame: FrameNumber, minSamples: Int) -> Double? {
        let rtts = others(excluding: frame).map(\.rtt).filter { $0 >= 0 }
        guard rtts.count >= minSamples else { return nil }
        return rtts.min()
    }

    /// The DF bit most other responses carry, when at least 90% agree.
    func dfMismatch(_ df: Bool, excluding frame: FrameNumber, minSamples: Int) -> (expected: Bool, baselineFrame: FrameNumber)? {
        let o = others(excluding: frame)
        guard o.count >= minSamples else { return nil }
        let same = o.filter { $0.df == df }.count
        guard Double(o.count - same) >= 0.9 * Double(o.count), let b = o.first(where: { $0.df != df }) else { return nil }
        return (!df, b.frame)
    }

    /// IP ID check. Resolvers either send IP ID 0 (Linux with DF), count up (a global or per-destination counter) or
    /// randomise. Zero and counting baselines make a forged reply stand out; a random baseline gives no verdict.
    /// Returns the expected value as text and the baseline frame compared with.
    func ipIDMismatch(_ ipID: UInt32, at time: Timestamp, excluding frame: FrameNumber, minSamples: Int,
                      maxGap: UInt32) -> (expected: String, baselineFrame: FrameNumber)? {
        let o = others(excluding: frame).sorted { ($0.time, $0.frame) < ($1.time, $1.frame) }
        guard o.count >= minSamples else { return nil }
        if o.allSatisfy({ $0.ipID == 0 }) {
            return ipID == 0 ? nil : ("0", o[0].frame)
        }
        // Counting: at least 80% of successive deltas (mod 2^16) are small and positive.
        var small = 0
        for i in 1..<o.count {
            let d = (o[i].ipID &- o[i - 1].ipID) & 0xffff
            if d >= 1 && d <= maxGap { small += 1 }
        }
        guard Double(small) >= 0.8 * Double(o.count - 1) else { return nil }
        // Nearest baseline neighbour in time.
        guard let near = o.min(by: { abs($0.time.seconds - time.seconds) < abs($1.time.seconds - time.seconds) })
        else { return nil }
        let ahead = (ipID &- near.ipID) & 0xffff
        let behind = (near.ipID &- ipID) & 0xffff
        if ahead <= maxGap || behind <= maxGap { return nil }
        return ("near \(near.ipID) (counter)", near.frame)
    }
}
