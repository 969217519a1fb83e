import ArgumentParser
import KZFlow
import KZPipeline
import KZProtocols
import KZReport
import KZWire

enum ViewFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl
}

/// Runs the pipeline collecting the rows of `views` and returns per-capture results.
func collectViews(_ capture: CaptureOptions, _ views: ViewSet, files: [String]? = nil,
                  flowRowHandler: FlowRowHandler? = nil) throws -> [CaptureResult] {
    var o = AnalysisOptions()
    o.views = views
    o.detect = false
    o.filter = capture.filter
    o.engine = try capture.engine()
    guard capture.threads >= 1 else { throw ValidationError("--threads must be 1 or more") }
    o.threads = capture.threads
    o.flowRowHandler = flowRowHandler
    let outcome: AnalysisOutcome
    do { outcome = try Analyzer.run(paths: files ?? capture.files, options: o) } catch {
        // A bad --filter (or signature set): a usage error, exit status 2 as for `analyze`.
        StdStream.err.write("kzforensics: \(error)\n")
        throw ExitCode(2)
    }
    for c in outcome.captures where c.error != nil {
        StdStream.err.write("kzforensics: warning: \(c.error!)\n")
    }
    if outcome.nothingReadable { throw ExitCode(1) }
    return outcome.captures
}

struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows",
        abstract: "One row per flow: endpoints, protocol, times, packets and payload bytes per direction, Zeek conn_state and history, TTL ranges, anomalies.",
        discussion: """
        conn_state and history have Zeek's conn.log meaning (S0, S1, SF, REJ, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
        Rows come in order of first frame. Each row is formatted when its flow closes and spooled to an unlinked
        temporary file in $TMPDIR (about 300 bytes per flow on disk, 24 in memory), so memory does not grow with the
        capture's flow count.
        Examples:
          kzforensics flows capture.pcap
          kzforensics flows capture.pcap --format jsonl --filter 'tcp'
        """
    )
    @OptionGroup var capture: CaptureOptions
    @Option(help: "text or jsonl.") var format: ViewFormat = .text

    func run() throws {
        var out = OutputBuffer()
        let format = self.format
        var unreadable = 0
        // One capture at a time: its rows are drained (in first-frame order) before the next capture starts.
        for file in capture.files {
            let spool = LineSpool()
            if let why = spool.fallbackReason { StdStream.err.write("kzforensics: warning: \(why); rows are kept in memory\n") }
            do {
                _ = try collectViews(capture, .flows, files: [file]) { path, row in
                    FlowsCommand.line(row, capture: path, format: format).withUnsafeBytes {
                        spool.append(bytes: $0, major: 0, key: row.firstFrame)
                    }
                }
            } catch let e as ExitCode where e == ExitCode(1) {
                unreadable += 1
                continue
            }
            do {
                try spool.drain { out.line(bytes: $0) }
            } catch {
                StdStream.err.write("kzforensics: \(error)\n")
                throw ExitCode(1)
            }
        }
        out.flush()
        if unreadable == capture.files.count { throw ExitCode(1) }
    }

    /// One row as the view prints it, as UTF-8 bytes (built in place: this runs once per flow).
    static func line(_ r: FlowRow, capture: String, format: ViewFormat) -> [UInt8] {
        let proto = r.proto.name
        if format == .text {
            var b: [UInt8] = []
            b.reserveCapacity(160)
            func s(_ t: String) { b.append(contentsOf: t.utf8) }
            func n(_ v: Int) { JSONText.appendInt(v, to: &b) }
            func ttl(_ d: FlowRow.Side) {
                if d.ttl.isEmpty { b.append(0x2D); return }
                n(Int(d.ttl.min)); b.append(0x2D); n(Int(d.ttl.max))
            }
            r.firstTimestamp.appendText(to: &b)
            s(" "); s(proto); s(" ")
            r.originator.address.appendText(port: r.originator.port, to: &b)
            s(" -> ")
            r.responder.address.appendText(port: r.responder.port, to: &b)
            s(" "); s(r.connState.rawValue); s(" "); s(r.history.isEmpty ? "-" : r.history)
            s(" pkts "); n(r.forward.packets); s("/"); n(r.reverse.packets)
            s(" bytes "); n(r.forward.payloadBytes); s("/"); n(r.reverse.payloadBytes)
            s(" ttl "); ttl(r.forward); s("/"); ttl(r.reverse)
            s(" dur "); s(String(format: "%.6f", r.duration))
            if !r.anomalies.isEmpty {
                s(" [")
                for (i, a) in r.anomalies.enumerated() {
                    if i > 0 { s(",") }
                    s(a.name); s("="); n(a.count)
                }
                s("]")
            }
            return b
        }
        var w = JSONObjectWriter()
        w.string("capture", capture)
        w.int("first_frame", r.firstFrame)
        w.int("last_frame", r.lastFrame)
        w.plainString("ts") { r.firstTimestamp.appendText(to: &$0) }
        w.plainString("last_ts") { r.lastTimestamp.appendText(to: &$0) }
        w.string("proto", proto)
        w.plainString("orig") { r.originator.address.appendText(port: r.originator.port, to: &$0) }
        w.plainString("resp") { r.responder.address.appendText(port: r.responder.port, to: &$0) }
        if r.vlan != 0 { w.int("vlan", r.vlan) }
        w.string("roles_from", r.roleSource.rawValue)
        w.string("conn_state", r.connState.rawValue)
        w.string("history", r.history)
        w.int("orig_pkts", r.forward.packets)
        w.int("resp_pkts", r.reverse.packets)
        w.int("orig_bytes", r.forward.payloadBytes)
        w.int("resp_bytes", r.reverse.payloadBytes)
        if !r.forward.ttl.isEmpty { w.intArray("orig_ttl", [r.forward.ttl.min, r.forward.ttl.max]) }
        if !r.reverse.ttl.isEmpty { w.intArray("resp_ttl", [r.reverse.ttl.min, r.reverse.ttl.max]) }
        var a = JSONObjectWriter()
        for x in r.anomalies { a.int(x.name, x.count) }
        w.raw("anomalies", a.finished())
        w.int("overlap_conflicts", r.overlapConflictCount)
        w.int("gaps", r.gapCount)
        return w.finishedBytes()
    }
}

