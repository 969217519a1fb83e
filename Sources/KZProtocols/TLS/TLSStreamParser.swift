/// Incremental TLS parser for one direction of a reassembled TCP stream (RFC 8446 §5, RFC 5246 §6.2).
///
/// Record framing works across any segmentation; handshake messages are reassembled across records
/// (RFC 8446 §5.1) and parsed: ClientHello, ServerHello, Certificate (TLS ≤ 1.2, or the 1.3 layout if ever seen
/// in clear); other plaintext handshake messages are reported by type and length. Alerts and ChangeCipherSpec are
/// reported; after this direction's ChangeCipherSpec, handshake and alert records are encrypted and only counted.
/// Application data is counted, never buffered. Memory is bounded by `limits.maxHandshakeBytes`.
///
/// Anomalies (`tls.*`): `not_tls` (first bytes are not a TLS record), `bad_record_header` (later), `sslv2_client_hello`,
/// `record_too_long` (> 2^14 + 2048), `empty_record`, `handshake_too_long`, `handshake_truncated` (stream ended
/// or encryption started inside a message), `handshake_interleaved`, `bad_change_cipher_spec`, `alert_truncated`,
/// `certificate_list_length_mismatch`, `certificate_length_overrun`, `certificate_der_error`,
/// `empty_certificate_chain`, plus the hello anomalies of `TLSClientHello.parse` / `TLSServerHello.parse`.
public struct TLSStreamParser: Sendable {
    // Word-sized fields first, then the limits and every one-byte field together: 176 bytes instead of 216 (each
    // Bool between two words padded to a word), two per live TLS flow.
    private var events: [TLSEvent] = []
    private var base = 0
    // Record layer.
    private var header: [UInt8] = []
    private var recordRemaining = 0
    private var recordLength = 0
    private var recordFirstFrame = 0
    // Handshake layer.
    private var hsHeader: [UInt8] = []
    private var hsLength = 0
    private var hsBody: [UInt8] = []
    private var hsSkip = 0
    private var hsFrames: [(start: Int, frame: Int)] = []
    private var hsFirstFrame = 0
    // Alert layer.
    private var alertBuf: [UInt8] = []
    private var ccsBytes = 0

    public private(set) var recordCount = 0
    public private(set) var applicationDataRecords = 0
    public private(set) var applicationDataBytes = 0
    /// Bytes not parsed because the stream was given up on (not TLS, bad record header).
    public private(set) var ignoredBytes = 0

    public let limits: TLSParserLimits
    private var dead = false
    private var finished = false
    private var recordType: UInt8 = 0
    private var inRecord = false
    private var hsType: UInt8 = 0
    private var hsActive = false
    /// True after this direction sent ChangeCipherSpec (later handshake/alert records are encrypted).
    public private(set) var encrypted = false
    /// True after a ServerHello negotiating TLS 1.3 was seen on this direction.
    public private(set) var negotiatedTLS13 = false
    public var bytesFed: Int { base }

    public init(limits: TLSParserLimits = TLSParserLimits()) {
        self.limits = limits
    }

    /// Returns and clears the events produced so far.
    public mutating func takeEvents() -> [TLSEvent] {
        defer { events = [] }
        return events
    }

    /// Feeds stream bytes that arrived in capture frame `frame`.
    public mutating func feed(_ b: UnsafeRawBufferPointer, frame: Int) {
        guard !finished else { return }
        var i = 0
        while i < b.count {
            if dead { ignoredBytes += b.count - i; break }
            if !inRecord {
                let need = 5 - header.count
                let take = min(need, b.count - i)
                if header.isEmpty { recordFirstFrame = frame }
                header.append(contentsOf: b[i..<(i + take)])
                i += take
                if header.count == 5 { startRecord(frame: frame, offset: base + i - 5) }
                else if recordCount == 0 && header.count >= 3 && !plausiblePrefix() { reject(frame: frame, offset: base + i) }
                continue
            }
            let take = min(recordRemaining, b.count - i)
            recordBytes(UnsafeRawBufferPointer(rebasing: b[i..<(i + take)]), frame: frame)
            i += take
            recordRemaining -= take
            if recordRemaining == 0 { endRecord(frame: frame) }
        }
        base += b.count
    }

