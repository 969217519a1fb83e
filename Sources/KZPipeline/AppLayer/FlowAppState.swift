import KZDetect
import KZFlow
import KZProtocols
import KZSignatures
import KZWire

/// What the application-layer parsers learned about one TCP flow. Parsers are chosen by content
/// (`ProtocolSniffer`), ports only as a hint: HTTP on 8080, TLS on 8443 or on port 80, DNS on TCP 53.
/// A class: one heap object per TCP flow that carried data, referenced from `PipelineSink.apps`, so feeding it never
/// copies parser state and the table holds 8 bytes per flow rather than the whole state at the table's load factor.
final class FlowAppState {
    /// The parsers of one protocol live in a box of their own, allocated for that protocol only: an HTTP flow does not
    /// carry empty TLS parsers inline, nor a TLS flow two HTTP parsers (about 1.9 KiB per flow before).
    final class HTTPParsers {
        var request: HTTPStreamParser
        var response: HTTPStreamParser
        init(limits: HTTPParserLimits) {
            request = HTTPStreamParser(role: .request, limits: limits)
            response = HTTPStreamParser(role: .response, limits: limits)
        }
    }

    final class TLSParsers {
        var client: TLSStreamParser
        var server: TLSStreamParser
        init(fingerprints: Bool) {
            let limits = TLSParserLimits(fingerprints: fingerprints)
            client = TLSStreamParser(limits: limits)
            server = TLSStreamParser(limits: limits)
        }
    }

    /// What the TLS parsers saw (full state; allocated with the first hello or certificate).
    final class TLSSeen {
        var clientHello: TLSClientHello?
        var serverHello: TLSServerHello?
        var chain: TLSCertificateChain?
    }

    /// What the detectors read of a TLS handshake (lean state; allocated with the first hello or certificate): the
    /// first hello's and certificate message's frames, the server name, the negotiated version and the certificate
    /// summaries, without the hello and chain values they came from.
    final class TLSFacts {
        var clientHelloFrame: Int?
        var sni: String?
        var serverHelloFrame: Int?
        var negotiatedVersion: UInt16?
        var isTLS13 = false
        var certificateFrame: Int?
        var certificates: [CertificateEvent] = []
    }

    /// Shared by every flow of a capture.
    final class Config: Sendable {
        /// Keep only what the detectors read (the views need everything). Each HTTP message is kept in its detector
        /// form as it completes (a response's body reduced to its block-page facts), and a TLS handshake as
        /// `TLSFacts`. A live flow then costs its parsers' in-progress state, not every message it carried.
        let lean: Bool
        let signatures: SignatureDatabase?
        /// False when no detector runs (the flow and DNS views): lean state then drops bodies without judging them.
        let detect: Bool
        init(lean: Bool, signatures: SignatureDatabase?, detect: Bool = true) {
            self.lean = lean
            self.signatures = signatures
            self.detect = detect
        }
        static let full = Config(lean: false, signatures: nil)
    }

    var app: AppProtocol?
    private var http: HTTPParsers?
    private var tls: TLSParsers?
    private var seen: TLSSeen?
    private var facts: TLSFacts?
    private var dnsFramers: [DNSOverTCPFramer] = []
    /// Every request and response as parsed (full state only: the views print them).
    var httpRequests: [HTTPRequest] = []
    var httpResponses: [HTTPResponse] = []
    /// Lean state keeps each request and final response in its detector form from the moment it completes: no
    /// header list, version, hashes or body of a request; no reason, version or raw hash of a response, and no interim
    /// (1xx) response at all. A keep-alive connection that stays open to the end then costs its messages' events.
    private var requestEvents: [HTTPRequestEvent] = []
    private var responseEvents: [HTTPResponseEvent] = []
    var alerts: [TLSAlert] = []
    var anomalies: [ProtocolAnomaly] = []
    let config: Config

    var clientHello: TLSClientHello? { seen?.clientHello }
    var serverHello: TLSServerHello? { seen?.serverHello }
    var chain: TLSCertificateChain? { seen?.chain }

    init(config: Config = .full) {
        self.config = config
    }

    /// Keeps a parser anomaly; only its name and frame are read (`PipelineSink.flowClosed`), so lean state drops the
    /// text.
    private func note(_ a: ProtocolAnomaly) {
        var a = a
        if config.lean { a.detail = "" }
        anomalies.append(a)
    }

