import Foundation
import KZWire

/// An AS number with what is known about it.
public struct ASNRecord: Sendable, Hashable, Codable {
    public var asn: UInt32
    public var name: String?
    public var country: String?
    public init(asn: UInt32, name: String? = nil, country: String? = nil) {
        self.asn = asn; self.name = name; self.country = country
    }
}

/// An inclusive address range (IPv4 or IPv6, both ends of one family).
public struct AddressRange: Sendable, Hashable {
    public var first: IPAddress
    public var last: IPAddress
    public init(first: IPAddress, last: IPAddress) { self.first = first; self.last = last }
    /// "10.0.0.0/8", "fc00::/7".
    public init?(cidr: String) {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let a = IPAddress(parts[0]), let len = Int(parts[1]) else { return nil }
        let bits = a.isV6 ? 128 : 32
        guard len >= 0, len <= bits else { return nil }
        if a.isV6 {
            func masks(_ l: Int) -> (UInt64, UInt64) {
                let hi: UInt64 = l >= 64 ? ~0 : (l == 0 ? 0 : ~0 << UInt64(64 - l))
                let lo: UInt64 = l <= 64 ? 0 : (l >= 128 ? ~0 : ~0 << UInt64(128 - l))
                return (hi, lo)
            }
            let (mh, ml) = masks(len)
            first = IPAddress(v6High: a.high & mh, low: a.low & ml)
            last = IPAddress(v6High: a.high | ~mh, low: a.low | ~ml)
        } else {
            let m: UInt32 = len == 0 ? 0 : ~0 << UInt32(32 - len)
            first = IPAddress(v4: a.v4Value & m)
            last = IPAddress(v4: a.v4Value | ~m)
        }
    }
    public func contains(_ a: IPAddress) -> Bool { a.isV6 == first.isV6 && first <= a && a <= last }
    /// Width for "most specific" comparisons (IPv6: the high word difference dominates).
    var span: (UInt64, UInt64) {
        let hi = last.high &- first.high
        let lo = last.low &- first.low
        return (last.low < first.low ? hi &- 1 : hi, lo)
    }
}

/// Ranges that never appear on the public Internet, labelled "private" or "bogon" (RFC 6890 registries).
public struct BogonTable: Sendable {
    public struct Entry: Sendable, Hashable {
        public var range: AddressRange
        /// "private" or "bogon".
        public var label: String
        public var note: String
        public init(range: AddressRange, label: String, note: String) {
            self.range = range; self.label = label; self.note = note
        }
    }
    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }

    /// Built-in table: RFC 1918, RFC 6598, loopback, link-local and ULA as "private"; the other special-purpose
    /// ranges (RFC 6890, RFC 5737, RFC 3849, multicast, reserved) as "bogon".
    public static let standard: BogonTable = {
        let rows: [(String, String, String)] = [
            ("0.0.0.0/8", "bogon", "RFC 1122 this network"),
            ("10.0.0.0/8", "private", "RFC 1918"),
            ("100.64.0.0/10", "private", "RFC 6598 shared (CGN)"),
            ("127.0.0.0/8", "private", "RFC 1122 loopback"),
            ("169.254.0.0/16", "private", "RFC 3927 link-local"),
            ("172.16.0.0/12", "private", "RFC 1918"),
            ("192.0.0.0/24", "bogon", "RFC 6890 IETF protocol assignments"),
            ("192.0.2.0/24", "bogon", "RFC 5737 documentation"),
            ("192.168.0.0/16", "private", "RFC 1918"),
            ("198.18.0.0/15", "bogon", "RFC 2544 benchmarking"),
            ("198.51.100.0/24", "bogon", "RFC 5737 documentation"),
            ("203.0.113.0/24", "bogon", "RFC 5737 documentation"),
            ("224.0.0.0/4", "bogon", "multicast"),
            ("240.0.0.0/4", "bogon", "RFC 1112 reserved"),
            ("::/128", "bogon", "RFC 4291 unspecified"),
            ("::1/128", "private", "RFC 4291 loopback"),
            ("100::/64", "bogon", "RFC 6666 discard-only"),
            ("2001:db8::/32", "bogon", "RFC 3849 documentation"),
            ("fc00::/7", "private", "RFC 4193 unique local"),
            ("fe80::/10", "private", "RFC 4291 link-local"),
            ("ff00::/8", "bogon", "multicast"),
        ]
        return BogonTable(entries: rows.compactMap { r in
            AddressRange(cidr: r.0).map { Entry(range: $0, label: r.1, note: r.2) }
        })
    }()

    /// The most specific entry containing `a`.
    public func match(_ a: IPAddress) -> Entry? {
        entries.filter { $0.range.contains(a) }.min { $0.range.span < $1.range.span }
    }
}

/// A prefix→AS table in the ip2asn TSV layout: `range_start  range_end  AS_number  country_code  AS_description`,
/// tab-separated, IPv4 and IPv6 rows mixed. AS 0 ("Not routed") rows mean no AS. Overlapping rows are allowed; the
/// narrowest range containing an address wins.
public struct ASNTable: Sendable {
    struct Row: Sendable { var range: AddressRange; var record: ASNRecord }
    var v4: [Row] = []
    var v6: [Row] = []
    var v4MaxLast: [IPAddress] = []
    var v6MaxLast: [IPAddress] = []
    public var count: Int { v4.count + v6.count }

