import KZWire

/// Rebuilds TTL-limited probe sweeps (CenTrace; Xu, Mao, Halderman PAM 2011) from captured packets.
///
/// A probe is one TCP connection: handshake at a normal TTL, then the request (the first client data segment) sent
/// with a small TTL. Its responses are, in capture order until the first FIN of the connection: server→client RSTs,
/// server→client segments acknowledging past the request's first byte (ACK, HTTP, TLS), and ICMP errors quoting the
/// connection's 4-tuple (matched on sequence number and IP ID when the quote has them). Probes with the same client,
/// server, port and requested name (Host/SNI) form a sweep; the TTL of the request is the sweep step.
public enum TTLSweepBuilder {
    struct ConnKey: Hashable { var client: IPAddress; var cport: UInt16; var server: IPAddress; var sport: UInt16 }
    struct Found { var key: ConnKey; var probe: SweepProbe; var requestKey: String?; var firstFrame: FrameNumber; var synAckTTLs: [UInt8] }
    struct SweepKey: Hashable { var client: IPAddress; var server: IPAddress; var sport: UInt16; var req: String? }

    /// All sweeps in `packets`, sorted by (server, port, client, request key). Connections whose request has a TTL
    /// above `maxProbeTTL` are ordinary traffic, not probes; so are groups with fewer than `minDistinctTTLs` TTLs.
    public static func sweeps(packets: [DecodedPacket], bytes: some FrameBytesProvider,
                              maxProbeTTL: Int = 63, minDistinctTTLs: Int = 3) -> [TTLSweep]
    {
        // 1. Orient connections: the SYN sender is the client; else the lower port is the server.
        var orient: [ConnKey: Bool] = [:]   // key (a→b as seen in first packet ordering) → exists
        func key(_ p: DecodedPacket) -> (ConnKey, fromClient: Bool)? {
            guard let ip = p.ip, let t = p.tcp else { return nil }
            let fwd = ConnKey(client: ip.src, cport: t.srcPort, server: ip.dst, sport: t.dstPort)
            let rev = ConnKey(client: ip.dst, cport: t.dstPort, server: ip.src, sport: t.srcPort)
            if orient[fwd] != nil { return (fwd, true) }
            if orient[rev] != nil { return (rev, false) }
            let synOnly = t.flags.contains(.syn) && !t.flags.contains(.ack)
            let synAck = t.flags.contains(.syn) && t.flags.contains(.ack)
            let k: ConnKey
            if synOnly { k = fwd } else if synAck { k = rev } else { k = t.dstPort <= t.srcPort ? fwd : rev }
            orient[k] = true
            return (k, k == fwd)
        }
        var order: [ConnKey] = []
        var events: [ConnKey: [Int]] = [:]          // packet indices, capture order
        var tcpCount: [ConnKey: Int] = [:]
        for (i, p) in packets.enumerated() where p.tcp != nil {
            guard let (k, _) = key(p) else { continue }
            if events[k] == nil { order.append(k) }
            events[k, default: []].append(i)
            tcpCount[k, default: 0] += 1
        }
        // ICMP errors quoting a TCP packet of a known connection (client → server direction).
        for (i, p) in packets.enumerated() {
            guard let q = p.icmp?.quoted, q.proto == .tcp, let qs = q.srcPort, let qd = q.dstPort else { continue }
            let k = ConnKey(client: q.src, cport: qs, server: q.dst, sport: qd)
            if events[k] != nil { events[k, default: []].append(i) }
        }

        // 2. One probe per connection.
        var found: [Found] = []
        var probeless: [ConnKey: Int] = [:]         // connections without a request → TCP packet count
        for k in order {
            guard let idx = events[k]?.sorted() else { continue }
            var probe: SweepProbe?
            var reqKey: String?
            var closed = false
            var serverData: [(seq: UInt32, bytes: ArraySlice<UInt8>)] = []
            var synAckTTLs: [UInt8] = []
            for i in idx {
                let p = packets[i]
                guard let ip = p.ip else { continue }
                if let icmp = p.icmp, let q = icmp.quoted {
                    guard !closed, var pr = probe else { continue }
                    let kind: SweepResponseKind = icmp.isTimeExceeded ? .icmpTimeExceeded : .icmpOther
                    var matches = true
                    if let s = q.tcpSeq, let ps = pr.seq, s != ps { matches = false }
                    if q.ipID != 0, let pid = pr.ipID, q.ipID != pid { matches = false }
                    var rr: [IPAddress] = []
                    if q.version == 4, let off = RecordRoute.quotedHeaderOffset(of: p), let b = bytes.bytes(of: p.frame) {
                        rr = RecordRoute.addresses(inIPv4HeaderAt: off, of: b)
                    }
                    pr.responses.append(SweepResponse(frame: p.frame, kind: kind, source: ip.src, ttl: ip.ttl,
                                                      ipID: ip.ipID, quoteMatchesProbe: matches, recordRoute: rr))
                    probe = pr
                    continue
                }
                guard let t = p.tcp else { continue }
                let fromClient = ip.src == k.client && t.srcPort == k.cport
                let isData = p.payloadLength > 0 || t.flags.contains(.psh)
                if fromClient {
                    if isData && !t.flags.contains(.syn) && !t.flags.contains(.rst) {
                        if probe == nil {
                            let payload = bytes.payload(of: p)
                            reqKey = RequestKey.of(payload)
                            probe = SweepProbe(ttl: Int(ip.ttl), clientPort: k.cport, frame: p.frame, seq: t.seq,
                                               ipID: ip.ipID, retransmissions: 0, responses: [], replySignature: nil)
                        } else if probe?.seq == t.seq {
                            probe?.retransmissions += 1
                        }
                    }
                } else {
                    if t.flags.contains(.syn) && t.flags.contains(.ack) { synAckTTLs.append(ip.ttl) }
                    if p.payloadLength > 0 { serverData.append((t.seq, bytes.payload(of: p))) }
                    if !closed, var pr = probe, let ps = pr.seq {
                        let beyond = Int32(bitPattern: t.ack &- (ps &+ 1)) > 0
                        if t.flags.contains(.rst) || (t.flags.contains(.ack) && beyond) {
                            let payload = bytes.payload(of: p)
                            var kinds: Set<SweepResponseKind> = []
                            if Self.isHTTPResponse(payload) { kinds.insert(.http) }
                            if Self.isTLSRecord(payload) { kinds.insert(.tls) }
                            if t.flags.contains(.rst) { kinds.insert(.rst) }
                            else if t.flags.contains(.fin) { kinds.insert(.fin) }
                            else { kinds.insert(.ack) }
                            let kind = SweepResponseKind.packetOrder.first { kinds.contains($0) } ?? .unknown
                            pr.responses.append(SweepResponse(frame: p.frame, kind: kind, source: ip.src, ttl: ip.ttl,
                                                              ipID: ip.ipID, quoteMatchesProbe: true, recordRoute: []))
                            probe = pr
                        }
                    }
                }
                if t.flags.contains(.fin) { closed = true }
            }
            guard var pr = probe else { probeless[k] = tcpCount[k] ?? 0; continue }
            guard pr.ttl <= maxProbeTTL else { continue }
            if pr.responses.contains(where: { $0.kind == .http || $0.kind == .tls }) {
                pr.replySignature = Self.replySignature(serverData)
            }
            found.append(Found(key: k, probe: pr, requestKey: reqKey, firstFrame: pr.frame ?? 0, synAckTTLs: synAckTTLs))
        }

        // 3. Group into sweeps; first probe per TTL in capture order wins; fill gaps.
        var groups: [SweepKey: [Found]] = [:]
        for f in found {
            groups[SweepKey(client: f.key.client, server: f.key.server, sport: f.key.sport, req: f.requestKey),
                   default: []].append(f)
        }
        var out: [TTLSweep] = []
        for (sk, list) in groups {
            var byTTL: [Int: SweepProbe] = [:]
            for f in list.sorted(by: { $0.firstFrame < $1.firstFrame }) where byTTL[f.probe.ttl] == nil {
                byTTL[f.probe.ttl] = f.probe
            }
            // A sweep steps through TTLs; connections that all arrive with one TTL (a capture away from the client) are
            // ordinary traffic.
            guard byTTL.count >= minDistinctTTLs, let lo = byTTL.keys.min(), let hi = byTTL.keys.max(),
                  let first = byTTL[lo] else { continue }
            // CenTrace's convention: consecutive TTLs use consecutive source ports, so a missing TTL's connection is
            // found at the expected port; with only its SYN it is a handshake timeout.
            for ttl in lo...hi where byTTL[ttl] == nil {
                let port = UInt16(truncatingIfNeeded: Int(first.clientPort) + (ttl - lo))
                let ck = ConnKey(client: sk.client, cport: port, server: sk.server, sport: sk.sport)
                let kind: SweepResponseKind = probeless[ck] == 1 ? .handshakeTimeout : .unknown
                byTTL[ttl] = SweepProbe(ttl: ttl, clientPort: port, frame: nil, seq: nil, ipID: nil,
                                        retransmissions: 0, responses: [], replySignature: nil, kindOverride: kind)
            }
            var ttlCounts: [UInt8: Int] = [:]
            for f in list { for t in f.synAckTTLs { ttlCounts[t, default: 0] += 1 } }
            let serverTTL = ttlCounts.max { a, b in a.value != b.value ? a.value < b.value : a.key < b.key }?.key
            out.append(TTLSweep(client: sk.client, server: sk.server, serverPort: sk.sport, requestKey: sk.req,
                                probes: byTTL.keys.sorted().compactMap { byTTL[$0] }, serverTTL: serverTTL))
        }
        return out.sorted {
            ($0.server, $0.serverPort, $0.client, $0.requestKey ?? "") < ($1.server, $1.serverPort, $1.client, $1.requestKey ?? "")
        }
    }