    private func keep(_ r: HTTPRequest) {
        if config.lean {
            requestEvents.append(HTTPRequestEvent(frame: r.firstFrame, method: r.method, target: r.target, host: r.host))
        } else {
            httpRequests.append(r)
        }
    }

    private func keep(_ r: HTTPResponse) {
        guard config.lean else {
            httpResponses.append(r)
            return
        }
        guard !r.isInterim else { return }
        let headers = r.headers.map { KZDetect.HTTPHeader(name: $0.name, value: $0.value) }
        var facts: HTTPBodyFacts?
        if config.detect, let db = config.signatures {
            facts = BlockPageDetector.bodyFacts(body: r.body.captured, headers: headers, status: r.status,
                                                signatures: db, bodySHA256: r.body.sha256, bodyIsPrefix: r.body.truncated)
        }
        // With the body facts taken, the block-page detector reads one header: Location, of a redirect
        // (`BlockPageDetector.signatureSignals`). The others (2.3 MB of header lists on the 1 GiB reference's live
        // flows) are dropped; `header(_:)` finds the first Location, kept here.
        let kept = facts == nil ? headers
            : BlockPageDetector.redirectStatuses.contains(r.status)
            ? headers.first { $0.name.equalsASCIICaseInsensitive("location") }.map { [$0] } ?? [] : []
        responseEvents.append(Self.event(r, headers: kept,
                                         body: facts != nil || !config.detect ? [] : r.body.captured, facts: facts))
    }

    /// The detector form of a final response.
    private static func event(_ r: HTTPResponse, headers: [KZDetect.HTTPHeader], body: [UInt8],
                              facts: HTTPBodyFacts?) -> HTTPResponseEvent {
        HTTPResponseEvent(firstFrame: r.firstFrame, lastFrame: r.lastFrame, status: r.status, headers: headers,
                          body: body, bodySHA256: r.body.sha256, complete: r.complete, bodyFacts: facts)
    }

    /// Bodies are kept (decoded) up to 16 KiB each until the flow's event: several times the largest block page in
    /// Signatures/ (a few KiB) while the live flows of a large capture stay cheap; the parser's SHA-256 still covers
    /// each whole body, and `HTTPBody.truncated` says when the kept part is a prefix.
    static let httpLimits = HTTPParserLimits(maxBodyBytes: 16 * 1024)

    func start(_ app: AppProtocol) {
        self.app = app
        switch app {
        case .http:
            http = HTTPParsers(limits: Self.httpLimits)
        case .tls:
            tls = TLSParsers(fingerprints: !config.lean)
        case .dns:
            dnsFramers = [DNSOverTCPFramer(), DNSOverTCPFramer()]
        default:
            break
        }
    }

    /// Feeds in-order stream bytes of one direction (forward = originator → responder).
    func feed(_ bytes: UnsafeRawBufferPointer, forward: Bool, frame: Int, dns: (DNSMessage, Bool, Int) -> Void) {
        switch app {
        case .http?:
            guard let h = http else { return }
            if forward {
                h.request.feed(bytes, frame: frame)
                drainHTTP(request: true)
            } else {
                h.response.feed(bytes, frame: frame)
                drainHTTP(request: false)
            }
        case .tls?:
            guard let t = tls else { return }
            if forward { t.client.feed(bytes, frame: frame) } else { t.server.feed(bytes, frame: frame) }
            drainTLS()
        case .dns?:
            let i = forward ? 0 : 1
            dnsFramers[i].feed(bytes, frame: frame)
            while let m = dnsFramers[i].next() {
                let r = DNSMessage.parse(m.message)
                for a in r.anomalies { note(a) }
                if let msg = r.message { dns(msg, forward, m.lastFrame) }
            }
        default:
            break
        }
    }

    func finish() {
        if let h = http {
            h.request.finish()
            drainHTTP(request: true)
            h.response.finish()
            drainHTTP(request: false)
        }
        if let t = tls {
            t.client.finish()
            t.server.finish()
            drainTLS()
        }
    }

    private func drainHTTP(request: Bool) {
        guard let h = http else { return }
        if request {
            let events = h.request.takeEvents()
            for e in events {
                switch e {
                case .request(let r):
                    keep(r)
                    h.response.noteRequestMethod(r.method)
                case .response(let r): keep(r)
                case .anomaly(let a): note(a)
                }
            }
        } else {
            let events = h.response.takeEvents()
            for e in events {
                switch e {
                case .response(let r): keep(r)
                case .request(let r): keep(r)
                case .anomaly(let a): note(a)
                }
            }
        }
    }

