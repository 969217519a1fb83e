import Foundation

extension SignatureDatabase {
    // MARK: - HTTP block pages

    /// Matches one HTTP response against `http/blockpage-patterns.csv` and `http/blockpage-sha256.csv`.
    ///
    /// - Parameters:
    ///   - body: the entity body after transfer decoding (chunked) and content decoding (gzip/deflate). Patterns
    ///     `full`/`prefix`/`contains` compare UTF-8 bytes exactly (case-sensitive, as OONI does); `regexp` runs on the
    ///     body decoded as UTF-8 with invalid sequences replaced by U+FFFD, `.` matching line breaks.
    ///   - headers: header fields in wire order; names compare case-insensitively, values are compared after removing
    ///     surrounding SP/HTAB (RFC 9110 §5.5). A header pattern matches if any header of that name matches.
    ///   - status: the status code, for `location_found=status` rows; nil skips them.
    ///   - bodySHA256: the SHA-256 (lowercase hex) of the whole body, when the caller has it already (the HTTP parser
    ///     hashes every body it decodes completely); saves hashing the body again for the un-normalised hash rows.
    ///   - bodyIsPrefix: `body` is only the first part of a longer body (a parser's capture cap). Hash rows describe
    ///     whole bodies, so the prefix is not hashed: un-normalised rows compare `bodySHA256` (the whole body's digest)
    ///     when given, normalised rows cannot be checked (their bodies are a few KiB, far under the caps).
    /// - Returns: every matching row, sorted (kind, id, location). Rows of scope `fp` are included: a detector should
    ///   treat their presence as "known non-censorship page" (see `SignatureMatch.isFalsePositiveMarker`).
    public func matchBlockPage(body: [UInt8], headers: [(name: String, value: String)], status: Int?,
                               bodySHA256: String? = nil, bodyIsPrefix: Bool = false) -> [SignatureMatch] {
        var out: [SignatureMatch] = []
        var bodyText: NSString?

        // Rows are read in place (a row is a dozen strings; copying each per response retained them all), and copied
        // only into a match.
        for index in blockPagePatterns.indices {
            let matched: Bool
            switch blockPagePatterns[index].location {
            case .body:
                if blockPagePatterns[index].patternType == .regexp {
                    // Most bodies lack the expression's leading literal: skip the UTF-16 bridge and ICU for them.
                    if let lit = patternRegexps[index]?.requiredNeedle, !ByteSearch.contains(body, lit) {
                        matched = false
                    } else {
                        let text = bodyText ?? NSString(string: String(decoding: body, as: UTF8.self))
                        bodyText = text
                        matched = patternRegexps[index]?.matches(text) ?? false
                    }
                } else {
                    matched = Self.bytesMatch(body, pattern: patternNeedles[index],
                                              type: blockPagePatterns[index].patternType)
                }
            case .header(let name):
                // Names compare without lower-cased copies; only the values of matching names are trimmed.
                matched = headers.contains { header in
                    Self.equalsIgnoringASCIICase(header.name, lowercased: name)
                        && textMatches(header.value.trimmingASCIISpaces(), index: index)
                }
            case .status:
                guard let status else { continue }
                matched = textMatches(String(status), index: index)
            }
            if matched {
                let row = blockPagePatterns[index]
                out.append(SignatureMatch(
                    id: row.name, rev: row.rev, kind: .blockPagePattern, location: row.location.description,
                    pattern: row.pattern, source: row.source, scope: row.scope, countries: row.expectedCountries,
                    notes: row.notes, origin: row.origin))
            }
        }

        for (normalization, table) in hashesByNormalization {
            let digest: String
            if normalization == .none, let whole = bodySHA256 {
                digest = whole
            } else if bodyIsPrefix {
                continue
            } else {
                digest = BodyDigest.sha256Hex(body, normalized: normalization)
            }
            for row in table[digest] ?? [] {
                out.append(SignatureMatch(
                    id: row.id, rev: row.rev, kind: .blockPageHash, location: "body.sha256[\(normalization.rawValue)]",
                    pattern: row.sha256, source: row.source, scope: row.scope, countries: row.expectedCountries,
                    notes: row.notes, origin: row.origin))
            }
        }
        return out.sorted()
    }