    static func isHTTPResponse(_ p: ArraySlice<UInt8>) -> Bool {
        p.count >= 5 && p.prefix(5).elementsEqual("HTTP/".utf8)
    }
    static func isTLSRecord(_ p: ArraySlice<UInt8>) -> Bool {
        guard p.count >= 5, let first = p.first else { return false }
        return (0x14...0x17).contains(first) && p[p.startIndex + 1] == 0x03
    }

    /// The server's reply, reduced to what identifies its content: the HTTP body (up to Content-Length), or the TLS
    /// ServerHello version and cipher suite followed by the Certificate handshake message.
    static func replySignature(_ segments: [(seq: UInt32, bytes: ArraySlice<UInt8>)]) -> [UInt8]? {
        guard let base = segments.first?.seq else { return nil }
        var seen: Set<UInt32> = []
        var ordered: [(off: Int64, bytes: ArraySlice<UInt8>)] = []
        for s in segments where seen.insert(s.seq).inserted {
            ordered.append((Int64(Int32(bitPattern: s.seq &- base)), s.bytes))
        }
        ordered.sort { $0.off < $1.off }
        var stream: [UInt8] = []
        for s in ordered {
            let expected = Int64(stream.count)
            if s.off > expected { break }                       // gap: stop at what is contiguous
            let skip = Int(expected - s.off)
            if skip < s.bytes.count { stream.append(contentsOf: s.bytes.dropFirst(skip)) }
            if stream.count > 1 << 20 { break }
        }
        if isHTTPResponse(stream[...]) {
            guard let end = findHeaderEnd(stream) else { return nil }
            var body = Array(stream[end...])
            let head = String(decoding: stream[..<end], as: UTF8.self).lowercased()
            if let r = head.range(of: "\r\ncontent-length:") {
                let digits = head[r.upperBound...].trimmingSpaces().prefix { $0.isNumber }
                if let n = Int(digits), n < body.count { body = Array(body.prefix(n)) }
            }
            return body.isEmpty ? nil : body
        }
        if isTLSRecord(stream[...]) {
            // Walk handshake messages across records.
            var hs: [UInt8] = []
            var i = 0
            while i + 5 <= stream.count {
                let len = Int(stream[i + 3]) << 8 | Int(stream[i + 4])
                if stream[i] == 0x16 { hs.append(contentsOf: stream[(i + 5)..<min(stream.count, i + 5 + len)]) }
                i += 5 + len
            }
            var sig: [UInt8] = []
            var j = 0
            while j + 4 <= hs.count {
                let type = hs[j]
                let len = Int(hs[j + 1]) << 16 | Int(hs[j + 2]) << 8 | Int(hs[j + 3])
                let body = hs[(j + 4)..<min(hs.count, j + 4 + len)]
                if type == 2, body.count >= 35 {                 // ServerHello: version, random, session id, cipher
                    let b = Array(body)
                    let sidLen = Int(b[34])
                    sig.append(contentsOf: b[0..<2])
                    if 35 + sidLen + 2 <= b.count { sig.append(contentsOf: b[(35 + sidLen)..<(35 + sidLen + 2)]) }
                } else if type == 11 {
                    sig.append(contentsOf: body)
                }
                j += 4 + len
            }
            return sig.isEmpty ? nil : sig
        }
        return nil
    }

    static func findHeaderEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}
