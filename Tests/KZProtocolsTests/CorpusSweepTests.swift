import Foundation
import Testing
@testable import KZProtocols

/// A sweep over ../shared/corpus: tshark supplies the packets (payload bytes, stream ids, sequence numbers) and, as
/// the oracle, its own dns.*, http.*, tls.* fields; our parsers run on a simple seq-ordered reassembly of the same
/// payloads. Needs tshark and the corpus, and takes minutes, so it runs only with KZ_CORPUS_SWEEP=1 (it prints a
/// line saying so otherwise). The integrator's end-to-end comparison (with KZFlow reassembly) supersedes it.
@Suite struct CorpusSweepTests {
    struct Packet { var frame: Int; var stream: Int; var tcp: Bool; var src: String; var sport: Int; var dport: Int
                    var seq: Int; var syn: Bool; var ack: Bool; var payload: [UInt8] }

    static func tshark(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func packets(_ file: String) -> [Packet] {
        let fields = ["frame.number", "tcp.stream", "udp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport",
                      "udp.srcport", "udp.dstport", "tcp.seq", "tcp.flags.syn", "tcp.flags.ack", "tcp.payload", "udp.payload"]
        guard let text = tshark(["-r", file, "-Y", "!icmp && !icmpv6 && (tcp || udp)", "-T", "fields", "-E", "separator=/t",
                                 "-E", "occurrence=f"] + fields.flatMap { ["-e", $0] }) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == fields.count, let frame = Int(f[0]) else { return nil }
            let tcp = !f[1].isEmpty
            let payload = Hex.decode(tcp ? f[12] : f[13]) ?? []
            return Packet(frame: frame, stream: Int(tcp ? f[1] : f[2]) ?? -1, tcp: tcp, src: f[3].isEmpty ? f[4] : f[3],
                          sport: Int(tcp ? f[5] : f[7]) ?? 0, dport: Int(tcp ? f[6] : f[8]) ?? 0, seq: Int(f[9]) ?? 0,
                          syn: f[10] == "1", ack: f[11] == "1", payload: payload)
        }
    }

    /// What our parsers say, keyed by the frame of each item's last byte.
    struct Ours {
        var dnsNames: [Int: [String]] = [:]
        var dnsA: [Int: [String]] = [:]
        var httpHosts: [Int: [String]] = [:]
        var httpCodes: [Int: [String]] = [:]
        var sni: [Int: [String]] = [:]
        var certs: [Int: [String]] = [:]
    }

    /// tshark's dns.a lists A records of every section, so compare against all of ours.
    static func allA(_ m: DNSMessage) -> [String] {
        (m.answers + m.authorities + m.additionals).compactMap { if case .a(let s) = $0.rdata { s } else { nil } }
    }