struct DNSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "One row per DNS query with every response in arrival order (frame, source, IP TTL, IP ID, delay, answers).",
        discussion: """
        Several responses to one query are the mark of DNS injection: this view shows all of them.
        Example:
          kzforensics dns capture.pcap --format jsonl
        """
    )
    @OptionGroup var capture: CaptureOptions
    @Option(help: "text or jsonl.") var format: ViewFormat = .text

    func run() throws {
        var out = OutputBuffer()
        for c in try collectViews(capture, .dns) {
            for t in c.dnsTransactions {
                if format == .text {
                    var s = "frame \(t.queryFrame) \(t.transport) \(t.client.withPort(t.clientPort)) -> \(t.resolver.withPort(t.resolverPort)) id \(t.id) \(t.qname) \(DNSType.name(t.qtype))"
                    if t.responses.isEmpty { s += "  (no response)" }
                    for (i, r) in t.responses.enumerated() {
                        let delay = Double(r.time.nanoseconds - t.queryTime.nanoseconds) / 1e6
                        s += "\n    #\(i + 1) frame \(r.frame) from \(r.source) ttl \(r.ttl) ipid \(r.ipID) +\(String(format: "%.3f", delay)) ms rcode \(r.rcode): "
                            + (r.answers.isEmpty ? "-" : r.answers.joined(separator: ", "))
                    }
                    out.line(s)
                } else {
                    var w = JSONObjectWriter()
                    w.string("capture", c.path)
                    w.int("query_frame", t.queryFrame)
                    w.string("ts", t.queryTime.description)
                    w.string("transport", t.transport)
                    w.string("client", t.client.withPort(t.clientPort))
                    w.string("resolver", t.resolver.withPort(t.resolverPort))
                    w.int("id", t.id)
                    w.string("qname", t.qname)
                    w.string("qtype", DNSType.name(t.qtype))
                    let rs = t.responses.enumerated().map { (i, r) -> String in
                        var x = JSONObjectWriter()
                        x.int("order", i + 1)
                        x.int("frame", r.frame)
                        x.string("src", r.source.description)
                        x.int("ttl", r.ttl)
                        x.int("ip_id", r.ipID)
                        x.int("delay_us", (r.time.nanoseconds - t.queryTime.nanoseconds) / 1000)
                        x.int("rcode", r.rcode)
                        x.raw("answers", "[" + r.answers.map { JSONText.quote($0) }.joined(separator: ",") + "]")
                        return x.finished()
                    }
                    w.raw("responses", "[" + rs.joined(separator: ",") + "]")
                    out.line(w.finished())
                }
            }
        }
        out.flush()
    }
}

