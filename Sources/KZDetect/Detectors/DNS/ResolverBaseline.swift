import KZWire

/// What one resolver's uncontested responses in a capture look like: IP TTL, IP ID, DF and round-trip time.
///
/// Hold-On (Duan et al., "Hold-On: Protecting Against On-Path DNS Poisoning", SATIN 2012) validates a reply by its IP
/// TTL (within ±1 of the resolver's usual value) and its RTT (at least half the expected one); an on-path injector sits
/// closer than the resolver, so its forgeries arrive early and from another hop distance. The baseline is built from
/// responses of transactions that got exactly one response; every verdict leaves out the response being judged, so a
/// response is never its own evidence.
///
/// Every response of a capture is judged against its resolver's baseline, so the verdicts must not cost O(samples)
/// each (40,000 queries to one resolver would make that 1.6 billion steps): `add` maintains counts, the first frames
/// per value and time- and RTT-sorted copies, and each verdict subtracts the judged frame's own samples in O(log n).
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
    /// Frame → its samples, chained in add order through `nextOfFrame` (a frame nearly always has one: no array each).
    private var byFrame: [FrameNumber: FrameRun] = [:]
    private var nextOfFrame: [Int32] = []                         // parallel to `samples`; -1 ends a chain
    private struct FrameRun { var first: Int32; var last: Int32; var count: Int32 }
    private var ttlCount = [Int](repeating: 0, count: 256)
    private var ttlFirst: [UInt8: [FrameNumber]] = [:]           // first two distinct frames per TTL, in add order
    /// The three most common TTLs by (count descending, TTL ascending). Counts only grow, so `add` keeps them exact,
    /// and a verdict that leaves out one frame's samples (one or two TTLs) finds the mode among them without a scan.
    private var topTTLs: [UInt8] = []
    private var dfCount = [0, 0]                                  // [DF clear, DF set]
    private var dfFirst: [[FrameNumber]] = [[], []]
    private var zeroIPIDs = 0
    /// Samples with rtt ≥ 0; the fastest (earliest added among equals), and the fastest from another frame than it:
    /// the floor without any one frame is one of the two, so no sorted list (whose inserts cost O(n) each) is needed.
    private var rttCount = 0
    private var fastest: (rtt: Double, frame: FrameNumber)?
    private var fastestOtherFrame: (rtt: Double, frame: FrameNumber)?
    private var byTime: [Sample] = []                             // by (time, frame), equal keys in add order
    /// Successive `byTime` pairs whose IP ID delta (mod 2^16) is in 1...`countingGap`.
    private var smallDeltas = 0
    let countingGap: UInt32

    init(countingGap: UInt32 = 2048) { self.countingGap = countingGap }

    mutating func add(_ s: Sample) {
        let n = Int32(samples.count)
        nextOfFrame.append(-1)
        if let run = byFrame.updateValue(FrameRun(first: n, last: n, count: 1), forKey: s.frame) {
            nextOfFrame[Int(run.last)] = n
            byFrame[s.frame] = FrameRun(first: run.first, last: n, count: run.count + 1)
        }
        samples.append(s)
        ttlCount[Int(s.ttl)] += 1
        rankTTL(s.ttl)
        Self.noteFirst(&ttlFirst[s.ttl, default: []], s.frame)
        dfCount[s.df ? 1 : 0] += 1
        Self.noteFirst(&dfFirst[s.df ? 1 : 0], s.frame)
        if s.ipID == 0 { zeroIPIDs += 1 }
        if s.rtt >= 0 {
            rttCount += 1
            if let f = fastest {
                if s.rtt < f.rtt {
                    if s.frame != f.frame { fastestOtherFrame = f }
                    fastest = (s.rtt, s.frame)
                } else if s.frame != f.frame, fastestOtherFrame.map({ s.rtt < $0.rtt }) ?? true {
                    fastestOtherFrame = (s.rtt, s.frame)
                }
            } else {
                fastest = (s.rtt, s.frame)
            }
        }
        let i = upperBound(byTime.count) { (byTime[$0].time, byTime[$0].frame) <= (s.time, s.frame) }
        if i > 0 && i < byTime.count { smallDeltas -= small(byTime[i - 1], byTime[i], countingGap) }
        if i > 0 { smallDeltas += small(byTime[i - 1], s, countingGap) }
        if i < byTime.count { smallDeltas += small(s, byTime[i], countingGap) }
        byTime.insert(s, at: i)
    }

    /// A baseline of at most `count` samples: those nearest to `time` in time order (all of them when there are no
    /// more), for a verdict that adds a sample of its own without copying the whole baseline.
    func window(around time: Timestamp, count: Int) -> ResolverBaseline {
        var w = ResolverBaseline(countingGap: countingGap)
        if byTime.count <= count {
            for s in samples { w.add(s) }
            return w
        }
        let i = upperBound(byTime.count) { byTime[$0].time < time }
        let lo = max(0, min(i - count / 2, byTime.count - count))
        for s in byTime[lo..<(lo + count)] { w.add(s) }
        return w
    }

    /// `ttl`'s count just grew: only its place among the top three can change.
    private mutating func rankTTL(_ ttl: UInt8) {
        let counts = ttlCount
        func before(_ a: UInt8, _ b: UInt8) -> Bool {
            counts[Int(a)] != counts[Int(b)] ? counts[Int(a)] > counts[Int(b)] : a < b
        }
        if let i = topTTLs.firstIndex(of: ttl) { topTTLs.remove(at: i) }
        var j = topTTLs.count
        while j > 0 && before(ttl, topTTLs[j - 1]) { j -= 1 }
        topTTLs.insert(ttl, at: j)
        if topTTLs.count > 3 { topTTLs.removeLast() }
    }

    private static func noteFirst(_ list: inout [FrameNumber], _ f: FrameNumber) {
        if list.count < 2 && !list.contains(f) { list.append(f) }
    }

    /// The first index in 0..<n for which `before` is false (`before` must hold on a prefix).
    private func upperBound(_ n: Int, _ before: (Int) -> Bool) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if before(mid) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func small(_ a: Sample, _ b: Sample, _ gap: UInt32) -> Int {
        let d = (b.ipID &- a.ipID) & 0xffff
        return d >= 1 && d <= gap ? 1 : 0
    }

    /// The samples of the judged frame (left out of every verdict).
    /// Every response is judged: the judged frame's samples are read in place (usually one), not copied out.
    private struct Own {
        let head: Int32
        let count: Int
        let next: [Int32]
        let samples: [Sample]
        var first: Sample? { head >= 0 ? samples[Int(head)] : nil }
        func forEach(_ body: (Sample) -> Void) {
            var i = head
            while i >= 0 {
                body(samples[Int(i)])
                i = next[Int(i)]
            }
        }
        func count(where p: (Sample) -> Bool) -> Int {
            var n = 0
            forEach { if p($0) { n += 1 } }
            return n
        }
    }

    private func own(_ frame: FrameNumber) -> Own {
        let run = byFrame[frame]
        return Own(head: run?.first ?? -1, count: Int(run?.count ?? 0), next: nextOfFrame, samples: samples)
    }

    private func firstFrame(_ list: [FrameNumber]?, notEqual frame: FrameNumber) -> FrameNumber? {
        list?.first { $0 != frame }
    }

    /// The TTL verdict for `ttl`: nil when the baseline is too small or the TTL fits. It does not fit when it is more
    /// than `tolerance` from the most common TTL cluster *and* the responses within `tolerance` of it are rarer than
    /// `rareFraction` of the baseline (so a route change that moves many responses is not called an injection).
    func ttlMismatch(_ ttl: UInt8, excluding frame: FrameNumber, minSamples: Int, tolerance: Int,
                     rareFraction: Double) -> (expected: UInt8, baselineFrame: FrameNumber)? {
        let mine = own(frame)
        let n = samples.count - mine.count
        guard n >= minSamples else { return nil }
        // Counts without the judged frame's samples (its distinct TTLs and how many of each, on the stack), without
        // copying the 256-entry table per verdict.
        return withUnsafeTemporaryAllocation(of: (ttl: Int, count: Int).self, capacity: max(1, mine.count)) { buf in
            var distinct = 0
            mine.forEach { sample in
                let t = Int(sample.ttl)
                if let k = (0..<distinct).first(where: { buf[$0].ttl == t }) { buf[k].count += 1 } else {
                    buf[distinct] = (t, 1)
                    distinct += 1
                }
            }
            let ownTTLs = UnsafeBufferPointer(rebasing: buf[0..<distinct])
            return ttlVerdict(ttl, frame: frame, n: n, ownTTLs: ownTTLs, tolerance: tolerance, rareFraction: rareFraction)
        }
    }

    private func ttlVerdict(_ ttl: UInt8, frame: FrameNumber, n: Int, ownTTLs: UnsafeBufferPointer<(ttl: Int, count: Int)>,
                            tolerance: Int, rareFraction: Double) -> (expected: UInt8, baselineFrame: FrameNumber)? {
        func count(_ t: Int) -> Int { ttlCount[t] - (ownTTLs.first { $0.ttl == t }?.count ?? 0) }
        // Mode: the value with the largest count, ties to the smaller TTL (deterministic).
        var mode = 0
        func consider(_ t: Int) {
            if count(t) > count(mode) || (count(t) == count(mode) && t < mode) { mode = t }
        }
        if ownTTLs.count <= 2 {
            // The mode is one of the judged frame's TTLs (reduced) or the best TTL it does not touch, which is among
            // the top three.
            for o in ownTTLs { consider(o.ttl) }
            if let u = topTTLs.first(where: { t in !ownTTLs.contains { $0.ttl == Int(t) } }) { consider(Int(u)) }
        } else {
            for t in 1..<256 where count(t) > count(mode) { mode = t }
        }
        guard count(mode) > 0 else { return nil }
        guard abs(Int(ttl) - mode) > tolerance else { return nil }
        var near = 0
        for t in max(0, Int(ttl) - tolerance)...min(255, Int(ttl) + tolerance) { near += count(t) }
        guard Double(near) < rareFraction * Double(n) else { return nil }
        guard let baselineFrame = firstFrame(ttlFirst[UInt8(mode)], notEqual: frame) else { return nil }
        return (UInt8(mode), baselineFrame)
    }

    /// The resolver's round-trip floor: the smallest delay among the other responses, when there are at least
    /// `minSamples`. The floor, not the median: a recursive resolver answers cached names in one network RTT and others
    /// much later, so only "faster than the path allows" separates a closer injector from a cache hit.
    func floorRTT(excluding frame: FrameNumber, minSamples: Int) -> Double? {
        let mine = own(frame).count { $0.rtt >= 0 }
        guard rttCount - mine >= minSamples, let f = fastest else { return nil }
        return f.frame != frame ? f.rtt : fastestOtherFrame?.rtt
    }

    /// The DF bit most other responses carry, when at least 90% agree.
    func dfMismatch(_ df: Bool, excluding frame: FrameNumber, minSamples: Int) -> (expected: Bool, baselineFrame: FrameNumber)? {
        let mine = own(frame)
        let n = samples.count - mine.count
        guard n >= minSamples else { return nil }
        let same = dfCount[df ? 1 : 0] - mine.count { $0.df == df }
        guard Double(n - same) >= 0.9 * Double(n), let b = firstFrame(dfFirst[df ? 0 : 1], notEqual: frame) else {
            return nil
        }
        return (!df, b)
    }

    /// IP ID check. Resolvers either send IP ID 0 (Linux with DF), count up (a global or per-destination counter) or
    /// randomise. Zero and counting baselines make a forged reply stand out; a random baseline gives no verdict.
    /// Returns the expected value as text and the baseline frame compared with.
    func ipIDMismatch(_ ipID: UInt32, at time: Timestamp, excluding frame: FrameNumber, minSamples: Int,
                      maxGap: UInt32) -> (expected: String, baselineFrame: FrameNumber)? {
        let mine = own(frame)
        let n = samples.count - mine.count
        guard n >= minSamples, n >= 1 else { return nil }
        // The judged frame's samples form one run [p, q) in time order (same time, same frame).
        var p = byTime.count, q = byTime.count
        if let m = mine.first {
            p = upperBound(byTime.count) { (byTime[$0].time, byTime[$0].frame) < (m.time, m.frame) }
            q = p + mine.count
        }
        func at(_ k: Int) -> Sample { byTime[k < p ? k : k + (q - p)] }    // k-th of the others
        if zeroIPIDs - mine.count(where: { $0.ipID == 0 }) == n {
            return ipID == 0 ? nil : ("0", at(0).frame)
        }
        // Counting: at least 80% of successive deltas (mod 2^16) are small and positive.
        var smallCount: Int
        if maxGap == countingGap {
            smallCount = smallDeltas
            if p < q {
                if p > 0 { smallCount -= small(byTime[p - 1], byTime[p], maxGap) }
                for k in p..<(q - 1) { smallCount -= small(byTime[k], byTime[k + 1], maxGap) }
                if q < byTime.count { smallCount -= small(byTime[q - 1], byTime[q], maxGap) }
                if p > 0 && q < byTime.count { smallCount += small(byTime[p - 1], byTime[q], maxGap) }
            }
        } else {
            smallCount = 0
            for k in 1..<max(1, n) { smallCount += small(at(k - 1), at(k), maxGap) }
        }
        guard Double(smallCount) >= 0.8 * Double(n - 1) else { return nil }
        // Nearest baseline neighbour in time; ties go to the earlier one in time order.
        let t = time.seconds
        let right = upperBound(n) { at($0).time.seconds < t }
        var best: Int?
        if right > 0 {
            // The leftmost of the samples that share the time just before `time`.
            var k = right - 1
            let v = at(k).time.seconds
            while k > 0 && at(k - 1).time.seconds == v { k -= 1 }
            best = k
        }
        if right < n, best.map({ abs(at(right).time.seconds - t) < abs(at($0).time.seconds - t) }) ?? true {
            best = right
        }
        guard let b = best else { return nil }
        let near = at(b)
        let ahead = (ipID &- near.ipID) & 0xffff
        let behind = (near.ipID &- ipID) & 0xffff
        if ahead <= maxGap || behind <= maxGap { return nil }
        return ("near \(near.ipID) (counter)", near.frame)
    }
}