    static func runParsers(_ pkts: [Packet]) -> Ours {
        var ours = Ours()
        // UDP DNS.
        for p in pkts where !p.tcp && (p.sport == 53 || p.dport == 53 || p.sport == 5353 || p.dport == 5353) && !p.payload.isEmpty {
            let r = DNSMessage.parse(p.payload)
            if let m = r.message {
                ours.dnsNames[p.frame, default: []] += m.questions.map(\.name)
                ours.dnsA[p.frame, default: []] += Self.allA(m)
            }
        }
        // TCP streams.
        let byStream = Dictionary(grouping: pkts.filter(\.tcp), by: \.stream)
        for (_, sp) in byStream.sorted(by: { $0.key < $1.key }) {
            let syn = sp.first { $0.syn && !$0.ack }
            let clientKey: (String, Int)
            if let syn { clientKey = (syn.src, syn.sport) } else if let f = sp.first(where: { !$0.payload.isEmpty }) {
                clientKey = f.sport > f.dport ? (f.src, f.sport) : ("?", -1)
            } else { continue }
            var dirs: [[(frame: Int, bytes: [UInt8])]] = [[], []]
            var serverPort = syn?.dport ?? min(sp.first?.sport ?? 0, sp.first?.dport ?? 0)
            for k in 0..<2 {
                let mine = sp.filter { (($0.src == clientKey.0 && $0.sport == clientKey.1) == (k == 0)) && !$0.payload.isEmpty }
                    .enumerated().sorted { ($0.element.seq, $0.offset) < ($1.element.seq, $1.offset) }.map(\.element)
                var covered = Int.min
                for p in mine {
                    var b = p.payload[...]
                    let end = p.seq + b.count
                    if covered != Int.min && end <= covered { continue }
                    if covered != Int.min && p.seq < covered { b = b.dropFirst(covered - p.seq) }
                    covered = end
                    dirs[k].append((p.frame, Array(b)))
                }
            }
            if syn == nil, clientKey.1 == -1, let f = sp.first { serverPort = min(f.sport, f.dport) }
            // Each direction is recognised on its own first bytes (a server may answer a DNS-shaped probe on port
            // 80 with an HTTP error page); an empty direction takes the other's guess.
            let port = UInt16(clamping: serverPort)
            var guesses = dirs.map { ProtocolSniffer.guess(firstBytes: $0.first?.bytes ?? [], serverPort: port, transport: .tcp) }
            if dirs[0].isEmpty { guesses[0] = guesses[1] }
            if dirs[1].isEmpty { guesses[1] = guesses[0] }
            var methods: [String] = []
            for k in 0..<2 {
                switch guesses[k] {
                case .dns:
                    var f = DNSOverTCPFramer()
                    for s in dirs[k] {
                        f.feed(s.bytes, frame: s.frame)
                        while let m = f.next() {
                            if let msg = DNSMessage.parse(m.message).message {
                                ours.dnsNames[m.lastFrame, default: []] += msg.questions.map(\.name)
                                ours.dnsA[m.lastFrame, default: []] += Self.allA(msg)
                            }
                        }
                    }
                case .http:
                    var h = HTTPStreamParser(role: k == 0 ? .request : .response)
                    for m in methods { h.noteRequestMethod(m) }
                    for s in dirs[k] { h.feed(s.bytes, frame: s.frame) }
                    h.finish()
                    for e in h.takeEvents() {
                        switch e {
                        case .request(let r):
                            methods.append(r.method)
                            // A request whose head parsed but whose body never completed (e.g. chunked HEAD in a
                            // smuggling test) still counts, at the frame that ended its head.
                            if let host = r.host, let at = r.complete ? r.lastFrame : r.headerLastFrame {
                                ours.httpHosts[at, default: []].append(host)
                            }
                        case .response(let r) where r.complete || r.body.framing == .connectionClose:
                            // tshark reports a response at the frame ending its headers or its body.
                            ours.httpCodes[r.headerLastFrame ?? r.lastFrame, default: []].append(String(r.status))
                            if r.lastFrame != r.headerLastFrame { ours.httpCodes[r.lastFrame, default: []].append(String(r.status)) }
                        default: break
                        }
                    }
                case .tls:
                    var t = TLSStreamParser()
                    for s in dirs[k] { t.feed(s.bytes, frame: s.frame) }
                    t.finish()
                    for e in t.takeEvents() {
                        switch e {
                        case .clientHello(let h): ours.sni[h.lastFrame, default: []].append(h.serverName ?? "")
                        case .certificate(let c): ours.certs[c.lastFrame, default: []] += c.certificates.map { Hex.string($0.der) }
                        default: break
                        }
                    }
                case .unknown:
                    break
                }
            }
        }
        return ours
    }

