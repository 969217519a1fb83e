/// Who a signature attributes the blocking to. OONI's set (`ooni/blocking-fingerprints` `scripts/validate_csv.py`),
/// from Citizen Lab's filtering annotations.
public enum SignatureScope: String, CaseIterable, Hashable, Sendable, Comparable {
    /// ISP-level block page or device.
    case isp
    /// National-level (government-mandated, country-wide).
    case nat
    /// A middlebox or filtering product.
    case prod
    /// A voluntary institution (school, office, bank) or a test lab.
    case inst
    /// Known false positive: a match *suppresses* other block-page matches on the same response.
    case fp
    /// Vague blocking word: generic text that appears on many block pages.
    case vbw
    /// Injected notice that is not censorship (pay-your-bill, captive portal).
    case injb
    /// Provider-level (hosting or CDN) block.
    case prov

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Which file and matcher produced a `SignatureMatch`.
public enum SignatureKind: String, CaseIterable, Hashable, Sendable, Comparable {
    /// `http/blockpage-patterns.csv`.
    case blockPagePattern = "http.blockpage_pattern"
    /// `http/blockpage-sha256.csv`.
    case blockPageHash = "http.blockpage_sha256"
    /// `http/block-hosts.csv`.
    case blockHost = "http.block_host"
    /// `dns/poisoned-answers.csv`.
    case poisonedDNS = "dns.poisoned_answer"
    /// `tls/interception-cas.csv`.
    case interceptionCA = "tls.interception_ca"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// OONI `pattern_type`.
public enum PatternType: String, CaseIterable, Hashable, Sendable {
    /// The whole target equals the pattern (Python `==`).
    case full
    /// The target starts with the pattern (`startswith`).
    case prefix
    /// The target contains the pattern (`in`).
    case contains
    /// ICU regular expression, searched anywhere, `.` matching line breaks (Censored Planet uses `re.search(..., DOTALL)`).
    case regexp
}

/// Where a block-page pattern looks (OONI `location_found`, plus our `status`).
public enum PatternLocation: Hashable, Sendable, CustomStringConvertible {
    /// The HTTP entity body (after transfer and content decoding).
    case body
    /// The value of every header with this name; the name is stored lower-cased and compared case-insensitively
    /// (RFC 9110 §5.1).
    case header(String)
    /// The decimal status code (kzforensics extension; OONI has no such location).
    case status

    /// Parses `body`, `status` or `header.<name>` where `<name>` is an RFC 9110 token.
    public init?(_ text: String) {
        if text == "body" { self = .body; return }
        if text == "status" { self = .status; return }
        guard text.hasPrefix("header.") else { return nil }
        let name = String(text.dropFirst("header.".count))
        guard !name.isEmpty, name.utf8.allSatisfy(PatternLocation.isTokenByte) else { return nil }
        self = .header(name.lowercased())
    }

    public var description: String {
        switch self {
        case .body: "body"
        case .status: "status"
        case .header(let name): "header.\(name)"
        }
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}

/// What a `tls/interception-cas.csv` row compares.
public enum CAMatchOn: String, CaseIterable, Hashable, Sendable {
    /// Every `;`-separated `KEY=value` assertion of the pattern is an attribute of the issuer DN (order-free,
    /// case-insensitive; see `DistinguishedName`).
    case issuerDNContains = "issuer_dn_contains"
    /// The issuer's common name equals the pattern (case-insensitive, surrounding white space ignored).
    case issuerCN = "issuer_cn"
    /// SHA-256 of the DER certificate, 64 hex digits.
    case certSHA256 = "cert_sha256"
    /// SHA-256 of the DER SubjectPublicKeyInfo, 64 hex digits.
    case spkiSHA256 = "spki_sha256"
    /// SHA-1 of the DER certificate, 40 hex digits (OONI and crt.sh publish these).
    case certSHA1 = "cert_sha1"
}

/// How a block host is compared with a host name (`http/block-hosts.csv` column `match`).
public enum HostMatch: String, CaseIterable, Hashable, Sendable {
    /// The host equals the pattern.
    case exact
    /// The host equals the pattern or ends with `.` + pattern (whole labels only).
    case suffix
}