    /// Convenience for owned bytes.
    public mutating func feed(_ bytes: [UInt8], frame: Int) {
        bytes.withUnsafeBytes { feed($0, frame: frame) }
    }

    /// End of stream: reports a record or handshake message cut by the end (`tls.record_truncated`,
    /// `tls.handshake_truncated`).
    public mutating func finish() {
        guard !finished else { return }
        finished = true
        if dead { return }
        if inRecord || !header.isEmpty {
            let have = inRecord ? recordLength - recordRemaining : header.count
            anomaly("tls.record_truncated", inRecord ? "record of \(recordLength) bytes, \(have) seen" : "record header cut",
                    frame: recordFirstFrame)
        }
        if hsActive || !hsHeader.isEmpty {
            anomaly("tls.handshake_truncated", "handshake type \(hsType): \(hsBody.count) of \(hsLength) bytes", frame: hsFirstFrame)
        }
    }

    // MARK: - Records

    private func plausiblePrefix() -> Bool {
        (20...24).contains(header[0]) && header[1] == 3 && header[2] <= 4
    }

    private mutating func reject(frame: Int, offset: Int) {
        if header.count >= 3, header[0] & 0x80 != 0, header[2] == 0x01 {
            anomaly("tls.sslv2_client_hello", "SSLv2-framed ClientHello, not parsed", frame: frame, offset: offset)
        } else {
            anomaly(recordCount == 0 ? "tls.not_tls" : "tls.bad_record_header", "bytes \(Hex.string(header))",
                    frame: frame, offset: offset)
        }
        ignoredBytes += header.count
        header = []
        dead = true
    }

    private mutating func startRecord(frame: Int, offset: Int) {
        guard plausiblePrefix() else { reject(frame: frame, offset: offset); return }
        recordType = header[0]
        recordLength = Int(header[3]) << 8 | Int(header[4])
        recordRemaining = recordLength
        header = []
        recordCount += 1
        if recordLength > 16384 + 2048 {
            anomaly("tls.record_too_long", "\(recordLength) bytes", frame: frame, offset: offset)
        }
        if (hsActive || !hsHeader.isEmpty) && recordType != 22 && recordType != 20 && !encrypted {
            anomaly("tls.handshake_interleaved", "record type \(recordType) inside a handshake message", frame: frame, offset: offset)
        }
        if recordType == 23 {
            applicationDataRecords += 1
            applicationDataBytes += recordLength
            if applicationDataRecords == 1 { events.append(.applicationData(firstFrame: frame)) }
        }
        if recordLength == 0 {
            if recordType != 23 { anomaly("tls.empty_record", "type \(recordType)", frame: frame, offset: offset) }
            endRecord(frame: frame)
            return
        }
        inRecord = true
    }

    private mutating func recordBytes(_ b: UnsafeRawBufferPointer, frame: Int) {
        switch recordType {
        case 22:
            if !encrypted { handshakeBytes(b, frame: frame) }
        case 21:
            if !encrypted { alertBuf.append(contentsOf: b) }
        case 20:
            ccsBytes += b.count
        default:
            break
        }
    }

