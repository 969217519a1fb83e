/// One extension as it appeared in a hello (RFC 8446 §4.2), in wire order.
public struct TLSExtension: Sendable, Hashable, Codable {
    public var type: UInt16
    /// The extension_data bytes (as far as they were present).
    public var data: [UInt8]
    public var isGREASE: Bool { TLSGrease.isGREASE(type) }
}

/// GREASE values (RFC 8701 §2): 0x0a0a, 0x1a1a, …, 0xfafa.
public enum TLSGrease {
    public static func isGREASE(_ v: UInt16) -> Bool { v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff }
}

/// Version names for display.
public enum TLSVersion {
    public static func name(_ v: UInt16) -> String {
        switch v {
        case 0x0002: return "SSLv2"
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv1.0"
        case 0x0302: return "TLSv1.1"
        case 0x0303: return "TLSv1.2"
        case 0x0304: return "TLSv1.3"
        case 0xfeff: return "DTLSv1.0"
        case 0xfefd: return "DTLSv1.2"
        case 0xfefc: return "DTLSv1.3"
        default:
            if v >> 8 == 0x7f { return "TLSv1.3-draft\(v & 0xff)" }
            return TLSGrease.isGREASE(v) ? "GREASE" : String(format4(v))
        }
    }
    static func format4(_ v: UInt16) -> String { "0x" + Hex.u16(v) }
}

/// A ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) with client fingerprints.
public struct TLSClientHello: Sendable, Hashable, Codable {
    public var legacyVersion: UInt16
    /// supported_versions (RFC 8446 §4.2.1) in order, GREASE included; empty when the extension is absent.
    public var supportedVersions: [UInt16]
    public var random: [UInt8]
    public var sessionIDLength: Int
    /// Cipher suites in order, GREASE included.
    public var cipherSuites: [UInt16]
    public var compressionMethods: [UInt8]
    /// Extensions in wire order, GREASE included.
    public var extensions: [TLSExtension]
    /// The first host_name of server_name (RFC 6066 §3), if any.
    public var serverName: String?
    /// ALPN protocol names in order (RFC 7301 §3.1).
    public var alpn: [String]
    /// supported_groups in order, GREASE included (RFC 8422 §5.1.1, RFC 8446 §4.2.7).
    public var supportedGroups: [UInt16]
    /// ec_point_formats (RFC 8422 §5.1.2).
    public var ecPointFormats: [UInt8]
    /// signature_algorithms in order (RFC 8446 §4.2.3).
    public var signatureAlgorithms: [UInt16]
    /// True when any GREASE value appears (ciphers, extensions, groups, versions).
    public var hasGREASE: Bool
    /// JA3 string: `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, GREASE removed.
    public var ja3: String
    /// MD5 of `ja3`, lowercase hex.
    public var ja3MD5: String
    /// JA4 (FoxIO): `a_b_c`.
    public var ja4: String
    /// JA4_r: the raw (sorted, unhashed) form.
    public var ja4Raw: String
    public var firstFrame: Int
    public var lastFrame: Int

    /// The highest non-GREASE supported_versions value, else the legacy version.
    public var highestVersion: UInt16 {
        supportedVersions.filter { !TLSGrease.isGREASE($0) }.max() ?? legacyVersion
    }
}

/// A ServerHello (RFC 8446 §4.1.3) or HelloRetryRequest.
public struct TLSServerHello: Sendable, Hashable, Codable {
    public var legacyVersion: UInt16
    /// The supported_versions selected_version, if present.
    public var selectedVersion: UInt16?
    public var random: [UInt8]
    public var sessionIDLength: Int
    public var cipherSuite: UInt16
    public var compressionMethod: UInt8
    public var extensions: [TLSExtension]
    /// ALPN protocol chosen by the server, if any.
    public var alpn: String?
    /// True for a HelloRetryRequest (RFC 8446 §4.1.3 special random).
    public var isHelloRetryRequest: Bool
    /// JA3S string `SSLVersion,Cipher,Extensions` and its MD5.
    public var ja3s: String
    public var ja3sMD5: String
    public var firstFrame: Int
    public var lastFrame: Int

    /// selected_version when present, else legacy_version.
    public var negotiatedVersion: UInt16 { selectedVersion ?? legacyVersion }
    /// TLS 1.3 (or a 1.3 draft) negotiated: the server's Certificate is encrypted and will not be seen.
    public var isTLS13: Bool { negotiatedVersion == 0x0304 || negotiatedVersion >> 8 == 0x7f }
    public var certificatesEncrypted: Bool { isTLS13 }
}

