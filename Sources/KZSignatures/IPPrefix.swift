/// An IPv4 or IPv6 prefix in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`) whose host bits are zero.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Hashable, Sendable { case v4, v6 }

    public let family: Family
    /// Network bits; IPv4 uses only `low`'s lower 32 bits.
    public let high: UInt64
    public let low: UInt64
    public let length: Int
    /// The text as written in the CSV.
    public let text: String

    public var description: String { text }

    /// Errors from `init(parsing:)`, as a message for `SignatureLoadError`.
    public enum ParseError: Error, Hashable, Sendable {
        case syntax
        case lengthOutOfRange
        case hostBitsSet
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]), parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { throw .syntax }
        self.text = text
        self.length = length
        if let v4 = IPAddressText.parseIPv4(parts[0]) {
            guard length <= 32 else { throw .lengthOutOfRange }
            family = .v4
            high = 0
            low = UInt64(v4)
            guard UInt32(truncatingIfNeeded: low) & ~IPPrefix.mask32(length) == 0 else { throw .hostBitsSet }
        } else if let (h, l) = IPAddressText.parseIPv6(parts[0]) {
            guard length <= 128 else { throw .lengthOutOfRange }
            family = .v6
            high = h
            low = l
            let (mh, ml) = IPPrefix.mask128(length)
            guard h & ~mh == 0, l & ~ml == 0 else { throw .hostBitsSet }
        } else {
            throw .syntax
        }
    }

    /// True when the IPv4 address lies in this prefix.
    public func contains(ipv4 address: UInt32) -> Bool {
        family == .v4 && address & IPPrefix.mask32(length) == UInt32(truncatingIfNeeded: low)
    }

    /// True when the IPv6 address (high, low) lies in this prefix.
    public func contains(ipv6 address: (UInt64, UInt64)) -> Bool {
        guard family == .v6 else { return false }
        let (mh, ml) = IPPrefix.mask128(length)
        return address.0 & mh == high && address.1 & ml == low
    }

    static func mask32(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    static func mask128(_ length: Int) -> (UInt64, UInt64) {
        if length == 0 { return (0, 0) }
        if length <= 64 { return (UInt64.max << UInt64(64 - length), 0) }
        if length == 128 { return (UInt64.max, UInt64.max) }
        return (UInt64.max, UInt64.max << UInt64(128 - length))
    }
}