    private mutating func endRecord(frame: Int) {
        inRecord = false
        switch recordType {
        case 20:
            if recordLength != 1 { anomaly("tls.bad_change_cipher_spec", "length \(recordLength)", frame: frame) }
            events.append(.changeCipherSpec(frame: frame))
            if hsActive || !hsHeader.isEmpty {
                anomaly("tls.handshake_truncated", "ChangeCipherSpec inside handshake type \(hsType)", frame: frame)
                resetHandshake()
            }
            encrypted = true
        case 21:
            if encrypted {
                events.append(.alert(TLSAlert(level: nil, description: nil, encrypted: true, frame: frame)))
            } else {
                var k = 0
                while k + 1 < alertBuf.count {
                    events.append(.alert(TLSAlert(level: alertBuf[k], description: alertBuf[k + 1], encrypted: false, frame: frame)))
                    k += 2
                }
                if k < alertBuf.count {
                    anomaly("tls.alert_truncated", "odd alert record length \(recordLength)", frame: frame)
                }
                alertBuf = []
            }
        default:
            break
        }
        ccsBytes = 0
    }

    // MARK: - Handshake messages

    private mutating func resetHandshake() {
        hsHeader = []
        hsBody = []
        hsFrames = []
        hsActive = false
        hsSkip = 0
    }

    private mutating func handshakeBytes(_ b: UnsafeRawBufferPointer, frame: Int) {
        var i = 0
        while i < b.count {
            if hsSkip > 0 {
                let take = min(hsSkip, b.count - i)
                hsSkip -= take
                i += take
                continue
            }
            if !hsActive {
                if hsHeader.isEmpty { hsFirstFrame = frame }
                let take = min(4 - hsHeader.count, b.count - i)
                hsHeader.append(contentsOf: b[i..<(i + take)])
                i += take
                guard hsHeader.count == 4 else { continue }
                hsType = hsHeader[0]
                hsLength = Int(hsHeader[1]) << 16 | Int(hsHeader[2]) << 8 | Int(hsHeader[3])
                hsHeader = []
                if hsLength > limits.maxHandshakeBytes {
                    anomaly("tls.handshake_too_long", "type \(hsType) declares \(hsLength) bytes (cap \(limits.maxHandshakeBytes))", frame: frame)
                    hsSkip = hsLength
                    continue
                }
                hsActive = true
                hsBody = []
                hsBody.reserveCapacity(min(hsLength, 64 * 1024))
                hsFrames = [(0, hsFirstFrame)]
                if hsLength == 0 { completeHandshake(frame: frame) }
                continue
            }
            let take = min(hsLength - hsBody.count, b.count - i)
            if hsFrames.last?.frame != frame { hsFrames.append((hsBody.count, frame)) }
            hsBody.append(contentsOf: b[i..<(i + take)])
            i += take
            if hsBody.count == hsLength { completeHandshake(frame: frame) }
        }
    }

    private func frameOf(_ offset: Int) -> Int {
        var f = hsFrames.first?.frame ?? 0
        for run in hsFrames where run.start <= offset { f = run.frame }
        return f
    }

    private mutating func completeHandshake(frame: Int) {
        let body = hsBody
        let type = hsType
        let first = hsFirstFrame
        let frames = hsFrames
        resetHandshake()
        var anomalies: [TLSAnomaly] = []
        switch type {
        case 1:
            if let h = body.withUnsafeBytes({ TLSClientHello.parse(handshakeBody: $0, firstFrame: first, lastFrame: frame,
                                                                      fingerprints: limits.fingerprints, anomalies: &anomalies) }) {
                events.append(.clientHello(h))
            }
        case 2:
            if let h = body.withUnsafeBytes({ TLSServerHello.parse(handshakeBody: $0, firstFrame: first, lastFrame: frame,
                                                                      fingerprints: limits.fingerprints, anomalies: &anomalies) }) {
                if h.isTLS13 && !h.isHelloRetryRequest { negotiatedTLS13 = true }
                events.append(.serverHello(h))
            }
        case 11:
            hsFrames = frames
            let chain = parseCertificate(body, firstFrame: first, lastFrame: frame, anomalies: &anomalies)
            hsFrames = []
            events.append(.certificate(chain))
        default:
            events.append(.handshake(type: type, length: body.count, firstFrame: first, lastFrame: frame))
        }
        for a in anomalies { events.append(.anomaly(a)) }
    }

