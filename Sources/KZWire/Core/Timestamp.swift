/// A capture timestamp: nanoseconds since the Unix epoch, plus the number of fractional digits the capture file
/// carries (6 for µs pcap, 9 for ns pcap, per-interface `if_tsresol` for pcapng), so output keeps the file's precision.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public var digits: UInt8

    @inlinable public init(nanoseconds: Int64, digits: UInt8 = 9) {
        self.nanoseconds = nanoseconds
        self.digits = digits
    }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func == (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds == b.nanoseconds }
    public func hash(into h: inout Hasher) { h.combine(nanoseconds) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Seconds since the epoch as a decimal string at the file's precision, e.g. "1700000000.123456".
    public var description: String {
        let neg = nanoseconds < 0
        let ns = nanoseconds.magnitude          // UInt64: Int64.min has no positive Int64
        let sec = ns / 1_000_000_000
        var frac = ns % 1_000_000_000
        let d = Int(min(digits, 9))
        if d == 0 { return (neg ? "-" : "") + String(sec) }
        for _ in 0..<(9 - d) { frac /= 10 }
        var f = String(frac)
        if f.count < d { f = String(repeating: "0", count: d - f.count) + f }
        return (neg ? "-" : "") + "\(sec).\(f)"
    }

    /// Appends `description`'s UTF-8 bytes to `out` without building a string.
    public func appendText(to out: inout [UInt8]) {
        if nanoseconds < 0 { out.append(0x2D) }
        let ns = nanoseconds.magnitude
        JSONText.appendDecimal(ns / 1_000_000_000, to: &out)
        let d = Int(min(digits, 9))
        guard d > 0 else { return }
        var frac = ns % 1_000_000_000
        for _ in 0..<(9 - d) { frac /= 10 }
        out.append(0x2E)
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(0x30), count: d))
        var i = start + d - 1
        while frac > 0 && i >= start {
            out[i] = 0x30 &+ UInt8(truncatingIfNeeded: frac % 10)
            frac /= 10
            i -= 1
        }
    }
}
