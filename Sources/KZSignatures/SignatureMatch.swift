/// One signature that matched. Findings cite it as `citation` (`id@rev`).
public struct SignatureMatch: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Row id (`name` column for OONI-layout files).
    public var id: String
    public var rev: Int
    public var kind: SignatureKind
    /// What matched: `body`, `header.location`, `status`, `body.sha256[ws-collapse-lower]`, `host`, `dns`,
    /// `issuer_dn`, `issuer_cn`, `cert_sha256`, `cert_sha1`, `spki_sha256`.
    public var location: String
    /// The row's pattern as written in the file.
    public var pattern: String
    public var source: String
    public var scope: SignatureScope
    /// `expected_countries` or `country`, split on commas; empty when unknown.
    public var countries: [String]
    public var notes: String
    /// Where the row was loaded from (built-in or a user directory).
    public var origin: RowOrigin

    public init(id: String, rev: Int, kind: SignatureKind, location: String, pattern: String, source: String,
                scope: SignatureScope, countries: [String], notes: String, origin: RowOrigin) {
        self.id = id
        self.rev = rev
        self.kind = kind
        self.location = location
        self.pattern = pattern
        self.source = source
        self.scope = scope
        self.countries = countries
        self.notes = notes
        self.origin = origin
    }

    /// `id@rev`, the form findings cite.
    public var citation: String { "\(id)@\(rev)" }

    /// True for `fp` rows: such a match means the response is a known non-censorship page, and other block-page
    /// matches on the same response should be discounted.
    public var isFalsePositiveMarker: Bool { scope == .fp }

    public var description: String { "\(citation) \(kind.rawValue) \(location)" }

    /// Deterministic order: kind, then id, then location.
    public static func < (a: Self, b: Self) -> Bool {
        (a.kind, a.id, a.location) < (b.kind, b.id, b.location)
    }
}