    /// Certificate message (RFC 5246 §7.4.2: `opaque ASN.1Cert<1..2^24-1>; certificate_list<0..2^24-1>`;
    /// RFC 8446 §4.4.2 adds a request context and per-entry extensions).
    private func parseCertificate(_ body: [UInt8], firstFrame: Int, lastFrame: Int, anomalies: inout [TLSAnomaly]) -> TLSCertificateChain {
        body.withUnsafeBytes { b in
            var r = ByteReader(b)
            // TLS 1.3 layout when this direction negotiated 1.3, or when the 1.2 reading is impossible and the
            // 1.3 one fits (one context byte, then a list length that matches the rest).
            var tls13 = negotiatedTLS13
            if !tls13, let l12 = r.get24(at: 0), l12 + 3 != b.count, let ctx = r.get8(at: 0),
               let l13 = r.get24(at: 1 + Int(ctx)), l13 + 4 + Int(ctx) == b.count {
                tls13 = true
            }
            var chain = TLSCertificateChain(certificates: [], tls13Layout: tls13, wellFormed: true,
                                            firstFrame: firstFrame, lastFrame: lastFrame)
            if tls13 {
                guard let ctx = r.read8(), r.skip(Int(ctx)) else {
                    anomalies.append(TLSAnomaly("tls.certificate_list_length_mismatch", "request context cut", frame: lastFrame))
                    chain.wellFormed = false
                    return chain
                }
            }
            guard let listLen = r.read24() else {
                anomalies.append(TLSAnomaly("tls.certificate_list_length_mismatch", "list length cut", frame: lastFrame))
                chain.wellFormed = false
                return chain
            }
            var list: ByteReader
            if listLen != r.remaining {
                anomalies.append(TLSAnomaly("tls.certificate_list_length_mismatch",
                                            "list declares \(listLen) bytes, \(r.remaining) present", frame: lastFrame))
                chain.wellFormed = false
            }
            list = ByteReader(b, offset: r.offset, end: r.offset + min(listLen, r.remaining))
            if listLen == 0 { anomalies.append(TLSAnomaly("tls.empty_certificate_chain", "", frame: lastFrame)) }
            while !list.isAtEnd {
                guard chain.certificates.count < limits.maxCertificates else {
                    anomalies.append(TLSAnomaly("tls.too_many_certificates", "cap \(limits.maxCertificates)", frame: lastFrame))
                    break
                }
                let start = list.offset
                guard let certLen = list.read24() else {
                    anomalies.append(TLSAnomaly("tls.certificate_length_overrun", "certificate length cut at \(start)", frame: lastFrame))
                    chain.wellFormed = false
                    break
                }
                guard let der = list.readBytes(certLen) else {
                    anomalies.append(TLSAnomaly("tls.certificate_length_overrun",
                                                "certificate \(chain.certificates.count) declares \(certLen) bytes, \(list.remaining) left",
                                                frame: lastFrame))
                    chain.wellFormed = false
                    break
                }
                let info = TLSCertificateInfo.summarize(der: der, index: chain.certificates.count,
                                                        firstFrame: frameOf(start), lastFrame: frameOf(list.offset - 1))
                if let err = info.parseError {
                    anomalies.append(TLSAnomaly("tls.certificate_der_error", "certificate \(info.index): \(err)", frame: lastFrame))
                }
                chain.certificates.append(info)
                if tls13 {
                    guard let extLen = list.read16(), list.skip(Int(extLen)) else {
                        anomalies.append(TLSAnomaly("tls.certificate_length_overrun", "entry extensions cut", frame: lastFrame))
                        chain.wellFormed = false
                        break
                    }
                }
            }
            return chain
        }
    }

    private mutating func anomaly(_ name: String, _ detail: String, frame: Int, offset: Int? = nil) {
        events.append(.anomaly(TLSAnomaly(name, detail, frame: frame, offset: offset)))
    }
}
