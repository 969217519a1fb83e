/// How two leaf certificates for the same name compare: the traits of a forged copy (the 2019 Kazakh interception:
/// same Subject and SANs as the real certificate, validity shifted exactly 6 hours, serial with only the last 4 bytes
/// changed, other extensions removed; Raman et al., IMC 2020, censoredplanet.org/kazakhstan).
///
/// A legitimate renewal or a CDN serving certificates from two CAs also gives "same subject, other issuer", so the
/// issuer alone is not evidence; random serials never share a long prefix and renewals do not move both validity
/// bounds by the same small amount, which is what this type measures.
struct CertificateShape: Sendable, Hashable {
    var subjectCopied: Bool
    var sansCopied: Bool
    var issuerDiffers: Bool
    /// Both bounds moved by the same non-zero amount (seconds, b − a), at most `maxShift`.
    var validityShift: Int64?
    /// Serials of equal length that differ only in their last `serialDifferingBytes` bytes (≤ 8).
    var serialAltered: Bool
    var serialDifferingBytes: Int

    static let maxShift: Int64 = 7 * 86_400

    init(_ a: CertificateEvent, _ b: CertificateEvent) {
        subjectCopied = a.subject == b.subject
        sansCopied = Set(a.sans.map { $0.lowercased() }) == Set(b.sans.map { $0.lowercased() })
        issuerDiffers = a.issuer != b.issuer
        validityShift = nil
        if let nb1 = Self.parseTime(a.notBefore), let nb2 = Self.parseTime(b.notBefore),
           let na1 = Self.parseTime(a.notAfter), let na2 = Self.parseTime(b.notAfter) {
            let d1 = nb2 - nb1, d2 = na2 - na1
            if d1 == d2, d1 != 0, abs(d1) <= Self.maxShift { validityShift = d1 }
        }
        let s1 = Self.normalisedSerial(a.serialHex), s2 = Self.normalisedSerial(b.serialHex)
        serialAltered = false
        serialDifferingBytes = 0
        if s1.count == s2.count, s1.count >= 16, s1 != s2 {
            let common = zip(s1, s2).prefix { $0 == $1 }.count
            let differingHex = s1.count - common
            serialDifferingBytes = (differingHex + 1) / 2
            serialAltered = serialDifferingBytes <= 8
        }
    }

    /// Shape signals beyond "same name, other issuer".
    var forgeryTraits: Int { (validityShift != nil ? 1 : 0) + (serialAltered ? 1 : 0) }

    /// Lower-case hex without separators or leading zero bytes.
    static func normalisedSerial(_ s: String) -> [Character] {
        var hex = Array(s.lowercased().filter { $0.isHexDigit })
        while hex.count > 2, hex[0] == "0", hex[1] == "0" { hex.removeFirst(2) }
        return hex
    }

    /// Seconds since 1970 from `2024-01-31T12:00:00Z` (KZProtocols' form), `2024-01-31 12:00:00 UTC`, X.509
    /// GeneralizedTime `20240131120000Z` or UTCTime `240131120000Z` (RFC 5280 §4.1.2.5). Nil when unrecognised.
    static func parseTime(_ text: String) -> Int64? {
        let digits = Array(text.filter { $0.isASCII && $0.isNumber }).compactMap { Int64(String($0)) }
        var fields: [Int64]
        func num(_ r: Range<Int>) -> Int64 { digits[r].reduce(0) { $0 * 10 + $1 } }
        if digits.count >= 14 {
            fields = [num(0..<4), num(4..<6), num(6..<8), num(8..<10), num(10..<12), num(12..<14)]
        } else if digits.count == 12 {
            let yy = num(0..<2)
            fields = [yy >= 50 ? 1900 + yy : 2000 + yy, num(2..<4), num(4..<6), num(6..<8), num(8..<10), num(10..<12)]
        } else {
            return nil
        }
        let (y, m, d, hh, mm, ss) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
        guard (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61 else { return nil }
        // days_from_civil (H. Hinnant).
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + hh * 3600 + mm * 60 + ss
    }
}
