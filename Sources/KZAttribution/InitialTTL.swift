import KZWire

/// The initial TTL (IPv4) or hop limit (IPv6) a sender most likely used, inferred as the nearest common default
/// at or above the observed value (p0f's `guess_dist`): 32, 64, 128 or 255. RFC 1700 recommended 64; Windows uses
/// 128; many routers and network devices use 255; some old stacks 32.
public enum InitialTTL: UInt8, CaseIterable, Sendable, Codable, Comparable {
    case ttl32 = 32, ttl64 = 64, ttl128 = 128, ttl255 = 255

    public static func < (a: InitialTTL, b: InitialTTL) -> Bool { a.rawValue < b.rawValue }

    /// The nearest default ≥ `observed`.
    public static func infer(observed: UInt8) -> InitialTTL {
        if observed <= 32 { return .ttl32 }
        if observed <= 64 { return .ttl64 }
        if observed <= 128 { return .ttl128 }
        return .ttl255
    }

    /// Routers that decremented the TTL between the sender and the capture point, assuming this initial value.
    /// Nil when `observed` is above the initial value (the assumption is wrong).
    public func hopsTraversed(observed: UInt8) -> Int? {
        observed <= rawValue ? Int(rawValue) - Int(observed) : nil
    }

    /// Routers traversed, with the initial TTL inferred from `observed` (never nil).
    public static func hopDistance(observed: UInt8) -> Int {
        Int(infer(observed: observed).rawValue) - Int(observed)
    }
}
