import Crypto
import Foundation
import SwiftASN1
import Synchronization
import X509

/// Summaries by DER. A capture shows the same certificates on many connections (one server's leaf, a CA's
/// intermediates), and a summary is a pure function of the DER: parse and hash each once. At most
/// `TLSCertificateInfo.summaryCacheLimit` entries (the DER is the key), emptied when full.
private let summaryCache = Mutex<[[UInt8]: TLSCertificateInfo]>([:])

extension TLSCertificateInfo {
    /// Distinct certificates whose summaries are kept for reuse (about 2 KiB each).
    public static let summaryCacheLimit = 1024

    /// Summarises one DER certificate: hashes always; names, serial, validity, SANs and SPKI hash when the DER
    /// parses (RFC 5280 §4.1) with swift-certificates; otherwise `parseError` says why.
    public static func summarize(der: [UInt8], index: Int, firstFrame: Int = 0, lastFrame: Int = 0) -> TLSCertificateInfo {
        if var hit = summaryCache.withLock({ $0[der] }) {
            hit.index = index
            hit.der = der
            hit.firstFrame = firstFrame
            hit.lastFrame = lastFrame
            return hit
        }
        let info = summarizeUncached(der: der, index: index, firstFrame: firstFrame, lastFrame: lastFrame)
        var stored = info
        stored.der = []
        summaryCache.withLock {
            if $0.count >= summaryCacheLimit { $0.removeAll(keepingCapacity: true) }
            $0[der] = stored
        }
        return info
    }

    static func summarizeUncached(der: [UInt8], index: Int, firstFrame: Int, lastFrame: Int) -> TLSCertificateInfo {
        var info = TLSCertificateInfo(index: index, der: der, sha256: Hex.string(Array(SHA256.hash(data: der))),
                                      sha1: Hex.string(Array(Insecure.SHA1.hash(data: der))), spkiSHA256: nil,
                                      subject: nil, issuer: nil, subjectCN: nil, issuerCN: nil, serialHex: nil,
                                      notBefore: nil, notAfter: nil, sanDNSNames: [], sanIPAddresses: [],
                                      parseError: nil, firstFrame: firstFrame, lastFrame: lastFrame)
        if let spki = spkiBytes(der) { info.spkiSHA256 = Hex.string(Array(SHA256.hash(data: Array(spki)))) }
        let cert: Certificate
        do {
            cert = try Certificate(derEncoded: der)
        } catch {
            info.parseError = String(describing: error)
            return info
        }
        info.subject = rfc4514(cert.subject)
        info.issuer = rfc4514(cert.issuer)
        info.subjectCN = commonName(cert.subject)
        info.issuerCN = commonName(cert.issuer)
        info.serialHex = Hex.string(cert.serialNumber.bytes)
        info.notBefore = iso8601(cert.notValidBefore)
        info.notAfter = iso8601(cert.notValidAfter)
        do {
            if let sans = try cert.extensions.subjectAlternativeNames {
                for name in sans {
                    switch name {
                    case .dnsName(let s): info.sanDNSNames.append(s)
                    case .ipAddress(let o):
                        let b = Array(o.bytes)
                        info.sanIPAddresses.append(IPText.ipv4(b) ?? IPText.ipv6(b) ?? Hex.string(b))
                    default: break
                    }
                }
            }
        } catch {
            info.parseError = "subjectAltName: \(error)"
        }
        return info
    }

