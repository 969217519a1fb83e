/// LINKTYPE_ values as written in capture files (tcpdump.org/linktypes.html). libpcap's DLT_ numbers differ for a few
/// (DLT_RAW is 12 or 14); `init(dlt:)` normalises them so the decoder sees one numbering.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let null = LinkType(rawValue: 0)          // BSD loopback, host-order AF
    public static let ethernet = LinkType(rawValue: 1)
    public static let ppp = LinkType(rawValue: 9)
    public static let pppSerial = LinkType(rawValue: 50)     // PPP in HDLC-like framing (RFC 1662)
    public static let pppEther = LinkType(rawValue: 51)      // PPPoE header without Ethernet
    public static let raw = LinkType(rawValue: 101)
    public static let loop = LinkType(rawValue: 108)        // OpenBSD loopback, network-order AF
    public static let linuxSLL = LinkType(rawValue: 113)
    public static let ipv4 = LinkType(rawValue: 228)
    public static let ipv6 = LinkType(rawValue: 229)
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// From libpcap's `pcap_datalink()` value.
    public init(dlt: Int32) {
        switch dlt {
        case 12, 14: self = .raw          // DLT_RAW on Linux / OpenBSD
        default: self.init(rawValue: UInt32(bitPattern: dlt))
        }
    }

    /// libpcap's name (`pcap_datalink_val_to_name`), e.g. "EN10MB".
    public var description: String {
        switch rawValue {
        case 0: return "NULL"
        case 1: return "EN10MB"
        case 9: return "PPP"
        case 50: return "PPP_SERIAL"
        case 51: return "PPP_ETHER"
        case 101: return "RAW"
        case 108: return "LOOP"
        case 113: return "LINUX_SLL"
        case 228: return "IPV4"
        case 229: return "IPV6"
        case 276: return "LINUX_SLL2"
        default: return "LINKTYPE_\(rawValue)"
        }
    }
}
