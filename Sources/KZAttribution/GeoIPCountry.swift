import KZWire

/// Country lookups over legacy GeoIP country databases (IPv4 and/or IPv6 editions). Missing or unusable files give
/// one warning each in `warnings` and lookups answer nil ("unknown").
public struct GeoIPCountry: Sendable {
    public let databases: [GeoIPDatabase]
    public let warnings: [String]

    /// - Parameter paths: legacy `.dat` files (any mix of IPv4/IPv6 country editions); nil → the Debian
    ///   `geoip-database` files `/usr/share/GeoIP/GeoIP.dat` and `GeoIPv6.dat`.
    public init(paths: [String]? = nil) {
        var dbs: [GeoIPDatabase] = []
        var warnings: [String] = []
        for p in paths ?? [IPMetadataService.debianCountryV4, IPMetadataService.debianCountryV6] {
            do {
                let db = try GeoIPDatabase(path: p)
                if db.isCountry { dbs.append(db) } else {
                    warnings.append("GeoIP country database \(IPMetadataError.wrongEdition(p, db.edition)); countries will be unknown")
                }
            } catch {
                let hint = paths == nil ? " (install the Debian package geoip-database or pass --geoip FILE)" : ""
                warnings.append("GeoIP country database \(error)\(hint); countries for \(p.contains("v6") ? "IPv6" : "those") addresses will be unknown")
            }
        }
        databases = dbs
        self.warnings = warnings
    }

    /// ISO 3166 code, or nil when unknown.
    public func country(for a: IPAddress) -> String? {
        for db in databases where db.isV6 == a.isV6 {
            if let c = db.countryCode(a) { return c }
        }
        return nil
    }
}

/// AS lookups from a legacy GeoIP ASNum `.dat` (`--asn-db`) and/or an ip2asn TSV (`--asn-table`); the table wins
/// when both answer (it carries IPv6 and country). Missing sources give one warning each.
public struct ASNLookup: Sendable {
    public let databases: [GeoIPDatabase]
    public let table: ASNTable?
    public let warnings: [String]

    public init(asnDB: String? = nil, asnTable: String? = nil) {
        var warnings: [String] = []
        var dbs: [GeoIPDatabase] = []
        if let p = asnDB {
            do {
                let db = try GeoIPDatabase(path: p)
                if db.isASN { dbs.append(db) } else {
                    warnings.append("ASN database \(IPMetadataError.wrongEdition(p, db.edition)); AS numbers will be unknown")
                }
            } catch { warnings.append("ASN database \(error); AS numbers will be unknown") }
        }
        var table: ASNTable?
        if let p = asnTable {
            do { table = try ASNTable(path: p) } catch { warnings.append("ASN table \(error); AS numbers will be unknown") }
        }
        if asnDB == nil && asnTable == nil {
            warnings.append("no AS database given (--asn-db FILE or --asn-table FILE): AS numbers and names will be unknown")
        }
        databases = dbs
        self.table = table
        self.warnings = warnings
    }

    public func lookup(_ a: IPAddress) -> ASNRecord? {
        if let r = table?.lookup(a) { return r }
        for db in databases where db.isV6 == a.isV6 {
            if let s = db.asnString(a), let (n, name) = GeoIPDatabase.parseASNString(s) {
                return ASNRecord(asn: n, name: name)
            }
        }
        return nil
    }
}