    @Test func corpusAgreesWithTshark() throws {
        guard ProcessInfo.processInfo.environment["KZ_CORPUS_SWEEP"] == "1" else {
            print("CorpusSweepTests: not run (set KZ_CORPUS_SWEEP=1; needs tshark and ../shared/corpus)")
            return
        }
        let manifest = Fixture.corpus.appendingPathComponent("MANIFEST.tsv")
        guard let text = try? String(contentsOf: manifest, encoding: .utf8),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") else {
            print("CorpusSweepTests: corpus or tshark absent; comparison NOT run")
            return
        }
        var files: [String] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count > 16, let size = Int(f[6]), size < 3_000_000 else { continue }
            // Every capture tshark reads (not only those tagged dns/http/tls): our parsers must survive all of them.
            if f.count > 13, f[13] == "yes" { files.append(f[0]) }
        }
        if let only = ProcessInfo.processInfo.environment["KZ_SWEEP_ONLY"] {
            files = files.filter { $0.contains(only) }
        }
        var agree = [String: Int](), differ = [String: [String]](), explained = [String: Int]()
        for rel in files {
            let path = Fixture.corpus.appendingPathComponent(rel).path
            let ours = Self.runParsers(Self.packets(path))
            let fields = ["frame.number", "dns.qry.name", "dns.a", "http.host", "http.response.code",
                          "tls.handshake.extensions_server_name", "tls.handshake.certificate", "dns.flags.response", "tcp.stream"]
            guard let facts = Self.tshark(["-r", path, "-Y", "!icmp && !icmpv6 && (dns || (tcp && (http.request || http.response)) || tls.handshake.type==1 || tls.handshake.type==11)",
                                           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"] + fields.flatMap { ["-e", $0] })
            else { continue }
            for line in facts.split(separator: "\n") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard f.count == fields.count, let frame = Int(f[0]) else { continue }
                func check(_ kind: String, _ theirs: String, _ table: [Int: [String]]) {
                    guard !theirs.isEmpty else { return }
                    var t = theirs.split(separator: "|").map(String.init)
                    if kind == "dns.qry.name" { t = t.map { $0 == "<Root>" ? "." : $0 } }
                    let m = table[frame] ?? []
                    if Set(t) == Set(m) || (kind == "http.code" && Set(t).isSubset(of: Set(m))) {
                        agree[kind, default: 0] += 1
                        return
                    }
                    // Explained 1: tshark's own error texts ("<Name too long>", "<Name contains a pointer that
                    // loops>") where we refuse the name and record a dns.* anomaly instead.
                    // Explained 1b: a compression pointer to a later offset; tshark follows it, we stop with
                    // dns.name_forward_pointer (see DNSCorpusTests).
                    if kind == "dns.qry.name" && rel.hasSuffix("dns__dns-forward-pointer__input.pcap") && m.isEmpty {
                        explained["dns: forward compression pointer refused", default: 0] += 1
                        return
                    }
                    if kind == "dns.qry.name" && t.contains(where: { $0.hasPrefix("<") }) {
                        explained["dns: tshark error text for a name we reject", default: 0] += 1
                        return
                    }
                    // Explained 2: tshark reports a TLS handshake message when its *record* ends and a
                    // close-delimited HTTP response at the FIN; we report the frame of the item's last byte, which
                    // is the nearest earlier frame holding the same value.
                    if kind == "tls.certificate" || kind == "http.code",
                       let earlier = table.keys.filter({ $0 < frame }).max(), let v = table[earlier],
                       Set(t).isSubset(of: Set(v)) {
                        explained["\(kind): same value, earlier frame (record end / FIN)", default: 0] += 1
                        return
                    }
                    // Explained 3: a certificate whose DER is malformed; tshark shows only the bytes its ASN.1
                    // dissector accepted, we keep the declared length.
                    if kind == "tls.certificate", t.count == m.count, zip(t, m).allSatisfy({ $1.hasPrefix($0) }) {
                        explained["tls.certificate: tshark cut a malformed DER shorter", default: 0] += 1
                        return
                    }
                    differ[kind, default: []].append("\(rel) frame \(frame): tshark \(t.prefix(4).map { $0.prefix(60) }) ours \(m.prefix(4).map { $0.prefix(60) })")
                }
                check("dns.qry.name", f[1], ours.dnsNames)
                check("dns.a", f[2], ours.dnsA)
                check("http.host", f[3], ours.httpHosts)
                check("http.code", f[4], ours.httpCodes)
                check("tls.sni", f[5], ours.sni)
                check("tls.certificate", f[6].replacingOccurrences(of: ":", with: ""), ours.certs)
            }
        }
        var totalAgree = 0, totalDiffer = 0
        for kind in Set(agree.keys).union(differ.keys).sorted() {
            let a = agree[kind] ?? 0, d = differ[kind]?.count ?? 0
            totalAgree += a; totalDiffer += d
            print("sweep \(kind): \(a) agree, \(d) differ")
            for line in (differ[kind] ?? []).prefix(8) { print("   \(line)") }
        }
        for (why, n) in explained.sorted(by: { $0.key < $1.key }) { print("sweep explained: \(n) × \(why)") }
        print("sweep: \(files.count) files, \(totalAgree) agree, \(explained.values.reduce(0, +)) explained, \(totalDiffer) differ")
        #expect(totalAgree > 0)
        #expect(totalDiffer == 0, "facts where we and tshark disagree without an explanation")
    }
}