struct HTTPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "One row per HTTP request with its response status, body SHA-256 and frames (content-detected, any port).",
        discussion: """
        Example:
          kzforensics http capture.pcap --format jsonl
        """
    )
    @OptionGroup var capture: CaptureOptions
    @Option(help: "text or jsonl.") var format: ViewFormat = .text

    func run() throws {
        var out = OutputBuffer()
        for c in try collectViews(capture, .http) {
            for row in c.httpRows {
                let q = row.request, r = row.response
                if format == .text {
                    var s = "\(row.client) -> \(row.server) "
                    if let q { s += "frame \(q.firstFrame) \(q.method) \(q.host ?? "-") \(q.target)" } else { s += "(no request seen)" }
                    if let r { s += " => \(r.status) \(r.reason) frames \(r.firstFrame)-\(r.lastFrame) body \(r.body.decodedLength) B sha256 \(r.body.sha256.prefix(16))…" }
                    else { s += " => (no response)" }
                    for x in row.extraResponses { s += "\n    extra response frames \(x.firstFrame)-\(x.lastFrame): \(x.status) \(x.reason)" }
                    out.line(s)
                } else {
                    var w = JSONObjectWriter()
                    w.string("capture", c.path)
                    w.string("client", row.client)
                    w.string("server", row.server)
                    if let q {
                        w.int("request_frame", q.firstFrame)
                        w.string("method", q.method)
                        if let h = q.host { w.string("host", h) }
                        w.string("target", q.target)
                    }
                    if let r {
                        w.int("response_frame", r.firstFrame)
                        w.int("response_last_frame", r.lastFrame)
                        w.int("status", r.status)
                        w.int("body_len", r.body.decodedLength)
                        w.string("body_sha256", r.body.sha256)
                        w.bool("complete", r.complete)
                    }
                    w.int("extra_responses", row.extraResponses.count)
                    out.line(w.finished())
                }
            }
        }
        out.flush()
    }
}

struct TLSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "One row per TLS handshake: SNI, versions, JA3/JA4, certificate chain summary (TLS 1.2 and earlier).",
        discussion: """
        TLS 1.3 encrypts certificates: such rows say so instead of showing a chain.
        Example:
          kzforensics tls capture.pcap --format jsonl
        """
    )
    @OptionGroup var capture: CaptureOptions
    @Option(help: "text or jsonl.") var format: ViewFormat = .text

    func run() throws {
        var out = OutputBuffer()
        for c in try collectViews(capture, .tls) {
            for row in c.tlsRows {
                let ch = row.clientHello, sh = row.serverHello
                if format == .text {
                    var s = "\(row.client) -> \(row.server) "
                    if let ch { s += "frame \(ch.firstFrame) SNI \(ch.serverName ?? "-") ja3 \(ch.ja3MD5) ja4 \(ch.ja4)" } else { s += "(no ClientHello)" }
                    if let sh { s += " => \(TLSVersion.name(sh.negotiatedVersion)) cipher 0x\(String(sh.cipherSuite, radix: 16))" }
                    if sh?.isTLS13 == true { s += " (certificates encrypted)" }
                    for cert in row.chain?.certificates ?? [] {
                        s += "\n    cert \(cert.index): \(cert.subject ?? "?") issued by \(cert.issuer ?? "?") sha256 \(cert.sha256.prefix(16))…"
                    }
                    for a in row.alerts { s += "\n    alert frame \(a.frame): \(a.descriptionName)" }
                    out.line(s)
                } else {
                    var w = JSONObjectWriter()
                    w.string("capture", c.path)
                    w.string("client", row.client)
                    w.string("server", row.server)
                    if let ch {
                        w.int("client_hello_frame", ch.firstFrame)
                        if let n = ch.serverName { w.string("sni", n) }
                        w.string("ja3", ch.ja3MD5)
                        w.string("ja4", ch.ja4)
                        w.raw("alpn", "[" + ch.alpn.map { JSONText.quote($0) }.joined(separator: ",") + "]")
                    }
                    if let sh {
                        w.int("server_hello_frame", sh.firstFrame)
                        w.string("version", TLSVersion.name(sh.negotiatedVersion))
                        w.int("cipher", sh.cipherSuite)
                        w.bool("certificates_encrypted", sh.isTLS13)
                    }
                    let certs = (row.chain?.certificates ?? []).map { cert -> String in
                        var x = JSONObjectWriter()
                        x.string("subject", cert.subject ?? "")
                        x.string("issuer", cert.issuer ?? "")
                        x.string("serial", cert.serialHex ?? "")
                        x.string("not_before", cert.notBefore ?? "")
                        x.string("not_after", cert.notAfter ?? "")
                        x.string("sha256", cert.sha256)
                        x.string("spki_sha256", cert.spkiSHA256 ?? "")
                        x.raw("san", "[" + (cert.sanDNSNames + cert.sanIPAddresses).map { JSONText.quote($0) }.joined(separator: ",") + "]")
                        return x.finished()
                    }
                    w.raw("chain", "[" + certs.joined(separator: ",") + "]")
                    w.raw("alerts", "[" + row.alerts.map { JSONText.quote($0.descriptionName) }.joined(separator: ",") + "]")
                    out.line(w.finished())
                }
            }
        }
        out.flush()
    }
}
