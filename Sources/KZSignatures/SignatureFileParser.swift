import Foundation

/// Rows parsed and validated from one directory, before they are merged.
struct LoadedDirectory {
    var patterns: [BlockPagePatternRow] = []
    var hashes: [BlockPageHashRow] = []
    var hosts: [BlockHostRow] = []
    var dns: [PoisonedDNSRow] = []
    var cas: [InterceptionCARow] = []
    var operators: [OperatorRow] = []
    var bogons: [BogonRow] = []
    var ttls: [InitialTTLRow] = []
    var regexps: [String: CompiledRegex] = [:]

    /// Header of OONI's `fingerprints_http.csv` / `fingerprints_dns.csv`, in order, plus `rev`.
    static let ooniHeader = ["name", "scope", "other_names", "location_found", "pattern_type", "pattern",
                             "confidence_no_fp", "expected_countries", "source", "exp_url", "notes", "rev"]
    static let headers: [String: [String]] = [
        "http/blockpage-patterns.csv": ooniHeader,
        "dns/poisoned-answers.csv": ooniHeader,
        "http/blockpage-sha256.csv": ["id", "rev", "sha256", "normalization", "scope", "expected_countries", "source",
                                      "exp_url", "notes"],
        "http/block-hosts.csv": ["id", "rev", "host", "match", "scope", "country", "source", "notes"],
        "tls/interception-cas.csv": ["id", "rev", "match_on", "pattern", "product", "scope", "country", "source",
                                     "notes"],
        "asn/kz-operators.csv": ["asn", "name", "operator", "brand", "country", "source", "notes"],
        "asn/bogons.csv": ["prefix", "label", "source"],
        "ttl/initial-ttls.csv": ["ttl", "os_families", "source", "notes"],
    ]

    /// Every id with its kind and origin, for the cross-kind check.
    var idsWithKinds: [(String, SignatureKind, RowOrigin)] {
        patterns.map { ($0.name, .blockPagePattern, $0.origin) } + hashes.map { ($0.id, .blockPageHash, $0.origin) }
            + hosts.map { ($0.id, .blockHost, $0.origin) } + dns.map { ($0.name, .poisonedDNS, $0.origin) }
            + cas.map { ($0.id, .interceptionCA, $0.origin) }
    }

    /// Ids are unique across all id-bearing files of one directory (findings cite `id@rev` without the file).
    func checkUniqueIDs() throws(SignatureLoadError) {
        var seen: [String: RowOrigin] = [:]
        for (id, _, origin) in idsWithKinds.sorted(by: { ($0.2.file, $0.2.line) < ($1.2.file, $1.2.line) }) {
            if let first = seen[id] {
                throw SignatureLoadError(.duplicateID, file: origin.file, line: origin.line,
                                         "duplicate id '\(id)' (first defined at \(first))")
            }
            seen[id] = origin
        }
    }

    mutating func parse(relative: String, path: String, records: [CSVRecord]) throws(SignatureLoadError) {
        guard let header = Self.headers[relative] else { return }
        guard let first = records.first else {
            throw SignatureLoadError(.badHeader, file: path, line: 1, "empty file: expected header \(header.joined(separator: ","))")
        }
        guard first.fields == header else {
            throw SignatureLoadError(.badHeader, file: path, line: first.line,
                                     "header is '\(first.fields.joined(separator: ","))', expected '\(header.joined(separator: ","))'")
        }
        var seenKeys: [String: Int] = [:]
        for record in records.dropFirst() {
            guard record.fields.count == header.count else {
                throw SignatureLoadError(.columnCount, file: path, line: record.line,
                                         "\(record.fields.count) fields, expected \(header.count)")
            }
            var row = FieldReader(header: header, record: record, file: path)
            let key: String
            switch relative {
            case "http/blockpage-patterns.csv":
                let r = try parsePattern(&row)
                key = r.name
                patterns.append(r)
            case "dns/poisoned-answers.csv":
                let r = try parseDNS(&row)
                key = r.name
                dns.append(r)
            case "http/blockpage-sha256.csv":
                let r = try parseHash(&row)
                key = r.id
                hashes.append(r)
            case "http/block-hosts.csv":
                let r = try parseHost(&row)
                key = r.id
                hosts.append(r)
            case "tls/interception-cas.csv":
                let r = try parseCA(&row)
                key = r.id
                cas.append(r)
            case "asn/kz-operators.csv":
                let r = try parseOperator(&row)
                key = String(r.asn)
                operators.append(r)
            case "asn/bogons.csv":
                let r = try parseBogon(&row)
                let k = BogonKey(r.prefix)
                key = "\(k.v4) \(k.high) \(k.low) \(k.length)"
                bogons.append(r)
            case "ttl/initial-ttls.csv":
                let r = try parseTTL(&row)
                key = String(r.ttl)
                ttls.append(r)
            default:
                return
            }
            if let firstLine = seenKeys[key] {
                throw SignatureLoadError(.duplicateID, file: path, line: record.line,
                                         "duplicate key '\(row.keyDescription)' (first at line \(firstLine))")
            }
            seenKeys[key] = record.line
        }
    }

