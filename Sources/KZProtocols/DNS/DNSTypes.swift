/// DNS record types this parser decodes (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891). Others keep raw rdata.
public enum DNSType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let srv: UInt16 = 33
    public static let opt: UInt16 = 41

    /// Mnemonic for the common types, `TYPEnnn` (RFC 3597 §5) otherwise.
    public static func name(_ t: UInt16) -> String {
        switch t {
        case 1: return "A"
        case 2: return "NS"
        case 5: return "CNAME"
        case 6: return "SOA"
        case 12: return "PTR"
        case 15: return "MX"
        case 16: return "TXT"
        case 28: return "AAAA"
        case 33: return "SRV"
        case 41: return "OPT"
        case 43: return "DS"
        case 46: return "RRSIG"
        case 47: return "NSEC"
        case 48: return "DNSKEY"
        case 64: return "SVCB"
        case 65: return "HTTPS"
        case 255: return "ANY"
        case 257: return "CAA"
        default: return "TYPE\(t)"
        }
    }
}

/// The fixed 12-byte DNS header (RFC 1035 §4.1.1) with its flag bits split out (AD/CD: RFC 4035 §3.2).
public struct DNSHeader: Sendable, Hashable, Codable {
    public var id: UInt16
    /// The raw 16-bit flags word.
    public var flags: UInt16
    public var qdCount: UInt16
    public var anCount: UInt16
    public var nsCount: UInt16
    public var arCount: UInt16

    public init(id: UInt16, flags: UInt16, qdCount: UInt16, anCount: UInt16, nsCount: UInt16, arCount: UInt16) {
        self.id = id; self.flags = flags
        self.qdCount = qdCount; self.anCount = anCount; self.nsCount = nsCount; self.arCount = arCount
    }

    /// QR: true for a response.
    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var opcode: UInt8 { UInt8((flags >> 11) & 0x0f) }
    /// AA: authoritative answer.
    public var authoritative: Bool { flags & 0x0400 != 0 }
    /// TC: the message was truncated by the sender (RFC 1035 §4.1.1; retry over TCP, RFC 7766).
    public var truncated: Bool { flags & 0x0200 != 0 }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }
    public var recursionAvailable: Bool { flags & 0x0080 != 0 }
    /// The reserved Z bit (must be zero).
    public var z: Bool { flags & 0x0040 != 0 }
    public var authenticData: Bool { flags & 0x0020 != 0 }
    public var checkingDisabled: Bool { flags & 0x0010 != 0 }
    /// The 4-bit header RCODE (the EDNS extended RCODE is in `DNSEDNS`).
    public var rcode: UInt8 { UInt8(flags & 0x000f) }
}

/// One question entry (RFC 1035 §4.1.2).
public struct DNSQuestion: Sendable, Hashable, Codable {
    /// Presentation-form name in the original case, without the trailing dot; the root is ".".
    public var name: String
    public var type: UInt16
    /// QCLASS, including the mDNS unicast-response bit if set.
    public var qclass: UInt16
    /// Offset of the question in the message.
    public var offset: Int

    public init(name: String, type: UInt16, qclass: UInt16, offset: Int) {
        self.name = name; self.type = type; self.qclass = qclass; self.offset = offset
    }
}

/// SOA rdata (RFC 1035 §3.3.13).
public struct DNSSOA: Sendable, Hashable, Codable {
    public var mname: String
    public var rname: String
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32
}

/// One EDNS(0) option (RFC 6891 §6.1.2).
public struct DNSEDNSOption: Sendable, Hashable, Codable {
    public var code: UInt16
    public var data: [UInt8]
}

/// The OPT pseudo-record's fields (RFC 6891 §6.1.3).
public struct DNSEDNS: Sendable, Hashable, Codable {
    /// Requestor's UDP payload size (the OPT CLASS field).
    public var udpPayloadSize: UInt16
    /// Upper 8 bits of the extended RCODE (TTL byte 0).
    public var extendedRCodeHigh: UInt8
    public var version: UInt8
    /// DO bit (RFC 3225).
    public var dnssecOK: Bool
    /// The 16 flag bits of the TTL field (DO included).
    public var flags: UInt16
    public var options: [DNSEDNSOption]
}

/// Decoded rdata. Names are presentation-form strings like `DNSQuestion.name`.
public enum DNSRData: Sendable, Hashable, Codable {
    /// IPv4 dotted quad.
    case a(String)
    /// IPv6 in RFC 5952 canonical text.
    case aaaa(String)
    case cname(String)
    case ns(String)
    case ptr(String)
    case mx(preference: UInt16, exchange: String)
    /// Character-strings, bytes kept exactly (RFC 1035 §3.3.14).
    case txt([[UInt8]])
    case soa(DNSSOA)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    case opt(DNSEDNS)
    /// Undecoded (other types, or a known type whose rdata did not parse).
    case raw([UInt8])

    /// A short one-line text form (addresses, names, `pref exchange`, …) for views and matching.
    public var text: String {
        switch self {
        case .a(let s), .aaaa(let s), .cname(let s), .ns(let s), .ptr(let s): return s
        case .mx(let p, let e): return "\(p) \(e)"
        case .txt(let strings):
            return strings.map { "\"" + DNSName.escapeText($0) + "\"" }.joined(separator: " ")
        case .soa(let s): return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case .srv(let p, let w, let port, let t): return "\(p) \(w) \(port) \(t)"
        case .opt(let e): return "udp=\(e.udpPayloadSize) version=\(e.version) do=\(e.dnssecOK) options=\(e.options.count)"
        case .raw(let b): return "\\# \(b.count) " + Hex.string(b)
        }
    }
}

/// Which section a record came from.
public enum DNSSection: String, Sendable, Hashable, Codable {
    case answer, authority, additional
}

/// A resource record (RFC 1035 §4.1.3).
public struct DNSResourceRecord: Sendable, Hashable, Codable {
    public var name: String
    public var type: UInt16
    /// CLASS (for OPT: the UDP payload size).
    public var rclass: UInt16
    /// TTL (for OPT: extended RCODE, version and flags).
    public var ttl: UInt32
    public var rdata: DNSRData
    public var section: DNSSection
    /// Offset of the record's owner name in the message.
    public var offset: Int
    /// Declared RDLENGTH.
    public var rdLength: Int
}

/// A DNS message as far as it parsed.
public struct DNSMessage: Sendable, Hashable, Codable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]
    /// The EDNS OPT pseudo-record of the additional section, if any (the first one when several).
    public var edns: DNSEDNS?
    /// Byte length of the parsed message.
    public var length: Int

    /// RCODE including the EDNS extension (RFC 6891 §6.1.3).
    public var extendedRCode: UInt16 {
        UInt16(edns?.extendedRCodeHigh ?? 0) << 4 | UInt16(header.rcode)
    }
}

/// The result of `DNSMessage.parse`: what parsed, what was odd, and whether every section was read.
public struct DNSParseResult: Sendable, Hashable, Codable {
    /// Nil only when not even the 12-byte header was present.
    public var message: DNSMessage?
    public var anomalies: [DNSAnomaly]
    /// True when the header counts were all satisfied (trailing bytes still allowed, with an anomaly).
    public var complete: Bool

    /// True when an anomaly with this name was recorded.
    public func has(_ name: String) -> Bool { anomalies.contains { $0.name == name } }
}
