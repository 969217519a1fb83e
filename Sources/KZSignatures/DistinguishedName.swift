/// A loose reader for printed X.509 distinguished names, enough to test attribute assertions without knowing which
/// tool printed the name. Accepted forms:
/// - RFC 4514 (`CN=Security Certificate,C=KZ`), with `\,` `\+` `\"` `\\` and `\XX` hex escapes and `+` for
///   multi-valued RDNs;
/// - OpenSSL one-line (`C = KZ, O = ISCA, CN = Information Security Certification Authority`);
/// - OpenSSL legacy slash form (`/C=KZ/CN=Qaznet Trust Network`).
/// Attribute types are upper-cased and common long names and OIDs are mapped to their short names (`commonName`,
/// `2.5.4.3` → `CN`). Values keep their case; comparisons are case-insensitive.
public struct DistinguishedName: Hashable, Sendable {
    public struct Attribute: Hashable, Sendable {
        public var type: String
        public var value: String
    }

    public var attributes: [Attribute]

    public init(parsing text: String) {
        let trimmed = text.trimmingASCIISpaces()
        let separators: Set<Character> = trimmed.hasPrefix("/") ? ["/"] : [",", "+", ";"]
        var parts: [String] = []
        var current = ""
        var escaped = false
        var quoted = false
        for ch in trimmed {
            if escaped {
                current.append("\\")
                current.append(ch)
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == "\"" {
                quoted.toggle()
                current.append(ch)
            } else if !quoted && separators.contains(ch) {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        if escaped { current.append("\\") }
        parts.append(current)

        attributes = parts.compactMap { part in
            guard let eq = part.firstIndex(of: "=") else { return nil }
            let type = DistinguishedName.shortType(String(part[..<eq]).trimmingASCIISpaces())
            var value = String(part[part.index(after: eq)...]).trimmingASCIISpaces()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            value = DistinguishedName.unescape(value)
            guard !type.isEmpty else { return nil }
            return Attribute(type: type, value: value)
        }
    }

    /// The first CN value, if any.
    public var commonName: String? { attributes.first { $0.type == "CN" }?.value }

    /// True when every assertion (`type`, `value`) appears among the attributes (case-insensitive on both).
    public func containsAll(_ assertions: [Attribute]) -> Bool {
        assertions.allSatisfy { want in
            attributes.contains {
                $0.type == want.type && $0.value.lowercased() == want.value.lowercased()
            }
        }
    }

    /// Like `containsAll`, for callers that lower-cased both sides already (the loader stores patterns lower-cased).
    func containsAllLowercased(_ assertions: [Attribute]) -> Bool {
        assertions.allSatisfy { want in attributes.contains { $0.type == want.type && $0.value == want.value } }
    }

    /// Parses a pattern `KEY=value;KEY=value` (the `issuer_dn_contains` syntax). Nil if any part lacks `=` or is
    /// empty on either side.
    public static func assertions(fromPattern pattern: String) -> [Attribute]? {
        var out: [Attribute] = []
        for part in pattern.split(separator: ";", omittingEmptySubsequences: false) {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            let type = shortType(String(part[..<eq]).trimmingASCIISpaces())
            let value = String(part[part.index(after: eq)...]).trimmingASCIISpaces()
            guard !type.isEmpty, !value.isEmpty else { return nil }
            out.append(Attribute(type: type, value: value))
        }
        return out.isEmpty ? nil : out
    }

    static func shortType(_ type: String) -> String {
        switch type.uppercased() {
        case "COMMONNAME", "2.5.4.3", "OID.2.5.4.3": "CN"
        case "COUNTRYNAME", "2.5.4.6", "OID.2.5.4.6": "C"
        case "ORGANIZATIONNAME", "2.5.4.10", "OID.2.5.4.10": "O"
        case "ORGANIZATIONALUNITNAME", "2.5.4.11", "OID.2.5.4.11": "OU"
        case "LOCALITYNAME", "2.5.4.7", "OID.2.5.4.7": "L"
        case "STATEORPROVINCENAME", "2.5.4.8", "OID.2.5.4.8": "ST"
        case "EMAILADDRESS", "1.2.840.113549.1.9.1": "EMAILADDRESS"
        default: type.uppercased()
        }
    }

    /// RFC 4514 §3 escapes: `\` followed by a special character, or by two hex digits (a UTF-8 byte).
    static func unescape(_ value: String) -> String {
        guard value.contains("\\") else { return value }
        var bytes: [UInt8] = []
        let utf8 = Array(value.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 1 < utf8.count {
                if i + 2 < utf8.count, IPAddressText.isHexDigit(utf8[i + 1]), IPAddressText.isHexDigit(utf8[i + 2]),
                   let b = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                    bytes.append(b)
                    i += 3
                    continue
                }
                bytes.append(utf8[i + 1])
                i += 2
                continue
            }
            bytes.append(utf8[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// Removes leading and trailing ASCII space and tab.
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