    // MARK: Row parsers

    mutating func parsePattern(_ f: inout FieldReader) throws(SignatureLoadError) -> BlockPagePatternRow {
        let name = try f.id("name")
        let locationText = try f.nonEmpty("location_found")
        guard let location = PatternLocation(locationText) else {
            throw f.error(.invalidField, "location_found '\(locationText)' is not body, status or header.<name>")
        }
        let type = try f.patternType()
        let pattern = try f.nonEmpty("pattern")
        if type == .regexp { regexps[name] = try f.regex(pattern) }
        if location == .status, type != .regexp {
            // A status pattern is compared with the decimal code; a non-digit pattern could never match.
            guard pattern.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw f.error(.invalidField, "status pattern '\(pattern)' must be decimal digits")
            }
        }
        return BlockPagePatternRow(
            name: name, scope: try f.scope(), otherNames: f.list("other_names"), location: location,
            patternType: type, pattern: pattern, confidenceNoFP: try f.nonNegativeInt("confidence_no_fp"),
            expectedCountries: try f.countries("expected_countries"), source: try f.nonEmpty("source"),
            expURL: f["exp_url"], notes: f["notes"], rev: try f.rev(), origin: f.origin)
    }

    mutating func parseDNS(_ f: inout FieldReader) throws(SignatureLoadError) -> PoisonedDNSRow {
        let name = try f.id("name")
        let location = try f.nonEmpty("location_found")
        guard location == "dns" else { throw f.error(.invalidField, "location_found must be 'dns', got '\(location)'") }
        let type = try f.patternType()
        var pattern = try f.nonEmpty("pattern")
        var address: IPAddressValue?
        if type == .regexp {
            regexps["dns:" + name] = try f.regex(pattern)
        } else {
            address = IPAddressValue(pattern)
            if address == nil { pattern = DNSName.normalize(pattern) }
        }
        return PoisonedDNSRow(
            name: name, scope: try f.scope(), otherNames: f.list("other_names"), patternType: type, pattern: pattern,
            confidenceNoFP: try f.nonNegativeInt("confidence_no_fp"),
            expectedCountries: try f.countries("expected_countries"), source: try f.nonEmpty("source"),
            expURL: f["exp_url"], notes: f["notes"], rev: try f.rev(), origin: f.origin, address: address)
    }

    func parseHash(_ f: inout FieldReader) throws(SignatureLoadError) -> BlockPageHashRow {
        let id = try f.id("id")
        let sha = try f.nonEmpty("sha256")
        guard Hex.isHex(sha, count: 64) else { throw f.error(.invalidField, "sha256 must be 64 hex digits, got '\(sha)'") }
        let normText = try f.nonEmpty("normalization")
        guard let norm = BodyNormalization(rawValue: normText) else {
            throw f.error(.invalidField, "unknown normalization '\(normText)' (known: \(BodyNormalization.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return BlockPageHashRow(
            id: id, rev: try f.rev(), sha256: sha.lowercased(), normalization: norm, scope: try f.scope(),
            expectedCountries: try f.countries("expected_countries"), source: try f.nonEmpty("source"),
            expURL: f["exp_url"], notes: f["notes"], origin: f.origin)
    }

    func parseHost(_ f: inout FieldReader) throws(SignatureLoadError) -> BlockHostRow {
        let id = try f.id("id")
        let hostText = try f.nonEmpty("host")
        let matchText = try f.nonEmpty("match")
        guard let match = HostMatch(rawValue: matchText) else {
            throw f.error(.invalidField, "match must be exact or suffix, got '\(matchText)'")
        }
        let host: String
        if let ip = IPAddressValue(hostText) {
            guard match == .exact else { throw f.error(.invalidField, "an IP host '\(hostText)' needs match=exact") }
            host = BlockHostRow.canonicalIP(ip)
        } else {
            host = DNSName.normalize(hostText)
            guard DNSName.isPlausibleHostName(host) else {
                throw f.error(.invalidField, "host '\(hostText)' is not a host name or IP address")
            }
        }
        return BlockHostRow(
            id: id, rev: try f.rev(), host: host, match: match, scope: try f.scope(),
            country: try f.country("country"), source: try f.nonEmpty("source"), notes: f["notes"], origin: f.origin)
    }

    func parseCA(_ f: inout FieldReader) throws(SignatureLoadError) -> InterceptionCARow {
        let id = try f.id("id")
        let onText = try f.nonEmpty("match_on")
        guard let on = CAMatchOn(rawValue: onText) else {
            throw f.error(.invalidField, "unknown match_on '\(onText)' (known: \(CAMatchOn.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let pattern = try f.nonEmpty("pattern")
        var fingerprint: String?
        var assertions: [DistinguishedName.Attribute] = []
        switch on {
        case .certSHA256, .spkiSHA256:
            guard Hex.isHex(pattern, count: 64) else {
                throw f.error(.invalidField, "\(on.rawValue) must be 64 hex digits, got '\(pattern)'")
            }
            fingerprint = pattern.lowercased()
        case .certSHA1:
            guard Hex.isHex(pattern, count: 40) else {
                throw f.error(.invalidField, "cert_sha1 must be 40 hex digits, got '\(pattern)'")
            }
            fingerprint = pattern.lowercased()
        case .issuerDNContains:
            guard let a = DistinguishedName.assertions(fromPattern: pattern) else {
                throw f.error(.invalidField, "issuer_dn_contains pattern must be KEY=value;KEY=value, got '\(pattern)'")
            }
            assertions = a.map { DistinguishedName.Attribute(type: $0.type, value: $0.value.lowercased()) }
        case .issuerCN:
            break
        }
        return InterceptionCARow(
            id: id, rev: try f.rev(), matchOn: on, pattern: pattern, product: try f.nonEmpty("product"),
            scope: try f.scope(), country: try f.country("country"), source: try f.nonEmpty("source"),
            notes: f["notes"], origin: f.origin, fingerprint: fingerprint, assertions: assertions,
            loweredCN: pattern.trimmingASCIISpaces().lowercased())
    }

    func parseOperator(_ f: inout FieldReader) throws(SignatureLoadError) -> OperatorRow {
        let asnText = try f.nonEmpty("asn")
        var digits = Substring(asnText)
        if digits.uppercased().hasPrefix("AS") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let asn = UInt32(digits), asn > 0 else {
            throw f.error(.invalidField, "asn must be a number 1–4294967295 (optionally AS-prefixed), got '\(asnText)'")
        }
        f.keyDescription = "AS\(asn)"
        return OperatorRow(
            asn: asn, name: f["name"], operator: try f.nonEmpty("operator"), brand: f["brand"],
            country: try f.country("country"), source: try f.nonEmpty("source"), notes: f["notes"], origin: f.origin)
    }

    func parseBogon(_ f: inout FieldReader) throws(SignatureLoadError) -> BogonRow {
        let text = try f.nonEmpty("prefix")
        let prefix: IPPrefix
        do {
            prefix = try IPPrefix(parsing: text)
        } catch {
            switch error {
            case .syntax: throw f.error(.invalidField, "prefix '\(text)' is not CIDR notation")
            case .lengthOutOfRange: throw f.error(.invalidField, "prefix length out of range in '\(text)'")
            case .hostBitsSet: throw f.error(.invalidField, "prefix '\(text)' has host bits set")
            }
        }
        f.keyDescription = text
        return BogonRow(prefix: prefix, label: try f.nonEmpty("label"), source: try f.nonEmpty("source"),
                        origin: f.origin)
    }

    func parseTTL(_ f: inout FieldReader) throws(SignatureLoadError) -> InitialTTLRow {
        let text = try f.nonEmpty("ttl")
        guard let ttl = UInt8(text), ttl > 0 else { throw f.error(.invalidField, "ttl must be 1–255, got '\(text)'") }
        f.keyDescription = text
        return InitialTTLRow(ttl: ttl, osFamilies: try f.nonEmpty("os_families"), source: try f.nonEmpty("source"),
                             notes: f["notes"], origin: f.origin)
    }
}

/// Field access by column name, with validation helpers that throw `file:line` errors.
struct FieldReader {
    let header: [String]
    let record: CSVRecord
    let file: String
    var keyDescription = ""

    init(header: [String], record: CSVRecord, file: String) {
        self.header = header
        self.record = record
        self.file = file
    }

    var origin: RowOrigin { RowOrigin(file: file, line: record.line) }

    subscript(_ column: String) -> String {
        guard let i = header.firstIndex(of: column) else { return "" }
        return record.fields[i]
    }

    func error(_ code: SignatureLoadError.Code, _ message: String) -> SignatureLoadError {
        SignatureLoadError(code, file: file, line: record.line, message)
    }

    func nonEmpty(_ column: String) throws(SignatureLoadError) -> String {
        let v = self[column]
        guard !v.trimmingASCIISpaces().isEmpty else { throw error(.emptyField, "\(column) is empty") }
        return v
    }

    /// Ids: letters, digits, `.`, `_`, `-`; must not be empty.
    mutating func id(_ column: String) throws(SignatureLoadError) -> String {
        let v = try nonEmpty(column)
        guard v.utf8.allSatisfy({
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }) else {
            throw error(.invalidField, "\(column) '\(v)' may contain only letters, digits, '.', '_' and '-'")
        }
        keyDescription = v
        return v
    }

    func rev() throws(SignatureLoadError) -> Int {
        let v = try nonEmpty("rev")
        guard v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(v), n >= 1 else {
            throw error(.invalidField, "rev must be a positive integer, got '\(v)'")
        }
        return n
    }

    func scope() throws(SignatureLoadError) -> SignatureScope {
        let v = try nonEmpty("scope")
        guard let s = SignatureScope(rawValue: v) else {
            throw error(.invalidField, "unknown scope '\(v)' (known: \(SignatureScope.allCases.map(\.rawValue).joined(separator: " ")))")
        }
        return s
    }

    func patternType() throws(SignatureLoadError) -> PatternType {
        let v = try nonEmpty("pattern_type")
        guard let t = PatternType(rawValue: v) else {
            throw error(.invalidField, "pattern_type must be full, prefix, contains or regexp, got '\(v)'")
        }
        return t
    }

    func nonNegativeInt(_ column: String) throws(SignatureLoadError) -> Int {
        let v = try nonEmpty(column)
        guard v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(v) else {
            throw error(.invalidField, "\(column) must be a non-negative integer, got '\(v)'")
        }
        return n
    }

    /// Comma-separated list, entries trimmed, empties dropped.
    func list(_ column: String) -> [String] {
        self[column].split(separator: ",").map { String($0).trimmingASCIISpaces() }.filter { !$0.isEmpty }
    }

    /// OONI rules: no spaces around the value, no empty entries, each an ISO code or ZZ.
    func countries(_ column: String) throws(SignatureLoadError) -> [String] {
        let v = self[column]
        if v.isEmpty { return [] }
        guard v == v.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw error(.invalidField, "spaces or newlines around \(column)")
        }
        let parts = v.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for p in parts {
            guard !p.isEmpty else { throw error(.invalidField, "spurious comma in \(column) '\(v)'") }
            guard CountryCodes.isValid(p) else { throw error(.invalidField, "unknown country code '\(p)' in \(column)") }
        }
        return parts
    }

    /// A single ISO code or empty.
    func country(_ column: String) throws(SignatureLoadError) -> String {
        let v = self[column]
        if v.isEmpty { return "" }
        guard CountryCodes.isValid(v) else { throw error(.invalidField, "unknown country code '\(v)' in \(column)") }
        return v
    }

    func regex(_ pattern: String) throws(SignatureLoadError) -> CompiledRegex {
        do {
            return CompiledRegex(try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]))
        } catch {
            throw self.error(.badRegexp, "regexp does not compile: \(pattern)")
        }
    }
}

/// DNS name helpers.
enum DNSName {
    /// Lower-cases ASCII and removes one trailing dot.
    static func normalize(_ name: String) -> String {
        var s = name.trimmingASCIISpaces().lowercased()
        if s.hasSuffix(".") && s.count > 1 { s.removeLast() }
        return s
    }

    /// Letters, digits, `-`, `_`, `.`; no empty labels.
    static func isPlausibleHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            }
        }
    }
}

extension BlockHostRow {
    /// Canonical text for an IP host: dotted quad, or 8 lower-case hex groups joined by `:` (not RFC 5952 — only used
    /// as a comparison key).
    static func canonicalIP(_ ip: IPAddressValue) -> String {
        switch ip {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .v6(let h, let l):
            var groups: [String] = []
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(String((h >> UInt64(shift)) & 0xffff, radix: 16)) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(String((l >> UInt64(shift)) & 0xffff, radix: 16)) }
            return groups.joined(separator: ":")
        }
    }
}
