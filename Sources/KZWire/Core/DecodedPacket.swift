/// 1-based frame number, as Wireshark numbers frames (so `frame.number == N` opens the evidence).
public typealias FrameNumber = Int

/// IP protocol numbers (open set: unknown values survive).
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let hopByHop = IPProtocol(rawValue: 0)
    public static let icmp = IPProtocol(rawValue: 1)
    public static let ipip = IPProtocol(rawValue: 4)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
    public static let ipv6 = IPProtocol(rawValue: 41)
    public static let routing = IPProtocol(rawValue: 43)
    public static let fragment = IPProtocol(rawValue: 44)
    public static let gre = IPProtocol(rawValue: 47)
    public static let esp = IPProtocol(rawValue: 50)
    public static let ah = IPProtocol(rawValue: 51)
    public static let icmpv6 = IPProtocol(rawValue: 58)
    public static let noNext = IPProtocol(rawValue: 59)
    public static let destinationOptions = IPProtocol(rawValue: 60)

    /// "tcp", "udp", "icmp", "icmpv6", or the number.
    public var name: String {
        switch rawValue {
        case 6: "tcp"
        case 17: "udp"
        case 1: "icmp"
        case 58: "icmpv6"
        default: String(rawValue)
        }
    }
}

/// Checksum verdict. `unverified` when the bytes needed are not all captured (snaplen) or the value is zero on UDP/IPv4.
public enum ChecksumStatus: UInt8, Sendable, Hashable {
    case unverified, good, bad
}

/// What the detectors need from the IP header (the innermost one for tunnelled packets).
public struct IPSummary: Sendable, Hashable {
    public var version: UInt8
    public var src: IPAddress
    public var dst: IPAddress
    /// TTL (IPv4) or hop limit (IPv6).
    public var ttl: UInt8
    /// IPv4 identification; for IPv6 the Fragment header's identification when present, else 0.
    public var ipID: UInt32
    public var df: Bool
    public var moreFragments: Bool
    /// Fragment offset in bytes.
    public var fragmentOffset: UInt16
    /// True when this datagram is a fragment (IPv4 MF or offset, or an IPv6 Fragment header).
    public var isFragment: Bool
    public var hasFragmentHeader: Bool
    /// Upper-layer protocol after IPv6 extension headers.
    public var proto: IPProtocol
    public var tos: UInt8
    /// IPv4 total length, or 40 + IPv6 payload length.
    public var totalLength: UInt16
    public var headerLength: UInt16
    public var headerChecksum: ChecksumStatus
    /// IPv4 option bytes present (RFC 791 §3.1).
    public var hasOptions: Bool
    /// Number of addresses recorded in a Record Route option (RFC 791 §3.1, type 7), or 0.
    public var recordRouteCount: UInt8
    /// Byte offset of the IP header inside the frame (to re-read options such as record route).
    public var headerOffset: Int
    /// How many IP headers enclosed this one (IP-in-IP, 6in4, GRE).
    public var tunnelDepth: UInt8
    public var flowLabel: UInt32

    public init(version: UInt8, src: IPAddress, dst: IPAddress, ttl: UInt8, ipID: UInt32, df: Bool, moreFragments: Bool,
                fragmentOffset: UInt16, isFragment: Bool, hasFragmentHeader: Bool, proto: IPProtocol, tos: UInt8,
                totalLength: UInt16, headerLength: UInt16, headerChecksum: ChecksumStatus, hasOptions: Bool,
                recordRouteCount: UInt8, headerOffset: Int, tunnelDepth: UInt8, flowLabel: UInt32) {
        self.version = version
        self.src = src
        self.dst = dst
        self.ttl = ttl
        self.ipID = ipID
        self.df = df
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
        self.isFragment = isFragment
        self.hasFragmentHeader = hasFragmentHeader
        self.proto = proto
        self.tos = tos
        self.totalLength = totalLength
        self.headerLength = headerLength
        self.headerChecksum = headerChecksum
        self.hasOptions = hasOptions
        self.recordRouteCount = recordRouteCount
        self.headerOffset = headerOffset
        self.tunnelDepth = tunnelDepth
        self.flowLabel = flowLabel
    }
}

/// TCP flags (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// Letters from `FSRPAUEC` in that order, e.g. "SA".
    public var letters: String {
        var s = ""
        let order: [(TCPFlags, Character)] = [(.fin, "F"), (.syn, "S"), (.rst, "R"), (.psh, "P"), (.ack, "A"),
                                              (.urg, "U"), (.ece, "E"), (.cwr, "C")]
        for (f, c) in order where contains(f) { s.append(c) }
        return s
    }
}

/// TCP options in a fixed struct, no allocation (RFC 9293 §3.2, RFC 7323, RFC 2018).
public struct TCPOptionsSummary: Sendable, Hashable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted: Bool = false
    public var sackBlockCount: UInt8 = 0
    public var tsVal: UInt32?
    public var tsEcr: UInt32?
    /// Bit k set when option kind k (< 64) appeared; kinds ≥ 64 set bit 63.
    public var kindsSeen: UInt64 = 0
    /// Option kinds in the order they appeared, packed 8 bits each (first 8 options), for shape comparisons.
    public var order: UInt64 = 0
    public var count: UInt8 = 0
    /// The option area ran past the header or an option length was invalid.
    public var malformed: Bool = false
    public init() {}
}

public struct TCPSummary: Sendable, Hashable {
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var seq: UInt32
    public var ack: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var headerLength: UInt8
    public var urgentPointer: UInt16
    public var options: TCPOptionsSummary
    public var checksum: ChecksumStatus