    /// The encoded SubjectPublicKeyInfo inside the TBSCertificate (RFC 5280 §4.1.2.7), found with SwiftASN1.
    static func spkiBytes(_ der: [UInt8]) -> ArraySlice<UInt8>? {
        guard let root = try? DER.parse(der), case .constructed(let certParts) = root.content,
              let tbs = certParts.first(where: { _ in true }), case .constructed(let tbsParts) = tbs.content
        else { return nil }
        let nodes = Array(tbsParts)
        var i = 0
        if let first = nodes.first, first.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) { i = 1 }
        // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        let k = i + 5
        guard k < nodes.count, nodes[k].identifier == .sequence else { return nil }
        return nodes[k].encodedBytes
    }

    /// RFC 4514 §2 string: RDNs from last to first, multi-valued RDNs joined by `+`, values escaped (§2.4).
    /// Attribute keys: CN, L, ST, O, OU, C, STREET, DC, UID (RFC 4514 §3), plus `emailAddress` and
    /// `serialNumber` as OpenSSL prints them; other types use the dotted OID.
    public static func rfc4514(_ dn: DistinguishedName) -> String {
        dn.reversed().map { rdn in
            rdn.map { attr in key(attr.type) + "=" + escape(valueText(attr.value)) }.joined(separator: "+")
        }.joined(separator: ",")
    }

    /// The last (most specific) CN of a name, unescaped.
    public static func commonName(_ dn: DistinguishedName) -> String? {
        var cn: String?
        for rdn in dn { for attr in rdn where attr.type == .RDNAttributeType.commonName { cn = valueText(attr.value) } }
        return cn
    }

    static func key(_ oid: ASN1ObjectIdentifier) -> String {
        switch oid {
        case .RDNAttributeType.commonName: return "CN"
        case .RDNAttributeType.countryName: return "C"
        case .RDNAttributeType.localityName: return "L"
        case .RDNAttributeType.stateOrProvinceName: return "ST"
        case .RDNAttributeType.organizationName: return "O"
        case .RDNAttributeType.organizationalUnitName: return "OU"
        case .RDNAttributeType.streetAddress: return "STREET"
        case .RDNAttributeType.domainComponent: return "DC"
        case .RDNAttributeType.emailAddress: return "emailAddress"
        case [0, 9, 2342, 19200300, 100, 1, 1]: return "UID"
        case [2, 5, 4, 5]: return "serialNumber"
        default: return oid.oidComponents.map { String($0) }.joined(separator: ".")
        }
    }

    /// Text of a directory string: PrintableString/UTF8String/IA5String via swift-certificates, BMPString,
    /// TeletexString (as Latin-1), UniversalString, NumericString and VisibleString decoded here; anything else
    /// as `#` + hex of its DER (RFC 4514 §2.4).
    static func valueText(_ value: RelativeDistinguishedName.Attribute.Value) -> String {
        if let s = String(value) { return s }
        var ser = DER.Serializer()
        guard (try? ser.serialize(ASN1Any(value))) != nil else { return "" }
        let bytes = ser.serializedBytes
        guard bytes.count >= 2 else { return "#" + Hex.string(bytes) }
        var off = 2
        if bytes[1] & 0x80 != 0 { off = 2 + Int(bytes[1] & 0x7f) }
        guard off <= bytes.count else { return "#" + Hex.string(bytes) }
        let content = Array(bytes[off...])
        switch bytes[0] {
        case 0x1e:  // BMPString, UTF-16BE
            var units: [UInt16] = []
            var i = 0
            while i + 1 < content.count { units.append(UInt16(content[i]) << 8 | UInt16(content[i + 1])); i += 2 }
            return String(decoding: units, as: UTF16.self)
        case 0x14:  // TeletexString, treated as Latin-1
            return String(content.map { Character(Unicode.Scalar($0)) })
        case 0x1c:  // UniversalString, UTF-32BE
            var s = ""
            var i = 0
            while i + 3 < content.count {
                let v = UInt32(content[i]) << 24 | UInt32(content[i + 1]) << 16 | UInt32(content[i + 2]) << 8 | UInt32(content[i + 3])
                s.unicodeScalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                i += 4
            }
            return s
        case 0x12, 0x1a:  // NumericString, VisibleString
            return String(decoding: content, as: UTF8.self)
        default:
            return "#" + Hex.string(bytes)
        }
    }

    /// RFC 4514 §2.4 escaping.
    static func escape(_ s: String) -> String {
        if s.hasPrefix("#") && s.count > 1 && s.dropFirst().allSatisfy({ $0.isHexDigit }) { return s }
        var out = ""
        let chars = Array(s)
        for (i, c) in chars.enumerated() {
            switch c {
            case "\"", "+", ",", ";", "<", ">", "\\": out += "\\" + String(c)
            case "\u{0}": out += "\\00"
            case " " where i == 0 || i == chars.count - 1: out += "\\ "
            case "#" where i == 0: out += "\\#"
            default: out.append(c)
            }
        }
        return out
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for a date (proleptic Gregorian, UTC).
    static func iso8601(_ date: Date) -> String {
        let t = Int64(floor(date.timeIntervalSince1970))
        var days = t / 86400
        var secs = t % 86400
        if secs < 0 { secs += 86400; days -= 1 }
        // civil_from_days (H. Hinnant).
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        func p2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ys = y >= 0 && y < 10000 ? String(repeating: "0", count: 4 - String(y).count) + String(y) : String(y)
        return "\(ys)-\(p2(m))-\(p2(d))T\(p2(secs / 3600)):\(p2(secs % 3600 / 60)):\(p2(secs % 60))Z"
    }
}
