import KZWire

/// One TTL seen at the capture point for a source address.
public struct TTLObservation: Sendable, Hashable {
    public var source: IPAddress
    public var ttl: UInt8
    public var frame: FrameNumber
    public init(source: IPAddress, ttl: UInt8, frame: FrameNumber) {
        self.source = source; self.ttl = ttl; self.frame = frame
    }
}

/// How far a source is from the capture point, from the TTLs of its packets (passive, no probing).
/// The distance uses the most frequent TTL (ties: the higher TTL, i.e. the nearer sender), so a few injected packets
/// that claim the source's address do not move it.
public struct PassiveDistance: Sendable, Hashable {
    public var source: IPAddress
    public var packets: Int
    public var modalTTL: UInt8
    public var minTTL: UInt8
    public var maxTTL: UInt8
    public var initialTTL: InitialTTL
    /// Routers between the source and the capture point for the modal TTL.
    public var hops: Int
    /// Distinct TTL values seen.
    public var distinctTTLs: [UInt8]
    /// All TTLs within ±1 of the modal value (route flaps aside, a single sender's TTL is stable).
    public var isStable: Bool { Int(maxTTL) - Int(minTTL) <= 1 }

    /// One entry per source address, sorted by address.
    public static func compute(_ observations: [TTLObservation]) -> [PassiveDistance] {
        var bySource: [IPAddress: [UInt8: Int]] = [:]
        for o in observations { bySource[o.source, default: [:]][o.ttl, default: 0] += 1 }
        return bySource.keys.sorted().compactMap { src in
            guard let counts = bySource[src], let modal = counts.max(by: { a, b in
                a.value != b.value ? a.value < b.value : a.key < b.key
            }) else { return nil }
            let ttls = counts.keys.sorted()
            let initial = InitialTTL.infer(observed: modal.key)
            return PassiveDistance(source: src, packets: counts.values.reduce(0, +), modalTTL: modal.key,
                                   minTTL: ttls.first ?? modal.key, maxTTL: ttls.last ?? modal.key,
                                   initialTTL: initial, hops: Int(initial.rawValue) - Int(modal.key),
                                   distinctTTLs: ttls)
        }
    }

    /// Distances of every IP source in `packets`. ICMP errors are counted for the router that sent them.
    public static func compute(packets: [DecodedPacket]) -> [PassiveDistance] {
        compute(packets.compactMap { p in p.ip.map { TTLObservation(source: $0.src, ttl: $0.ttl, frame: p.frame) } })
    }
}

/// The estimated position of an injector (the sender of a forged packet) on the path, from the TTL the forged packet
/// arrived with. `hopIndex` follows REPORT.md: routers counted from the capture point, 1 = first router. A sender whose
/// packet crossed `d` routers is router `d + 1` itself or a tap on the link just before it; a TTL-limited sweep would
/// place it at hop `d + 1`.
public struct InjectorHopEstimate: Sendable, Hashable {
    public enum TTLCopying: String, Sendable, Hashable, Codable {
        /// No sign of copying.
        case none
        /// The forged packet's TTL equals the trigger packet's TTL (±1): the injector copied it, distance is meaningless.
        case copiesTrigger = "copies-trigger"
        /// The forged packet's TTL equals the real peer's TTL: the injector imitates the peer (or it *is* the peer).
        case copiesPeer = "copies-peer"
        /// Across several triggers the forged TTL tracked the trigger TTL at a constant offset.
        case tracksTrigger = "tracks-trigger"
    }

    public var observedTTL: UInt8
    public var initialTTL: InitialTTL
    /// Routers crossed between the injector and the capture point (initial − observed).
    public var routersTraversed: Int
    /// Best estimate of the hop index (routersTraversed + 1).
    public var hopIndex: Int
    /// The plausible range of the hop index (inclusive); the stated uncertainty.
    public var lowIndex: Int
    public var highIndex: Int
    /// The peer's own hop index (its distance + 1) when its packets were seen.
    public var peerHopIndex: Int?
    public var copying: TTLCopying
    /// False when the distance cannot be trusted (copying, implausible, at or beyond the peer).
    public var trusted: Bool
    /// "low" | "medium" | "high" (REPORT.md vocabulary). TTL arithmetic alone is never "high".
    public var confidence: String
    public var note: String

