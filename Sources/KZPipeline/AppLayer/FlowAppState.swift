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
    var app: AppProtocol?
    var httpRequestParser: HTTPStreamParser?
    var httpResponseParser: HTTPStreamParser?
    var tlsClient: TLSStreamParser?
    var tlsServer: TLSStreamParser?
    var dnsFramers: [DNSOverTCPFramer] = []
    var httpRequests: [HTTPRequest] = []
    var httpResponses: [HTTPResponse] = []
    var clientHello: TLSClientHello?
    var serverHello: TLSServerHello?
    var chain: TLSCertificateChain?
    var alerts: [TLSAlert] = []
    var anomalies: [ProtocolAnomaly] = []
    /// Block-page facts of `httpResponses[i]`, taken when the response completed (lean mode with signatures).
    var httpResponseFacts: [HTTPBodyFacts?] = []
    /// Lean: keep only what the detectors read (the views need everything). Request bodies are dropped, a response's
    /// body is reduced to its block-page facts as soon as the response completes, and TLS hellos keep their frames,
    /// versions and server name but not their extension lists. A live flow then costs its parsers' in-progress state,
    /// not every message it carried.
    let lean: Bool
    let signatures: SignatureDatabase?

    /// Bodies are kept (decoded) up to 16 KiB each until the flow's event: several times the largest block page in
    /// Signatures/ (a few KiB) while the live flows of a large capture stay cheap; the parser's SHA-256 still covers
    /// each whole body, and `HTTPBody.truncated` says when the kept part is a prefix.
    static let httpLimits = HTTPParserLimits(maxBodyBytes: 16 * 1024)

    init(lean: Bool = false, signatures: SignatureDatabase? = nil) {
        self.lean = lean
        self.signatures = signatures
    }

    private func keep(_ r: HTTPRequest) {
        var r = r
        if lean { r.body.captured = [] }
        httpRequests.append(r)
    }

    private func keep(_ r: HTTPResponse) {
        var r = r
        var facts: HTTPBodyFacts?
        if lean, let db = signatures {
            facts = BlockPageDetector.bodyFacts(body: r.body.captured,
                                                headers: r.headers.map { KZDetect.HTTPHeader(name: $0.name, value: $0.value) },
                                                status: r.status, signatures: db)
            r.body.captured = []
        }
        httpResponses.append(r)
        httpResponseFacts.append(facts)
    }

    func start(_ app: AppProtocol) {
        self.app = app
        switch app {
        case .http:
            httpRequestParser = HTTPStreamParser(role: .request, limits: Self.httpLimits)
            httpResponseParser = HTTPStreamParser(role: .response, limits: Self.httpLimits)
        case .tls:
            tlsClient = TLSStreamParser()
            tlsServer = TLSStreamParser()
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
            if forward {
                httpRequestParser?.feed(bytes, frame: frame)
                drainHTTP(request: true)
            } else {
                httpResponseParser?.feed(bytes, frame: frame)
                drainHTTP(request: false)
            }
        case .tls?:
            if forward { tlsClient?.feed(bytes, frame: frame) } else { tlsServer?.feed(bytes, frame: frame) }
            drainTLS()
        case .dns?:
            let i = forward ? 0 : 1
            dnsFramers[i].feed(bytes, frame: frame)
            while let m = dnsFramers[i].next() {
                let r = DNSMessage.parse(m.message)
                anomalies.append(contentsOf: r.anomalies)
                if let msg = r.message { dns(msg, forward, m.lastFrame) }
            }
        default:
            break
        }
    }

    func finish() {
        httpRequestParser?.finish()
        drainHTTP(request: true)
        httpResponseParser?.finish()
        drainHTTP(request: false)
        tlsClient?.finish()
        tlsServer?.finish()
        drainTLS()
    }

    private func drainHTTP(request: Bool) {
        if request {
            guard var p = httpRequestParser else { return }
            let events = p.takeEvents()
            httpRequestParser = p
            for e in events {
                switch e {
                case .request(let r):
                    keep(r)
                    httpResponseParser?.noteRequestMethod(r.method)
                case .response(let r): keep(r)
                case .anomaly(let a): anomalies.append(a)
                }
            }
        } else {
            guard var p = httpResponseParser else { return }
            let events = p.takeEvents()
            httpResponseParser = p
            for e in events {
                switch e {
                case .response(let r): keep(r)
                case .request(let r): keep(r)
                case .anomaly(let a): anomalies.append(a)
                }
            }
        }
    }

    private func drainTLS() {
        for side in 0..<2 {
            var events: [KZProtocols.TLSEvent] = []
            if side == 0, var p = tlsClient { events = p.takeEvents(); tlsClient = p }
            if side == 1, var p = tlsServer { events = p.takeEvents(); tlsServer = p }
            for e in events {
                switch e {
                case .clientHello(var h):
                    if clientHello == nil {
                        if lean { h.dropDetail() }
                        clientHello = h
                    }
                case .serverHello(var h):
                    if serverHello == nil {
                        if lean { h.dropDetail() }
                        serverHello = h
                    }
                case .certificate(var c):
                    // Everything downstream uses the summary (names, dates, hashes); the DER would stay in memory
                    // until the flow ends, for every live TLS flow.
                    for i in c.certificates.indices { c.certificates[i].der = [] }
                    if chain == nil { chain = c }
                case .alert(let a): alerts.append(a)
                case .anomaly(let a): anomalies.append(a)
                default: break
                }
            }
        }
    }

    /// The detector view of what was parsed.
    func detectorHTTP() -> ([HTTPRequestEvent], [HTTPResponseEvent]) {
        let reqs = httpRequests.map { HTTPRequestEvent(frame: $0.firstFrame, method: $0.method, target: $0.target, host: $0.host) }
        let resps = httpResponses.indices.filter { !httpResponses[$0].isInterim }.map { i in
            let r = httpResponses[i]
            return HTTPResponseEvent(firstFrame: r.firstFrame, lastFrame: r.lastFrame, status: r.status,
                                     headers: r.headers.map { KZDetect.HTTPHeader(name: $0.name, value: $0.value) },
                                     body: r.body.captured, bodySHA256: r.body.sha256, complete: r.complete,
                                     bodyFacts: httpResponseFacts[i])
        }
        return (reqs, resps)
    }

    func detectorTLS() -> KZDetect.TLSEvent? {
        guard app == .tls || clientHello != nil else { return nil }
        let certs = (chain?.certificates ?? []).map { c in
            CertificateEvent(subject: c.subject ?? "", issuer: c.issuer ?? "", subjectCN: c.subjectCN, issuerCN: c.issuerCN,
                             serialHex: c.serialHex ?? "", notBefore: c.notBefore ?? "", notAfter: c.notAfter ?? "",
                             sans: c.sanDNSNames + c.sanIPAddresses, sha256: c.sha256, sha1: c.sha1,
                             spkiSHA256: c.spkiSHA256 ?? "")
        }
        return KZDetect.TLSEvent(clientHelloFrame: clientHello?.firstFrame, sni: clientHello?.serverName,
                                 serverHelloFrame: serverHello?.firstFrame, negotiatedVersion: serverHello?.negotiatedVersion,
                                 certificateFrame: chain?.firstFrame, chain: certs, alertFrames: alerts.map(\.frame),
                                 isTLS13: serverHello?.isTLS13 ?? false)
    }
}