    /// `a.lowercased() == lower` for a lower-case `lower`, without the copy.
    static func equalsIgnoringASCIICase(_ a: String, lowercased lower: String) -> Bool {
        guard a.utf8.count == lower.utf8.count else { return false }
        return zip(a.utf8, lower.utf8).allSatisfy { x, y in (x >= 0x41 && x <= 0x5A ? x | 0x20 : x) == y }
    }

    private func textMatches(_ value: String, index: Int) -> Bool {
        let type = blockPagePatterns[index].patternType
        if type == .regexp { return patternRegexps[index]?.matches(value) ?? false }
        return Self.bytesMatch(Array(value.utf8), pattern: patternNeedles[index], type: type)
    }

    /// `full`, `prefix` or `contains` on bytes (`regexp` is handled by the caller and returns false here).
    static func bytesMatch(_ target: [UInt8], pattern: ByteNeedle, type: PatternType) -> Bool {
        switch type {
        case .full: return target == pattern.bytes
        case .prefix: return target.starts(with: pattern.bytes)
        case .contains: return ByteSearch.contains(target, pattern)
        case .regexp: return false
        }
    }

    // MARK: - Block hosts

    /// Matches a host (from a `Location` header, meta refresh or iframe URL) against `http/block-hosts.csv`.
    /// The host is compared lower-cased without a trailing dot; IP literals (IPv6 with or without brackets) compare by
    /// value. A port is not accepted here: use `SignatureDatabase.host(fromURL:)` to extract the host first.
    /// Returns the first match by id, or nil.
    public func matchBlockHost(_ host: String) -> SignatureMatch? {
        let key: String
        if let ip = IPAddressValue(host) {
            key = BlockHostRow.canonicalIP(ip)
        } else {
            key = DNSName.normalize(host)
        }
        guard !key.isEmpty else { return nil }
        for row in blockHosts {
            let hit = switch row.match {
            case .exact: key == row.host
            case .suffix: key == row.host || key.hasSuffix("." + row.host)
            }
            if hit {
                return SignatureMatch(
                    id: row.id, rev: row.rev, kind: .blockHost, location: "host", pattern: row.host,
                    source: row.source, scope: row.scope, countries: row.country.isEmpty ? [] : [row.country],
                    notes: row.notes, origin: row.origin)
            }
        }
        return nil
    }