    public init(path: String) throws(IPMetadataError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .notFound(path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        try self.init(text: String(decoding: data, as: UTF8.self), source: path)
    }

    public init(text: String, source: String = "ip2asn table") throws(IPMetadataError) {
        var lineNo = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let l = line.hasSuffix("\r") ? line.dropLast() : line
            if l.isEmpty || l.hasPrefix("#") { continue }
            let f = l.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false)
            guard f.count >= 3, let a = IPAddress(f[0]), let b = IPAddress(f[1]), a.isV6 == b.isV6, a <= b,
                  let asn = UInt32(f[2].trimmingSpaces()) else { throw .badTable(source, line: lineNo) }
            let cc = f.count > 3 ? f[3].trimmingSpaces() : ""
            let desc = f.count > 4 ? f[4].trimmingSpaces() : ""
            let row = Row(range: AddressRange(first: a, last: b),
                          record: ASNRecord(asn: asn, name: desc.isEmpty ? nil : desc,
                                            country: cc.isEmpty || cc == "None" ? nil : cc))
            if a.isV6 { v6.append(row) } else { v4.append(row) }
        }
        v4.sort { $0.range.first < $1.range.first }
        v6.sort { $0.range.first < $1.range.first }
        v4MaxLast = Self.prefixMax(v4)
        v6MaxLast = Self.prefixMax(v6)
    }

    static func prefixMax(_ rows: [Row]) -> [IPAddress] {
        var out: [IPAddress] = []
        out.reserveCapacity(rows.count)
        for r in rows { out.append(out.last.map { max($0, r.range.last) } ?? r.range.last) }
        return out
    }

    /// The AS of the narrowest range containing `a`; nil when none, or when that range is "Not routed" (AS 0).
    public func lookup(_ a: IPAddress) -> ASNRecord? {
        let rows = a.isV6 ? v6 : v4
        let maxLast = a.isV6 ? v6MaxLast : v4MaxLast
        // last row with first <= a
        var lo = 0, hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if rows[mid].range.first <= a { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        var best: Row?
        while i >= 0, maxLast[i] >= a {
            let r = rows[i]
            if r.range.contains(a), best.map({ r.range.span < $0.range.span }) ?? true { best = r }
            i -= 1
        }
        guard let b = best, b.record.asn != 0 else { return nil }
        return b.record
    }
}

/// What is known about one address for the report.
public struct IPMetadata: Sendable, Hashable, Codable {
    public var address: String
    public var country: String?
    public var asn: UInt32?
    public var asName: String?
    /// "private" or "bogon" for special-purpose ranges, else nil.
    public var rangeLabel: String?
    public var rangeNote: String?
    /// Name from the operator table (e.g. the Kazakh operators in Signatures/) when the AS is in it.
    public var operatorName: String?

    public init(address: String, country: String? = nil, asn: UInt32? = nil, asName: String? = nil,
                rangeLabel: String? = nil, rangeNote: String? = nil, operatorName: String? = nil) {
        self.address = address; self.country = country; self.asn = asn; self.asName = asName
        self.rangeLabel = rangeLabel; self.rangeNote = rangeNote; self.operatorName = operatorName
    }

    enum CodingKeys: String, CodingKey {
        case address, country, asn, asName = "as_name", rangeLabel = "range", rangeNote = "range_note",
             operatorName = "operator"
    }
}

/// Country and AS lookups with graceful degradation: every database that is missing or unreadable yields one warning
/// in `warnings` (nothing is printed) and its fields stay nil ("unknown").
public struct IPMetadataService: Sendable {
    public static let debianCountryV4 = "/usr/share/GeoIP/GeoIP.dat"
    public static let debianCountryV6 = "/usr/share/GeoIP/GeoIPv6.dat"

    public let country: GeoIPCountry
    public let asn: ASNLookup
    public let countryDatabases: [GeoIPDatabase]
    public let asnDatabases: [GeoIPDatabase]
    public let asnTable: ASNTable?
    public let bogons: BogonTable
    /// AS number → operator name (the Kazakh operator table from KZSignatures, passed in by the caller).
    public let operators: [UInt32: String]
    public let warnings: [String]

    /// - Parameters:
    ///   - geoip: legacy country `.dat` files (`--geoip`); nil → the Debian `geoip-database` files.
    ///   - asnDB: legacy GeoIP ASNum `.dat` (`--asn-db`).
    ///   - asnTable: ip2asn TSV (`--asn-table`).
    public init(geoip: [String]? = nil, asnDB: String? = nil, asnTable: String? = nil,
                bogons: BogonTable = .standard, operators: [UInt32: String] = [:])
    {
        let geo = GeoIPCountry(paths: geoip)
        let asns = ASNLookup(asnDB: asnDB, asnTable: asnTable)
        country = geo
        asn = asns
        countryDatabases = geo.databases
        asnDatabases = asns.databases
        self.asnTable = asns.table
        self.bogons = bogons
        self.operators = operators
        self.warnings = geo.warnings + asns.warnings
    }

    public func lookup(_ a: IPAddress) -> IPMetadata {
        var m = IPMetadata(address: a.description)
        if let b = bogons.match(a) {
            m.rangeLabel = b.label
            m.rangeNote = b.note
            return m
        }
        m.country = country.country(for: a)
        if let r = asn.lookup(a) {
            m.asn = r.asn
            m.asName = r.name
            if m.country == nil { m.country = r.country }
        }
        if let n = m.asn, let op = operators[n] {
            m.operatorName = op
            if m.asName == nil { m.asName = op }
        }
        return m
    }
}
