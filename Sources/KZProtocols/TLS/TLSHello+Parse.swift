import Crypto

extension TLSClientHello {
    /// Parses a ClientHello handshake body (after the 4-byte handshake header). Returns nil only when the fixed
    /// part (version, random, session id, cipher suites, compression) is cut; extensions are kept as far as they
    /// parse. Anomalies: `tls.client_hello_truncated`, `tls.extension_length_overrun`,
    /// `tls.extensions_length_mismatch`, `tls.client_hello_trailing_bytes`, `tls.duplicate_extension`,
    /// `tls.sni_malformed`, `tls.alpn_malformed`, `tls.odd_cipher_suites_length`.
    /// `fingerprints: false` leaves `ja3`, `ja3MD5`, `ja4` and `ja4Raw` empty (a consumer that never reads them skips
    /// the strings and digests).
    public static func parse(handshakeBody b: UnsafeRawBufferPointer, firstFrame: Int = 0, lastFrame: Int = 0,
                             fingerprints: Bool = true, anomalies: inout [TLSAnomaly]) -> TLSClientHello? {
        var r = ByteReader(b)
        func cut(_ what: String) -> TLSClientHello? {
            anomalies.append(TLSAnomaly("tls.client_hello_truncated", what, frame: lastFrame))
            return nil
        }
        guard let version = r.read16() else { return cut("version") }
        guard let random = r.readBytes(32) else { return cut("random") }
        guard let sidLen = r.read8(), r.skip(Int(sidLen)) else { return cut("session id") }
        guard let csLen = r.read16(), var cs = r.sub(Int(csLen)) else { return cut("cipher suites") }
        if csLen % 2 != 0 { anomalies.append(TLSAnomaly("tls.odd_cipher_suites_length", "\(csLen)", frame: lastFrame)) }
        var ciphers: [UInt16] = []
        while let c = cs.read16() { ciphers.append(c) }
        guard let cmLen = r.read8(), let compression = r.readBytes(Int(cmLen)) else { return cut("compression methods") }

        var hello = TLSClientHello(legacyVersion: version, supportedVersions: [], random: random, sessionIDLength: Int(sidLen),
                                   cipherSuites: ciphers, compressionMethods: compression, extensions: [], serverName: nil,
                                   alpn: [], supportedGroups: [], ecPointFormats: [], signatureAlgorithms: [],
                                   hasGREASE: false, ja3: "", ja3MD5: "", ja4: "", ja4Raw: "",
                                   firstFrame: firstFrame, lastFrame: lastFrame)
        if !r.isAtEnd {
            hello.extensions = parseExtensions(&r, anomalies: &anomalies, frame: lastFrame, who: "client_hello")
        }
        var seen = Set<UInt16>()
        for e in hello.extensions {
            if !seen.insert(e.type).inserted {
                anomalies.append(TLSAnomaly("tls.duplicate_extension", "type \(e.type)", frame: lastFrame))
            }
            e.data.withUnsafeBytes { d in
                var x = ByteReader(d)
                switch e.type {
                case 0:   // server_name (RFC 6066 §3)
                    guard let listLen = x.read16(), var list = x.sub(Int(listLen)) else {
                        anomalies.append(TLSAnomaly("tls.sni_malformed", "list length", frame: lastFrame)); return
                    }
                    while !list.isAtEnd {
                        guard let t = list.read8(), let l = list.read16(), let name = list.readBytes(Int(l)) else {
                            anomalies.append(TLSAnomaly("tls.sni_malformed", "entry", frame: lastFrame)); break
                        }
                        if t == 0 && hello.serverName == nil { hello.serverName = String(decoding: name, as: UTF8.self) }
                    }
                case 16:  // ALPN (RFC 7301 §3.1)
                    guard let listLen = x.read16(), var list = x.sub(Int(listLen)) else {
                        anomalies.append(TLSAnomaly("tls.alpn_malformed", "list length", frame: lastFrame)); return
                    }
                    while !list.isAtEnd {
                        guard let l = list.read8(), let p = list.readBytes(Int(l)) else {
                            anomalies.append(TLSAnomaly("tls.alpn_malformed", "entry", frame: lastFrame)); break
                        }
                        hello.alpn.append(String(decoding: p, as: UTF8.self))
                    }
                case 10:  // supported_groups
                    if let l = x.read16(), var list = x.sub(Int(l)) { while let g = list.read16() { hello.supportedGroups.append(g) } }
                case 11:  // ec_point_formats
                    if let l = x.read8(), let f = x.readBytes(Int(l)) { hello.ecPointFormats = f }
                case 13:  // signature_algorithms
                    if let l = x.read16(), var list = x.sub(Int(l)) { while let s = list.read16() { hello.signatureAlgorithms.append(s) } }
                case 43:  // supported_versions (client form)
                    if let l = x.read8(), var list = x.sub(Int(l)) { while let v = list.read16() { hello.supportedVersions.append(v) } }
                default: break
                }
            }
        }
        if !r.isAtEnd {
            anomalies.append(TLSAnomaly("tls.client_hello_trailing_bytes", "\(r.remaining) bytes", frame: lastFrame))
        }
        hello.hasGREASE = hello.cipherSuites.contains(where: TLSGrease.isGREASE)
            || hello.extensions.contains(where: \.isGREASE)
            || hello.supportedGroups.contains(where: TLSGrease.isGREASE)
            || hello.supportedVersions.contains(where: TLSGrease.isGREASE)
        if fingerprints { hello.computeFingerprints() }
        return hello
    }

