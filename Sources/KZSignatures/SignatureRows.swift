/// Where a row was read from, so findings and errors can point at `file:line`.
public struct RowOrigin: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var description: String { "\(file):\(line)" }
}

/// A row of `http/blockpage-patterns.csv`: OONI `fingerprints_http.csv` columns in order, plus `rev`.
public struct BlockPagePatternRow: Hashable, Sendable {
    public var name: String
    public var scope: SignatureScope
    public var otherNames: [String]
    public var location: PatternLocation
    public var patternType: PatternType
    public var pattern: String
    public var confidenceNoFP: Int
    public var expectedCountries: [String]
    public var source: String
    public var expURL: String
    public var notes: String
    public var rev: Int
    public var origin: RowOrigin
}

/// A row of `http/blockpage-sha256.csv`.
public struct BlockPageHashRow: Hashable, Sendable {
    public var id: String
    public var rev: Int
    /// 64 lower-case hex digits.
    public var sha256: String
    public var normalization: BodyNormalization
    public var scope: SignatureScope
    public var expectedCountries: [String]
    public var source: String
    public var expURL: String
    public var notes: String
    public var origin: RowOrigin
}

/// A row of `http/block-hosts.csv`: a host that redirects (Location, meta refresh, iframe) point at when blocking.
public struct BlockHostRow: Hashable, Sendable {
    public var id: String
    public var rev: Int
    /// Lower-case host name without a trailing dot, or an IP literal.
    public var host: String
    public var match: HostMatch
    public var scope: SignatureScope
    /// ISO 3166-1 alpha-2, or empty when unknown.
    public var country: String
    public var source: String
    public var notes: String
    public var origin: RowOrigin
}

/// A row of `dns/poisoned-answers.csv`: OONI `fingerprints_dns.csv` columns in order, plus `rev`. The pattern is an
/// address (A/AAAA answer) or a name (CNAME target).
public struct PoisonedDNSRow: Hashable, Sendable {
    public var name: String
    public var scope: SignatureScope
    public var otherNames: [String]
    public var patternType: PatternType
    public var pattern: String
    public var confidenceNoFP: Int
    public var expectedCountries: [String]
    public var source: String
    public var expURL: String
    public var notes: String
    public var rev: Int
    public var origin: RowOrigin
    /// The pattern as an address when it is one (only meaningful for `full`).
    public var address: IPAddressValue?
}

/// A row of `tls/interception-cas.csv`.
public struct InterceptionCARow: Hashable, Sendable {
    public var id: String
    public var rev: Int
    public var matchOn: CAMatchOn
    /// As written; for hash rows the canonical lower-case hex is in `fingerprint`.
    public var pattern: String
    public var product: String
    public var scope: SignatureScope
    public var country: String
    public var source: String
    public var notes: String
    public var origin: RowOrigin
    /// Lower-case hex for hash rows.
    public var fingerprint: String?
    /// Parsed assertions for `issuer_dn_contains`, values lower-cased.
    public var assertions: [DistinguishedName.Attribute]
    /// The pattern trimmed and lower-cased, for `issuer_cn`.
    public var loweredCN: String
}

/// A row of `asn/kz-operators.csv`.
public struct OperatorRow: Hashable, Sendable {
    public var asn: UInt32
    /// The registry AS name (`KAZTELECOM-AS`); may be empty when no source gives one.
    public var name: String
    /// The legal operator (`JSC Kazakhtelecom`).
    public var `operator`: String
    /// Retail brand users know (`Megaline`, `Beeline`), or empty.
    public var brand: String
    public var country: String
    public var source: String
    public var notes: String
    public var origin: RowOrigin
}

/// A row of `asn/bogons.csv`.
public struct BogonRow: Hashable, Sendable {
    public var prefix: IPPrefix
    /// Short label (`private`, `shared-cgnat`, `documentation`, …).
    public var label: String
    public var source: String
    public var origin: RowOrigin
}

/// A row of `ttl/initial-ttls.csv`.
public struct InitialTTLRow: Hashable, Sendable {
    public var ttl: UInt8
    public var osFamilies: String
    public var source: String
    public var notes: String
    public var origin: RowOrigin
}