    /// ± hops around `hopIndex`.
    public var uncertainty: Int { max(hopIndex - lowIndex, highIndex - hopIndex) }

    /// Estimates the injector's hop from one forged packet.
    /// - Parameters:
    ///   - injectedTTL: TTL of the forged packet at the capture point.
    ///   - triggerTTL: TTL of the packet that triggered the injection, as captured (usually the client's request).
    ///   - peerTTL: modal TTL of the genuine packets from the claimed sender (e.g. from `PassiveDistance`).
    public static func estimate(injectedTTL: UInt8, triggerTTL: UInt8? = nil, peerTTL: UInt8? = nil)
        -> InjectorHopEstimate
    {
        let initial = InitialTTL.infer(observed: injectedTTL)
        let d = Int(initial.rawValue) - Int(injectedTTL)
        let index = d + 1
        var est = InjectorHopEstimate(observedTTL: injectedTTL, initialTTL: initial, routersTraversed: d,
                                      hopIndex: index, lowIndex: max(1, index - 1), highIndex: index + 1,
                                      peerHopIndex: nil, copying: .none, trusted: true, confidence: "low", note: "")
        var notes: [String] = []
        if let p = peerTTL {
            est.peerHopIndex = InitialTTL.hopDistance(observed: p) + 1
        }
        if let t = triggerTTL, abs(Int(t) - Int(injectedTTL)) <= 1 {
            est.copying = .copiesTrigger
            est.trusted = false
            notes.append("forged TTL \(injectedTTL) equals the trigger's TTL \(t) (±1): TTL-copying injector, distance unknown")
        } else if let p = peerTTL, p == injectedTTL {
            est.copying = .copiesPeer
            est.trusted = false
            notes.append("forged TTL \(injectedTTL) equals the peer's TTL: injector imitates the peer or is the peer; distance unknown (if the peer itself is the interceptor, e.g. a TLS proxy, it sits at hop \(index))")
        }
        if est.trusted, d > 40 {
            est.trusted = false
            notes.append("\(d) routers is implausible: the injector's initial TTL is not \(initial.rawValue)")
        }
        if est.trusted, let ph = est.peerHopIndex, index >= ph {
            est.trusted = false
            notes.append("estimated hop \(index) is at or beyond the peer (hop \(ph)): initial TTL guess or routing differs")
        }
        if est.trusted {
            est.highIndex = est.peerHopIndex.map { min(est.highIndex, $0 - 1) } ?? est.highIndex
            est.highIndex = max(est.highIndex, est.hopIndex)
            if let ph = est.peerHopIndex {
                est.confidence = "medium"
                notes.append("about hop \(index) (±1) from the capture point, \(ph - index) hop(s) before the peer; assumes initial TTL \(initial.rawValue)")
            } else {
                notes.append("about hop \(index) (±1) from the capture point; assumes initial TTL \(initial.rawValue); peer distance unknown")
            }
        } else {
            est.lowIndex = 1
            est.highIndex = max(index, est.peerHopIndex ?? index)
        }
        est.note = notes.joined(separator: "; ")
        return est
    }

    /// Whether forged packets track their triggers' TTLs: at least two distinct trigger TTLs, and
    /// `injected − trigger` constant within ±1 across all pairs. A TTL-limited sweep that gets a RST with TTL
    /// rising with the probe TTL shows a copying device.
    public static func tracksTrigger(_ pairs: [(trigger: UInt8, injected: UInt8)]) -> Bool {
        guard Set(pairs.map(\.trigger)).count >= 2 else { return false }
        let offsets = pairs.map { Int($0.injected) - Int($0.trigger) }
        guard let lo = offsets.min(), let hi = offsets.max() else { return false }
        return hi - lo <= 1
    }
}
