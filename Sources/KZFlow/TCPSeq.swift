/// A TCP sequence number with modular arithmetic (RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must
/// be performed modulo 2**32"; comparisons follow serial-number arithmetic, RFC 1982 §3.2).
///
/// `a < b` holds when `b` lies less than 2^31 ahead of `a`. This order is not transitive across ranges wider than
/// 2^31, which real streams never compare; use `distance(to:)` for signed differences.
public struct TCPSeq: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ v: UInt32) { rawValue = v }

    @inlinable public static func < (a: TCPSeq, b: TCPSeq) -> Bool {
        Int32(bitPattern: a.rawValue &- b.rawValue) < 0
    }
    @inlinable public static func + (a: TCPSeq, n: Int) -> TCPSeq {
        TCPSeq(a.rawValue &+ UInt32(truncatingIfNeeded: n))
    }
    @inlinable public static func - (a: TCPSeq, n: Int) -> TCPSeq {
        TCPSeq(a.rawValue &- UInt32(truncatingIfNeeded: n))
    }
    /// Signed distance `other - self` in the range −2^31 ..< 2^31.
    @inlinable public func distance(to other: TCPSeq) -> Int {
        Int(Int32(bitPattern: other.rawValue &- rawValue))
    }
    /// True when `self` lies in `[start, end)` modulo 2^32 (RFC 9293 §3.4 acceptability tests).
    @inlinable public func isIn(_ start: TCPSeq, _ end: TCPSeq) -> Bool {
        (rawValue &- start.rawValue) < (end.rawValue &- start.rawValue)
    }
    public var description: String { String(rawValue) }
}