    /// Convenience for owned bytes.
    public static func parse(handshakeBody: [UInt8], anomalies: inout [TLSAnomaly]) -> TLSClientHello? {
        handshakeBody.withUnsafeBytes { parse(handshakeBody: $0, anomalies: &anomalies) }
    }

    /// Fills `ja3`, `ja3MD5`, `ja4`, `ja4Raw`.
    mutating func computeFingerprints() {
        let g = TLSGrease.isGREASE
        let ciphers = cipherSuites.filter { !g($0) }
        let exts = extensions.map(\.type).filter { !g($0) }
        let groups = supportedGroups.filter { !g($0) }
        func dash<T: BinaryInteger>(_ v: [T]) -> String { v.map { String($0) }.joined(separator: "-") }
        ja3 = "\(legacyVersion),\(dash(ciphers)),\(dash(exts)),\(dash(groups)),\(dash(ecPointFormats))"
        ja3MD5 = Hex.string(Array(Insecure.MD5.hash(data: Array(ja3.utf8))))

        // JA4 (FoxIO technical_details/JA4.md).
        let v: String
        switch highestVersion {
        case 0x0304: v = "13"
        case 0x0303: v = "12"
        case 0x0302: v = "11"
        case 0x0301: v = "10"
        case 0x0300: v = "s3"
        case 0x0002: v = "s2"
        case 0xfeff: v = "d1"
        case 0xfefd: v = "d2"
        case 0xfefc: v = "d3"
        default: v = "00"
        }
        let sni = exts.contains(0) ? "d" : "i"
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : n > 99 ? "99" : "\(n)" }
        var alpnPart = "00"
        if let first = alpn.first, let f = first.utf8.first, let l = first.utf8.last {
            func alnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
            if alnum(f) && alnum(l) {
                alpnPart = String(decoding: [f, l], as: UTF8.self)
            } else {
                let hf = Hex.string([f]), hl = Hex.string([l])
                alpnPart = String(hf.prefix(1)) + String(hl.suffix(1))
            }
        }
        let a = "t\(v)\(sni)\(two(ciphers.count))\(two(exts.count))\(alpnPart)"
        let cipherList = ciphers.sorted().map(Hex.u16).joined(separator: ",")
        var extList = exts.filter { $0 != 0 && $0 != 16 }.sorted().map(Hex.u16).joined(separator: ",")
        let sigs = signatureAlgorithms.filter { !g($0) }.map(Hex.u16).joined(separator: ",")
        if !sigs.isEmpty { extList += "_" + sigs }
        func h12(_ s: String, empty: Bool) -> String {
            if empty { return "000000000000" }
            return String(Hex.string(Array(SHA256.hash(data: Array(s.utf8)))).prefix(12))
        }
        ja4 = "\(a)_\(h12(cipherList, empty: ciphers.isEmpty))_\(h12(extList, empty: exts.isEmpty))"
        ja4Raw = "\(a)_\(cipherList)_\(extList)"
    }
}

