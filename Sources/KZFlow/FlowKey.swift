import KZWire

/// One side of a flow: an address and a port. Protocols without ports use 0; ICMP echo request and reply use the echo
/// identifier on both sides so that a request and its reply share one flow (RFC 792, RFC 4443 §4.1).
public struct FlowEndpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    @inlinable public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    @inlinable public static func < (a: FlowEndpoint, b: FlowEndpoint) -> Bool {
        if a.address != b.address { return a.address < b.address }
        return a.port < b.port
    }

    /// `ADDR:PORT`, IPv6 as `[ADDR]:PORT`.
    public var description: String { address.withPort(port) }
}

/// Direction of a packet inside a flow: `.forward` travels from the originator to the responder, `.reverse` back.
public enum FlowDirection: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case forward = 0
    case reverse = 1

    @inlinable public var opposite: FlowDirection { self == .forward ? .reverse : .forward }
    /// 0 for `.forward`, 1 for `.reverse`; indexes per-direction pairs.
    @inlinable public var index: Int { Int(rawValue) }
    /// Zeek's vocabulary: "orig" or "resp" (the side that sent the packet).
    public var description: String { self == .forward ? "orig" : "resp" }
}

/// The canonical, direction-free key of a bidirectional flow: protocol, the two endpoints in a fixed order
/// (`low < high`), and the outermost VLAN id (0 without VLAN) because the same 5-tuple on two VLANs is two
/// conversations. Trivially copyable and hashable, so table look-ups allocate nothing.
///
/// The key says nothing about roles: which endpoint originated the flow is decided by the flow table (see
/// `RoleSource`) and reported in `FlowRecord`. Like gopacket's `FastHash`, the hash is symmetric by construction and
/// must never be printed or persisted.
public struct FlowKey: Hashable, Sendable, CustomStringConvertible {
    public var low: FlowEndpoint
    public var high: FlowEndpoint
    public var proto: IPProtocol
    public var vlan: UInt16

    /// Orders the two endpoints; the result is the same for (a, b) and (b, a).
    @inlinable public init(_ a: FlowEndpoint, _ b: FlowEndpoint, proto: IPProtocol, vlan: UInt16 = 0) {
        if b < a { low = b; high = a } else { low = a; high = b }
        self.proto = proto
        self.vlan = vlan
    }

    @inlinable public static func == (x: FlowKey, y: FlowKey) -> Bool {
        x.low.address.low == y.low.address.low && x.high.address.low == y.high.address.low
            && x.low.port == y.low.port && x.high.port == y.high.port
            && x.low.address.high == y.low.address.high && x.high.address.high == y.high.address.high
            && x.proto == y.proto && x.vlan == y.vlan
            && x.low.address.isV6 == y.low.address.isV6 && x.high.address.isV6 == y.high.address.isV6
    }

    /// A 64-bit mix of every field (multiply–xorshift); used by `FlowTable`'s own hash index.
    @inlinable public var mixedHash: UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func mix(_ v: UInt64) {
            h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        mix(low.address.low)
        mix(high.address.low)
        mix(low.address.high ^ (high.address.high &* 0x94D0_49BB_1331_11EB))
        let v6: UInt64 = (low.address.isV6 ? 1 : 0) | (high.address.isV6 ? 2 : 0)
        mix(UInt64(low.port) | UInt64(high.port) << 16 | UInt64(proto.rawValue) << 32 | UInt64(vlan) << 40 | v6 << 56)
        return h
    }

    @inlinable public func hash(into hasher: inout Hasher) { hasher.combine(mixedHash) }

    /// Which side a packet from `src` came from: true when `src` is `low`.
    @inlinable public func isLow(_ src: FlowEndpoint) -> Bool { src == low }

    /// "tcp 10.0.0.1:1234 <-> 10.0.0.2:80" (plus " vlan N" when tagged).
    public var description: String {
        "\(proto.name) \(low) <-> \(high)" + (vlan != 0 ? " vlan \(vlan)" : "")
    }

    /// The key of the flow a decoded packet belongs to and whether its source is `low`; nil for packets without an IP
    /// header. ICMP echo request/reply use the identifier as port on both sides; other ICMP messages use port 0.
    /// Fragments are keyed like other packets of their protocol with ports 0 (the defragmenter handles them).
    @inlinable public static func of(_ p: DecodedPacket) -> (key: FlowKey, srcIsLow: Bool)? {
        guard let ip = p.ip else { return nil }
        var sp: UInt16 = 0, dp: UInt16 = 0
        switch p.transport {
        case .tcp(let t): sp = t.srcPort; dp = t.dstPort
        case .udp(let u): sp = u.srcPort; dp = u.dstPort
        case .icmp(let i):
            if let id = i.echoID { sp = id; dp = id }
        case .none: break
        }
        let src = FlowEndpoint(ip.src, sp), dst = FlowEndpoint(ip.dst, dp)
        let key = FlowKey(src, dst, proto: ip.proto, vlan: p.outerVLAN)
        return (key, key.low == src)
    }

    /// The key of the flow an ICMP error quotes (RFC 792, RFC 4443 §3: the quoted header is the offending packet as
    /// sent), for matching errors to the connection that caused them.
    public static func quoted(_ q: QuotedPacket, vlan: UInt16 = 0) -> FlowKey {
        var sp = q.srcPort ?? 0, dp = q.dstPort ?? 0
        if let id = q.icmpID { sp = id; dp = id }
        return FlowKey(FlowEndpoint(q.src, sp), FlowEndpoint(q.dst, dp), proto: q.proto, vlan: vlan)
    }
}