    /// The host of an absolute URL (`http://user@Host.Example:8080/x` → `host.example`, `http://[2001:db8::1]/` →
    /// `2001:db8::1`), or of a scheme-relative one (`//host/path`). Nil for relative references and malformed input.
    public static func host(fromURL url: String) -> String? {
        var rest = Substring(url.trimmingASCIISpaces())
        if let schemeEnd = rest.range(of: "://") {
            let scheme = rest[rest.startIndex..<schemeEnd.lowerBound]
            guard !scheme.isEmpty, scheme.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else { return nil }
            rest = rest[schemeEnd.upperBound...]
        } else if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
        } else {
            return nil
        }
        // authority ends at the first / ? #
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") { hostPort = authority[authority.index(after: at)...] }
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            let inner = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            return inner.isEmpty ? nil : String(inner).lowercased()
        }
        let host = hostPort.prefix { $0 != ":" }
        return host.isEmpty ? nil : DNSName.normalize(String(host))
    }

    // MARK: - DNS

    /// Matches one DNS answer (an A/AAAA address in text form, or a CNAME target name) against
    /// `dns/poisoned-answers.csv`. Addresses compare by value (so `::ffff:a` spellings and IPv6 zero compression do
    /// not matter); names compare lower-cased without a trailing dot. Returns the first match by id, or nil.
    public func matchPoisonedDNS(address: String) -> SignatureMatch? {
        // The first matching row in id order: the address table gives the first `full` row of an address; only rows
        // before it that match on text remain to be tried (none, for an address, when every row is a `full` one).
        let ip = IPAddressValue(address)
        var first = ip.flatMap { poisonedByAddress[$0] } ?? Int.max
        let textRows = ip == nil ? poisonedNameRows : poisonedTextRows
        if let lowest = textRows.first, lowest < first {
            let name = DNSName.normalize(address)
            for i in textRows {
                guard i < first else { break }
                let row = poisonedDNS[i]
                let hit: Bool
                switch row.patternType {
                case .full: hit = name == row.pattern
                case .prefix: hit = name.hasPrefix(row.pattern)
                case .contains: hit = name.contains(row.pattern)
                case .regexp: hit = compiledRegexps["dns:" + row.name]?.matches(name) ?? false
                }
                if hit { first = i; break }
            }
        }
        guard first < poisonedDNS.count else { return nil }
        let row = poisonedDNS[first]
        return SignatureMatch(
            id: row.name, rev: row.rev, kind: .poisonedDNS, location: "dns", pattern: row.pattern,
            source: row.source, scope: row.scope, countries: row.expectedCountries, notes: row.notes,
            origin: row.origin)
    }

    // MARK: - TLS

    /// Matches one certificate against `tls/interception-cas.csv`.
    ///
    /// - Parameters:
    ///   - issuerDN: the issuer distinguished name as printed by any common tool (see `DistinguishedName`).
    ///   - issuerCN: the issuer CN if the caller has it decoded; when nil it is taken from `issuerDN`.
    ///   - certSHA256, certSHA1, spkiSHA256: fingerprints of *this* certificate, hex in any case, `:` separators
    ///     allowed; nil when unknown.
    /// - Returns: every matching row, sorted by id. Call it for each certificate of the chain: a leaf forged by the
    ///   Kazakh intermediates matches on its issuer; the intermediates and roots match on their own fingerprints.
    public func matchInterceptionCA(issuerDN: String, issuerCN: String?, certSHA256: String?, certSHA1: String?,
                                    spkiSHA256: String?) -> [SignatureMatch] {
        var dn = DistinguishedName(parsing: issuerDN)
        for i in dn.attributes.indices { dn.attributes[i].value = dn.attributes[i].value.lowercased() }
        let cn = (issuerCN ?? dn.commonName)?.trimmingASCIISpaces().lowercased()
        let sha256 = certSHA256.flatMap(Hex.canonicalFingerprint)
        let sha1 = certSHA1.flatMap(Hex.canonicalFingerprint)
        let spki = spkiSHA256.flatMap(Hex.canonicalFingerprint)
        var out: [SignatureMatch] = []
        for row in interceptionCAs {
            let location: String?
            switch row.matchOn {
            case .issuerDNContains:
                location = !row.assertions.isEmpty && dn.containsAllLowercased(row.assertions) ? "issuer_dn" : nil
            case .issuerCN:
                location = cn != nil && cn == row.loweredCN ? "issuer_cn" : nil
            case .certSHA256:
                location = sha256 != nil && sha256 == row.fingerprint ? "cert_sha256" : nil
            case .certSHA1:
                location = sha1 != nil && sha1 == row.fingerprint ? "cert_sha1" : nil
            case .spkiSHA256:
                location = spki != nil && spki == row.fingerprint ? "spki_sha256" : nil
            }
            if let location {
                out.append(SignatureMatch(
                    id: row.id, rev: row.rev, kind: .interceptionCA, location: location, pattern: row.pattern,
                    source: row.source, scope: row.scope, countries: row.country.isEmpty ? [] : [row.country],
                    notes: row.notes, origin: row.origin))
            }
        }
        return out.sorted()
    }

    // MARK: - AS, bogons, TTL

    /// The Kazakh operator row for an AS number, or nil when the AS is not in `asn/kz-operators.csv`.
    public func operatorForASN(_ asn: UInt32) -> OperatorRow? { operatorsByASN[asn] }

    /// The most specific (longest-prefix) bogon row containing the IPv4 address (host byte order value of the
    /// dotted quad), or nil.
    public func bogon(forIPv4 address: UInt32) -> BogonRow? {
        for entry in bogonV4Table where address & entry.mask == entry.network {
            return bogonsV4ByLength[entry.index]
        }
        return nil
    }

    /// The most specific bogon row containing the IPv6 address given as (high 64 bits, low 64 bits), or nil.
    public func bogon(forIPv6 address: (UInt64, UInt64)) -> BogonRow? {
        for e in bogonV6Table where address.0 & e.maskHigh == e.high && address.1 & e.maskLow == e.low {
            return bogonsV6ByLength[e.index]
        }
        return nil
    }

    /// Label of the longest matching IPv4 bogon prefix (`private`, `shared-cgnat`, …), or nil for a public address.
    public func bogonLabel(forIPv4 address: UInt32) -> String? { bogon(forIPv4: address)?.label }

    /// Label of the longest matching IPv6 bogon prefix, or nil for a public address.
    public func bogonLabel(forIPv6 address: (UInt64, UInt64)) -> String? { bogon(forIPv6: address)?.label }

    /// Label for an address in text form (IPv4 or IPv6), or nil when public or unparsable.
    public func bogonLabel(for address: String) -> String? {
        switch IPAddressValue(address) {
        case .v4(let v)?: bogonLabel(forIPv4: v)
        case .v6(let h, let l)?: bogonLabel(forIPv6: (h, l))
        case nil: nil
        }
    }

    /// The initial TTL a packet most likely started with: the smallest `initial-ttls.csv` value ≥ `observed`
    /// (p0f `guess_dist`). Nil if the table is empty. Hop distance is `initial - observed`.
    public func initialTTL(forObserved observed: UInt8) -> UInt8? {
        initialTTLs.first { $0.ttl >= observed }?.ttl
    }
}