/// Extension block walker shared by both hellos (RFC 8446 §4.2).
func parseExtensions(_ r: inout ByteReader, anomalies: inout [TLSAnomaly], frame: Int, who: String) -> [TLSExtension] {
    var out: [TLSExtension] = []
    guard let total = r.read16() else {
        anomalies.append(TLSAnomaly("tls.\(who)_truncated", "extensions length", frame: frame))
        return out
    }
    var block: ByteReader
    if let s = r.sub(Int(total)) {
        block = s
    } else {
        anomalies.append(TLSAnomaly("tls.extensions_length_mismatch", "declared \(total), \(r.remaining) present", frame: frame))
        block = r.sub(r.remaining) ?? r
    }
    while !block.isAtEnd {
        guard let t = block.read16(), let l = block.read16() else {
            anomalies.append(TLSAnomaly("tls.extension_length_overrun", "extension header cut", frame: frame))
            break
        }
        guard let data = block.readBytes(Int(l)) else {
            anomalies.append(TLSAnomaly("tls.extension_length_overrun",
                                        "extension \(t) declares \(l) bytes, \(block.remaining) left", frame: frame))
            out.append(TLSExtension(type: t, data: block.readBytes(block.remaining) ?? []))
            break
        }
        out.append(TLSExtension(type: t, data: data))
    }
    return out
}

extension TLSServerHello {
    /// HelloRetryRequest's special random (RFC 8446 §4.1.3).
    static let helloRetryRandom: [UInt8] = Hex.decode(
        "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C") ?? []

    /// Parses a ServerHello handshake body. Anomalies: `tls.server_hello_truncated`,
    /// `tls.extension_length_overrun`, `tls.extensions_length_mismatch`, `tls.server_hello_trailing_bytes`.
    /// `fingerprints: false` leaves `ja3s` and `ja3sMD5` empty.
    public static func parse(handshakeBody b: UnsafeRawBufferPointer, firstFrame: Int = 0, lastFrame: Int = 0,
                             fingerprints: Bool = true, anomalies: inout [TLSAnomaly]) -> TLSServerHello? {
        var r = ByteReader(b)
        func cut(_ what: String) -> TLSServerHello? {
            anomalies.append(TLSAnomaly("tls.server_hello_truncated", what, frame: lastFrame))
            return nil
        }
        guard let version = r.read16() else { return cut("version") }
        guard let random = r.readBytes(32) else { return cut("random") }
        guard let sidLen = r.read8(), r.skip(Int(sidLen)) else { return cut("session id") }
        guard let cipher = r.read16() else { return cut("cipher suite") }
        guard let comp = r.read8() else { return cut("compression method") }
        var h = TLSServerHello(legacyVersion: version, selectedVersion: nil, random: random, sessionIDLength: Int(sidLen),
                               cipherSuite: cipher, compressionMethod: comp, extensions: [], alpn: nil,
                               isHelloRetryRequest: random == helloRetryRandom, ja3s: "", ja3sMD5: "",
                               firstFrame: firstFrame, lastFrame: lastFrame)
        if !r.isAtEnd {
            h.extensions = parseExtensions(&r, anomalies: &anomalies, frame: lastFrame, who: "server_hello")
        }
        for e in h.extensions {
            e.data.withUnsafeBytes { d in
                var x = ByteReader(d)
                switch e.type {
                case 43: h.selectedVersion = x.read16()
                case 16:
                    if x.read16() != nil, let l = x.read8(), let p = x.readBytes(Int(l)) { h.alpn = String(decoding: p, as: UTF8.self) }
                default: break
                }
            }
        }
        if !r.isAtEnd {
            anomalies.append(TLSAnomaly("tls.server_hello_trailing_bytes", "\(r.remaining) bytes", frame: lastFrame))
        }
        if fingerprints {
            h.ja3s = "\(version),\(cipher),\(h.extensions.map { String($0.type) }.joined(separator: "-"))"
            h.ja3sMD5 = Hex.string(Array(Insecure.MD5.hash(data: Array(h.ja3s.utf8))))
        }
        return h
    }

    public static func parse(handshakeBody: [UInt8], anomalies: inout [TLSAnomaly]) -> TLSServerHello? {
        handshakeBody.withUnsafeBytes { parse(handshakeBody: $0, anomalies: &anomalies) }
    }
}