/// One certificate of a chain, summarised with swift-certificates.
public struct TLSCertificateInfo: Sendable, Hashable, Codable {
    /// Position in the chain (0 = leaf as sent).
    public var index: Int
    public var der: [UInt8]
    /// SHA-256 / SHA-1 of the DER, lowercase hex.
    public var sha256: String
    public var sha1: String
    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (nil when the DER did not parse that far).
    public var spkiSHA256: String?
    /// RFC 4514 strings (most significant RDN last, as RFC 4514 §2.1 prints them).
    public var subject: String?
    public var issuer: String?
    public var subjectCN: String?
    public var issuerCN: String?
    /// Serial number, lowercase hex of its DER content bytes.
    public var serialHex: String?
    /// Validity, ISO 8601 UTC (`2024-01-31T12:00:00Z`).
    public var notBefore: String?
    public var notAfter: String?
    public var sanDNSNames: [String]
    public var sanIPAddresses: [String]
    /// Why the DER did not parse as an X.509 certificate, if it did not.
    public var parseError: String?
    public var firstFrame: Int
    public var lastFrame: Int
    public var isSelfIssued: Bool { subject != nil && subject == issuer }
}

/// A Certificate handshake message (RFC 5246 §7.4.2; RFC 8446 §4.4.2 when seen in clear).
public struct TLSCertificateChain: Sendable, Hashable, Codable {
    public var certificates: [TLSCertificateInfo]
    /// True when the message used the TLS 1.3 layout (request context + per-certificate extensions).
    public var tls13Layout: Bool
    /// True when all declared lengths agreed.
    public var wellFormed: Bool
    public var firstFrame: Int
    public var lastFrame: Int
}

/// An alert record (RFC 8446 §6, RFC 5246 §7.2).
public struct TLSAlert: Sendable, Hashable, Codable {
    /// 1 = warning, 2 = fatal; nil when the alert was encrypted.
    public var level: UInt8?
    public var description: UInt8?
    /// True when sent after ChangeCipherSpec (contents unreadable).
    public var encrypted: Bool
    public var frame: Int

    public var descriptionName: String {
        guard let d = description else { return "encrypted" }
        switch d {
        case 0: return "close_notify"
        case 10: return "unexpected_message"
        case 20: return "bad_record_mac"
        case 22: return "record_overflow"
        case 40: return "handshake_failure"
        case 42: return "bad_certificate"
        case 43: return "unsupported_certificate"
        case 44: return "certificate_revoked"
        case 45: return "certificate_expired"
        case 46: return "certificate_unknown"
        case 47: return "illegal_parameter"
        case 48: return "unknown_ca"
        case 49: return "access_denied"
        case 50: return "decode_error"
        case 51: return "decrypt_error"
        case 70: return "protocol_version"
        case 71: return "insufficient_security"
        case 80: return "internal_error"
        case 86: return "inappropriate_fallback"
        case 90: return "user_canceled"
        case 100: return "no_renegotiation"
        case 109: return "missing_extension"
        case 110: return "unsupported_extension"
        case 112: return "unrecognized_name"
        case 116: return "certificate_required"
        case 120: return "no_application_protocol"
        default: return "alert_\(d)"
        }
    }
}

/// What a `TLSStreamParser` produces, in stream order.
public enum TLSEvent: Sendable, Hashable, Codable {
    case clientHello(TLSClientHello)
    case serverHello(TLSServerHello)
    case certificate(TLSCertificateChain)
    case alert(TLSAlert)
    case changeCipherSpec(frame: Int)
    /// Another plaintext handshake message (type, body length).
    case handshake(type: UInt8, length: Int, firstFrame: Int, lastFrame: Int)
    /// The first application_data record of the direction (later ones are only counted).
    case applicationData(firstFrame: Int)
    case anomaly(TLSAnomaly)
}

/// Bounds for `TLSStreamParser`.
public struct TLSParserLimits: Sendable, Hashable, Codable {
    /// Largest handshake message buffered; larger ones are skipped with `tls.handshake_too_long`.
    public var maxHandshakeBytes: Int
    /// Most certificates summarised per chain.
    public var maxCertificates: Int
    /// Compute JA3/JA4/JA3S for hellos (off when nothing reads them, e.g. `analyze`).
    public var fingerprints: Bool
    public init(maxHandshakeBytes: Int = 256 * 1024, maxCertificates: Int = 32, fingerprints: Bool = true) {
        self.maxHandshakeBytes = maxHandshakeBytes
        self.maxCertificates = maxCertificates
        self.fingerprints = fingerprints
    }
}

extension TLSClientHello {
    /// Drops the lists and fingerprints (random, cipher suites, extensions, groups, JA3/JA4), keeping versions, server
    /// name, GREASE flag and frames: what a long-lived summary needs, at a fraction of the memory.
    public mutating func dropDetail() {
        random = []
        cipherSuites = []
        compressionMethods = []
        extensions = []
        alpn = []
        supportedGroups = []
        ecPointFormats = []
        signatureAlgorithms = []
        ja3 = ""
        ja3MD5 = ""
        ja4 = ""
        ja4Raw = ""
    }
}

extension TLSServerHello {
    /// Drops random, extensions and JA3S, keeping versions, cipher suite, ALPN and frames.
    public mutating func dropDetail() {
        random = []
        extensions = []
        ja3s = ""
        ja3sMD5 = ""
    }
}