/// Substring search on bytes.
/// A needle for `ByteSearch`, with the position of its rarest byte (by `ByteSearch.commonness`) chosen once.
struct ByteNeedle: Sendable {
    let bytes: [UInt8]
    let anchor: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var a = 0
        for k in bytes.indices.dropFirst() where ByteSearch.commonness(bytes[k]) < ByteSearch.commonness(bytes[a]) { a = k }
        anchor = a
    }
}

enum ByteSearch {
    /// Whether `needle` occurs in `haystack`. `memchr` looks for the needle's rarest byte (by `commonness`) rather than
    /// its first: a block-page needle often starts with `<` or a Cyrillic lead byte, which an HTML body holds hundreds
    /// of times, and each false candidate cost a `memchr` restart and a `memcmp`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        contains(haystack, ByteNeedle(needle))
    }

    static func contains(_ haystack: [UInt8], _ needle: ByteNeedle) -> Bool {
        if needle.bytes.isEmpty { return true }
        if needle.bytes.count > haystack.count { return false }
        return haystack.withUnsafeBufferPointer { h in
            needle.bytes.withUnsafeBufferPointer { n in
                guard let hBase = h.baseAddress, let nBase = n.baseAddress else { return false }
                let a = needle.anchor
                let anchor = Int32(n[a])
                let last = h.count - n.count                  // the last possible start
                var p = a                                     // next position the anchor byte may sit at
                while p <= last + a {
                    guard let hit = memchr(hBase + p, anchor, last + a - p + 1) else { return false }
                    let at = hBase.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(hBase + (at - a), nBase, n.count) == 0 { return true }
                    p = at + 1
                }
                return false
            }
        }
    }

    /// A rough rank of how often a byte appears in web pages (higher is more common): space, lower-case letters and
    /// markup first, then digits and common punctuation, the lead bytes of two-byte UTF-8 (Cyrillic, Kazakh), upper
    /// case, then the rest.
    static func commonness(_ b: UInt8) -> Int {
        switch b {
        case 0x20, 0x65, 0x74, 0x61, 0x6F, 0x69, 0x6E, 0x73, 0x72, 0x3C, 0x3E, 0x2F, 0x3D, 0x22, 0x0A: 9
        case 0x61...0x7A: 8
        case 0xD0, 0xD1: 7
        case 0x30...0x39, 0x2E, 0x2D, 0x3A, 0x09, 0x0D, 0x27: 6
        case 0x80...0xBF: 4
        case 0x41...0x5A: 3
        default: 2
        }
    }
}
