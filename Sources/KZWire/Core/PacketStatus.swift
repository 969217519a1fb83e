/// The decoding layers, used in accounting reasons and anomalies.
public enum Layer: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case capture, link, ethernet, vlan, pppoe, ppp, mpls, sll, sll2, null, ipv4, ipv6, ipv6ext, gre, tcp, udp, icmp, icmpv6
    public var description: String {
        switch self {
        case .capture: "capture"
        case .link: "link"
        case .ethernet: "ethernet"
        case .vlan: "vlan"
        case .pppoe: "pppoe"
        case .ppp: "ppp"
        case .mpls: "mpls"
        case .sll: "sll"
        case .sll2: "sll2"
        case .null: "null"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .ipv6ext: "ipv6_ext"
        case .gre: "gre"
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmp: "icmp"
        case .icmpv6: "icmpv6"
        }
    }
}

/// What went wrong inside a layer, for `malformed.<layer>.<what>`.
public enum Malformation: UInt8, Sendable, Hashable, CustomStringConvertible {
    case badVersion, headerTooShort, lengthMismatch, badOptions, tooDeep, badHeader, badLength
    public var description: String {
        switch self {
        case .badVersion: "bad_version"
        case .headerTooShort: "header_too_short"
        case .lengthMismatch: "length_mismatch"
        case .badOptions: "bad_options"
        case .tooDeep: "too_deep"
        case .badHeader: "bad_header"
        case .badLength: "bad_length"
        }
    }
}

/// The accounting category of one frame: exactly one per frame read. `ok` means the frame decoded down to the last layer
/// the decoder knows for it (an IP packet with an unknown transport protocol, or ARP, is `ok`).
/// Names are stable: `ok`, `truncated.<layer>`, `malformed.<layer>.<what>`, `unsupported.linktype.<n>`,
/// `unsupported.ethertype.0x<hex4>`, `unsupported.llc`, `unsupported.ppp.0x<hex4>`, `unsupported.null_family.<n>`,
/// `unsupported.ip_version.<n>`.
public struct PacketStatus: Error, Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable, Hashable {
        case ok, truncated, malformed, unsupportedLinkType, unsupportedEtherType, unsupportedLLC, unsupportedPPP,
             unsupportedNullFamily, unsupportedIPVersion
    }
    public var kind: Kind
    public var layer: Layer
    public var what: Malformation
    public var number: UInt32

    @inlinable public init(kind: Kind, layer: Layer = .capture, what: Malformation = .badHeader, number: UInt32 = 0) {
        self.kind = kind; self.layer = layer; self.what = what; self.number = number
    }
    public static let ok = PacketStatus(kind: .ok)
    @inlinable public static func truncated(_ l: Layer) -> PacketStatus { PacketStatus(kind: .truncated, layer: l) }
    @inlinable public static func malformed(_ l: Layer, _ w: Malformation) -> PacketStatus {
        PacketStatus(kind: .malformed, layer: l, what: w)
    }
    @inlinable public var isOK: Bool { kind == .ok }

    public var description: String {
        func hex4(_ v: UInt32) -> String {
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 4 - s.count)) + s
        }
        switch kind {
        case .ok: return "ok"
        case .truncated: return "truncated.\(layer)"
        case .malformed: return "malformed.\(layer).\(what)"
        case .unsupportedLinkType: return "unsupported.linktype.\(number)"
        case .unsupportedEtherType: return "unsupported.ethertype.\(hex4(number))"
        case .unsupportedLLC: return "unsupported.llc"
        case .unsupportedPPP: return "unsupported.ppp.\(hex4(number))"
        case .unsupportedNullFamily: return "unsupported.null_family.\(number)"
        case .unsupportedIPVersion: return "unsupported.ip_version.\(number)"
        }
    }
    public static func < (a: PacketStatus, b: PacketStatus) -> Bool { a.description < b.description }
}

/// Per-capture packet accounting: every frame read is counted in exactly one category, so
/// `decoded + skipped.values.sum() == frames` always holds (tests check it).
public struct PacketAccounting: Sendable, Equatable {
    public var frames: Int = 0
    public var decoded: Int = 0
    public var skipped: [PacketStatus: Int] = [:]
    public init() {}

    @inlinable public mutating func count(_ status: PacketStatus) {
        frames &+= 1
        if status.kind == .ok { decoded &+= 1 } else { skipped[status, default: 0] += 1 }
    }
    public mutating func merge(_ other: PacketAccounting) {
        frames += other.frames
        decoded += other.decoded
        for (k, v) in other.skipped { skipped[k, default: 0] += v }
    }
    /// Skip reasons by name, sorted by name (deterministic output).
    public var skippedByName: [(name: String, count: Int)] {
        skipped.map { ($0.key.description, $0.value) }.sorted { $0.name < $1.name }
    }
    public var isBalanced: Bool { decoded + skipped.values.reduce(0, +) == frames }
}