    private func drainTLS() {
        guard let t = tls else { return }
        for side in 0..<2 {
            let events = side == 0 ? t.client.takeEvents() : t.server.takeEvents()
            for e in events {
                switch e {
                case .clientHello(let h) where config.lean:
                    let f = tlsFacts()
                    if f.clientHelloFrame == nil {
                        f.clientHelloFrame = h.firstFrame
                        f.sni = h.serverName
                    }
                case .serverHello(let h) where config.lean:
                    let f = tlsFacts()
                    if f.serverHelloFrame == nil {
                        f.serverHelloFrame = h.firstFrame
                        f.negotiatedVersion = h.negotiatedVersion
                        f.isTLS13 = h.isTLS13
                    }
                case .certificate(let c) where config.lean:
                    let f = tlsFacts()
                    if f.certificateFrame == nil {
                        f.certificateFrame = c.firstFrame
                        f.certificates = Self.certificateEvents(c)
                    }
                case .clientHello(let h):
                    let seen = tlsSeen()
                    if seen.clientHello == nil { seen.clientHello = h }
                case .serverHello(let h):
                    let seen = tlsSeen()
                    if seen.serverHello == nil { seen.serverHello = h }
                case .certificate(var c):
                    // Everything downstream uses the summary (names, dates, hashes); the DER would stay in memory
                    // until the flow ends, for every live TLS flow.
                    for i in c.certificates.indices { c.certificates[i].der = [] }
                    let seen = tlsSeen()
                    if seen.chain == nil { seen.chain = c }
                case .alert(let a): alerts.append(a)
                case .anomaly(let a): note(a)
                default: break
                }
            }
        }
    }

    private func tlsSeen() -> TLSSeen {
        if let s = seen { return s }
        let s = TLSSeen()
        seen = s
        return s
    }

    private func tlsFacts() -> TLSFacts {
        if let f = facts { return f }
        let f = TLSFacts()
        facts = f
        return f
    }

    /// The detector form of a certificate chain's summaries.
    private static func certificateEvents(_ chain: TLSCertificateChain?) -> [CertificateEvent] {
        (chain?.certificates ?? []).map { c in
            CertificateEvent(subject: c.subject ?? "", issuer: c.issuer ?? "", subjectCN: c.subjectCN, issuerCN: c.issuerCN,
                             serialHex: c.serialHex ?? "", notBefore: c.notBefore ?? "", notAfter: c.notAfter ?? "",
                             sans: c.sanDNSNames + c.sanIPAddresses, sha256: c.sha256, sha1: c.sha1,
                             spkiSHA256: c.spkiSHA256 ?? "")
        }
    }

    /// The detector view of what was parsed.
    func detectorHTTP() -> ([HTTPRequestEvent], [HTTPResponseEvent]) {
        if config.lean { return (requestEvents, responseEvents) }
        let reqs = httpRequests.map { HTTPRequestEvent(frame: $0.firstFrame, method: $0.method, target: $0.target, host: $0.host) }
        let resps = httpResponses.filter { !$0.isInterim }.map { r in
            Self.event(r, headers: r.headers.map { KZDetect.HTTPHeader(name: $0.name, value: $0.value) },
                       body: r.body.captured, facts: nil)
        }
        return (reqs, resps)
    }

    func detectorTLS() -> KZDetect.TLSEvent? {
        if config.lean {
            guard app == .tls || facts?.clientHelloFrame != nil else { return nil }
            return KZDetect.TLSEvent(clientHelloFrame: facts?.clientHelloFrame, sni: facts?.sni,
                                     serverHelloFrame: facts?.serverHelloFrame,
                                     negotiatedVersion: facts?.negotiatedVersion, certificateFrame: facts?.certificateFrame,
                                     chain: facts?.certificates ?? [], alertFrames: alerts.map(\.frame),
                                     isTLS13: facts?.isTLS13 ?? false)
        }
        guard app == .tls || clientHello != nil else { return nil }
        return KZDetect.TLSEvent(clientHelloFrame: clientHello?.firstFrame, sni: clientHello?.serverName,
                                 serverHelloFrame: serverHello?.firstFrame, negotiatedVersion: serverHello?.negotiatedVersion,
                                 certificateFrame: chain?.firstFrame, chain: Self.certificateEvents(chain),
                                 alertFrames: alerts.map(\.frame), isTLS13: serverHello?.isTLS13 ?? false)
    }
}