    public init(srcPort: UInt16, dstPort: UInt16, seq: UInt32, ack: UInt32, flags: TCPFlags, window: UInt16,
                headerLength: UInt8, urgentPointer: UInt16, options: TCPOptionsSummary, checksum: ChecksumStatus) {
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.headerLength = headerLength
        self.urgentPointer = urgentPointer
        self.options = options
        self.checksum = checksum
    }
}

public struct UDPSummary: Sendable, Hashable {
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var length: UInt16
    public var checksum: ChecksumStatus
}

/// The IP and transport header an ICMP error quotes (RFC 792, RFC 4443 §3, RFC 1812 §4.3.2.3): hop attribution matches
/// these against the probes that were sent.
public struct QuotedPacket: Sendable, Hashable {
    public var version: UInt8
    public var src: IPAddress
    public var dst: IPAddress
    public var ttl: UInt8
    public var ipID: UInt32
    public var proto: IPProtocol
    public var totalLength: UInt16
    public var srcPort: UInt16?
    public var dstPort: UInt16?
    /// TCP sequence number, when the quote reaches it (the first 8 transport bytes always include it).
    public var tcpSeq: UInt32?
    /// ICMP echo identifier and sequence when the quoted packet is an echo request.
    public var icmpID: UInt16?
    public var icmpSeq: UInt16?
}

public struct ICMPSummary: Sendable, Hashable {
    public var isV6: Bool
    public var type: UInt8
    public var code: UInt8
    public var checksum: ChecksumStatus
    /// Echo id/seq for echo request/reply.
    public var echoID: UInt16?
    public var echoSeq: UInt16?
    /// The quoted datagram of time-exceeded, destination-unreachable, parameter-problem, packet-too-big, redirect.
    public var quoted: QuotedPacket?

    public var isTimeExceeded: Bool { isV6 ? type == 3 : type == 11 }
    public var isUnreachable: Bool { isV6 ? type == 1 : type == 3 }
}

public enum TransportSummary: Sendable, Hashable {
    case none
    case tcp(TCPSummary)
    case udp(UDPSummary)
    case icmp(ICMPSummary)
}

/// Per-frame flags.
public struct PacketFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Frame shorter than the wire length (snaplen).
    public static let snapTruncated = PacketFlags(rawValue: 1 << 0)
    public static let badIPChecksum = PacketFlags(rawValue: 1 << 1)
    public static let badTransportChecksum = PacketFlags(rawValue: 1 << 2)
    public static let fragment = PacketFlags(rawValue: 1 << 3)
    public static let tunnelled = PacketFlags(rawValue: 1 << 4)
    public static let arp = PacketFlags(rawValue: 1 << 5)
    public static let pppoeDiscovery = PacketFlags(rawValue: 1 << 6)
    /// Reassembled from fragments (KZFlow's defragmenter fed it back through the decoder).
    public static let reassembled = PacketFlags(rawValue: 1 << 7)
}

/// The owned, trivially copyable summary of one decoded frame. No heap on the fast path.
/// `payloadOffset..<payloadOffset+payloadLength` indexes the frame bytes: the transport payload (TCP/UDP data), or the
/// IP payload for fragments and unknown protocols. Bytes are not copied; re-borrow the frame to read them.
public struct DecodedPacket: Sendable {
    public var frame: FrameNumber
    public var timestamp: Timestamp
    public var capturedLength: Int
    public var wireLength: Int
    public var linkType: LinkType
    public var status: PacketStatus = .ok
    public var flags: PacketFlags = []
    /// Up to 4 VLAN ids, outermost first; `vlanCount` may exceed 4 (deeper tags are counted, not stored).
    public var vlanIDs: (UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0)
    public var vlanCount: UInt8 = 0
    public var mplsDepth: UInt8 = 0
    public var pppoeSession: UInt16?
    public var etherType: UInt16?
    public var ip: IPSummary?
    public var transport: TransportSummary = .none
    public var payloadOffset: Int = 0
    /// Payload length as the headers declare it (tshark's tcp.len / udp.length - 8).
    public var payloadLength: Int = 0
    /// How much of that payload the frame actually holds (less than `payloadLength` under a snaplen).
    public var payloadCapturedLength: Int = 0

    public init(frame: FrameNumber, timestamp: Timestamp, capturedLength: Int, wireLength: Int, linkType: LinkType) {
        self.frame = frame
        self.timestamp = timestamp
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.linkType = linkType
    }

    public var vlans: [UInt16] {
        let all = [vlanIDs.0, vlanIDs.1, vlanIDs.2, vlanIDs.3]
        return Array(all.prefix(Int(min(vlanCount, 4))))
    }
    /// Outermost VLAN id or 0, for flow keys that separate traffic by VLAN.
    public var outerVLAN: UInt16 { vlanCount > 0 ? vlanIDs.0 : 0 }

    public var tcp: TCPSummary? { if case .tcp(let t) = transport { t } else { nil } }
    public var udp: UDPSummary? { if case .udp(let u) = transport { u } else { nil } }
    public var icmp: ICMPSummary? { if case .icmp(let i) = transport { i } else { nil } }
    public var srcPort: UInt16? {
        switch transport { case .tcp(let t): t.srcPort; case .udp(let u): u.srcPort; default: nil }
    }
    public var dstPort: UInt16? {
        switch transport { case .tcp(let t): t.dstPort; case .udp(let u): u.dstPort; default: nil }
    }
}
