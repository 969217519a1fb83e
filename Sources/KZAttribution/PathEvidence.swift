import KZWire

/// One router (or the destination) answering a traceroute probe.
public struct TracerouteHop: Sendable, Hashable {
    /// The probe's TTL as captured at the sender = the hop index.
    public var index: Int
    public var router: IPAddress
    /// True when the destination itself answered (echo reply, port unreachable …) rather than time-exceeded.
    public var isDestination: Bool
    public var probeFrame: FrameNumber
    public var answerFrame: FrameNumber
    /// Round-trip time in milliseconds between probe and answer.
    public var rttMilliseconds: Double
}

/// Hops toward one destination rebuilt from ICMP answers quoting probes captured on the way out (traceroute with
/// UDP, ICMP echo or TCP probes; also the time-exceeded answers inside TTL sweeps).
public struct TraceroutePath: Sendable, Hashable {
    public var source: IPAddress
    public var destination: IPAddress
    /// Sorted by index, then router; several routers per index when load balancing changed answers.
    public var hops: [TracerouteHop]
    public var reachedDestination: Bool { hops.contains { $0.isDestination } }
    /// index → first router answering at that index.
    public var routerByIndex: [Int: IPAddress] {
        var out: [Int: IPAddress] = [:]
        for h in hops where !h.isDestination && out[h.index] == nil { out[h.index] = h.router }
        return out
    }
}

/// A Record Route option seen in a packet (RFC 791 §3.1).
public struct RecordRouteObservation: Sendable, Hashable {
    public var frame: FrameNumber
    public var source: IPAddress
    public var destination: IPAddress
    /// Addresses recorded, in path order.
    public var addresses: [IPAddress]
    /// True when read from the header an ICMP error quotes (the route the probe had recorded when it died).
    public var inQuote: Bool
}

/// The MSS a connection's SYN announced at the capture point versus what another observation shows.
public struct MSSChange: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A router quoted our SYN with a different MSS: rewritten (clamped) before that hop. Strong evidence.
        case quotedSYN = "quoted-syn"
        /// The SYN-ACK announces a smaller MSS than the SYN: the server's own value or a clamp on the way. Weak.
        case synAck = "syn-ack"
    }
    public var kind: Kind
    public var client: IPAddress
    public var clientPort: UInt16
    public var server: IPAddress
    public var serverPort: UInt16
    public var synMSS: UInt16
    public var synFrame: FrameNumber
    public var observedMSS: UInt16
    public var observedFrame: FrameNumber
    /// For quotes: the router that quoted the SYN.
    public var router: IPAddress?
}

/// Path evidence other than TTL sweeps.
public enum PathEvidence {
    struct Conn: Hashable { var c: IPAddress; var cp: UInt16; var s: IPAddress; var sp: UInt16 }
    struct IndexRouter: Hashable { var index: Int; var router: IPAddress }
    struct ProbeKey: Hashable {
        var src: IPAddress, dst: IPAddress, proto: UInt8, a: UInt32, b: UInt32, id: UInt32
    }

    static func key(of p: DecodedPacket) -> ProbeKey? {
        guard let ip = p.ip else { return nil }
        switch p.transport {
        case .udp(let u):
            return ProbeKey(src: ip.src, dst: ip.dst, proto: 17, a: UInt32(u.srcPort), b: UInt32(u.dstPort), id: ip.ipID)
        case .tcp(let t):
            return ProbeKey(src: ip.src, dst: ip.dst, proto: 6, a: UInt32(t.srcPort) << 16 | UInt32(t.dstPort), b: t.seq,
                            id: ip.ipID)
        case .icmp(let i):
            guard let id = i.echoID, let seq = i.echoSeq, i.quoted == nil else { return nil }
            return ProbeKey(src: ip.src, dst: ip.dst, proto: ip.proto.rawValue, a: UInt32(id), b: UInt32(seq),
                            id: ip.ipID)
        case .none:
            return nil
        }
    }

    static func key(ofQuote q: QuotedPacket, version: UInt8) -> ProbeKey? {
        switch q.proto {
        case .udp:
            guard let s = q.srcPort, let d = q.dstPort else { return nil }
            return ProbeKey(src: q.src, dst: q.dst, proto: 17, a: UInt32(s), b: UInt32(d), id: q.ipID)
        case .tcp:
            guard let s = q.srcPort, let d = q.dstPort, let seq = q.tcpSeq else { return nil }
            return ProbeKey(src: q.src, dst: q.dst, proto: 6, a: UInt32(s) << 16 | UInt32(d), b: seq, id: q.ipID)
        case .icmp, .icmpv6:
            guard let id = q.icmpID, let seq = q.icmpSeq else { return nil }
            return ProbeKey(src: q.src, dst: q.dst, proto: q.proto.rawValue, a: UInt32(id), b: UInt32(seq), id: q.ipID)
        default:
            return nil
        }
    }

    /// Traceroute paths in `packets`, one per (source, destination), sorted. A hop needs both the outgoing probe
    /// (for its TTL) and the ICMP answer quoting it; answers whose probe was not captured are left out. Only probes
    /// sent with TTL ≤ `maxProbeTTL` count, and a path needs at least one router answering time-exceeded.
    public static func traceroutes(packets: [DecodedPacket], maxProbeTTL: UInt8 = 64) -> [TraceroutePath] {
        var sent: [ProbeKey: DecodedPacket] = [:]
        var ipv6NoID: [ProbeKey: DecodedPacket] = [:]          // IPv6 quotes carry no IP ID
        for p in packets {
            guard let ip = p.ip, ip.ttl <= maxProbeTTL, p.icmp?.quoted == nil, var k = key(of: p) else { continue }
            if p.icmp.map({ !($0.isV6 ? $0.type == 128 : $0.type == 8) }) ?? false { continue }   // echo requests only
            if sent[k] == nil { sent[k] = p }
            k.id = 0
            if ipv6NoID[k] == nil { ipv6NoID[k] = p }
        }
        var hops: [[IPAddress]: [TracerouteHop]] = [:]
        for p in packets {
            guard let ip = p.ip, let icmp = p.icmp else { continue }
            if let q = icmp.quoted, var k = key(ofQuote: q, version: q.version) {
                var probe = sent[k]
                if probe == nil { k.id = 0; probe = ipv6NoID[k] }
                guard let pr = probe, let pip = pr.ip else { continue }
                let dest = !icmp.isTimeExceeded
                hops[[q.src, q.dst], default: []].append(TracerouteHop(
                    index: Int(pip.ttl), router: ip.src, isDestination: dest && ip.src == q.dst, probeFrame: pr.frame,
                    answerFrame: p.frame, rttMilliseconds: Double(p.timestamp.nanoseconds - pr.timestamp.nanoseconds) / 1e6))
            } else if let id = icmp.echoID, let seq = icmp.echoSeq, icmp.isV6 ? icmp.type == 129 : icmp.type == 0 {
                // Echo reply from the destination (replies carry their own IP ID: look up without it).
                let proto: UInt8 = icmp.isV6 ? 58 : 1
                let k = ProbeKey(src: ip.dst, dst: ip.src, proto: proto, a: UInt32(id), b: UInt32(seq), id: 0)
                guard let pr = ipv6NoID[k], let pip = pr.ip else { continue }
                hops[[ip.dst, ip.src], default: []].append(TracerouteHop(
                    index: Int(pip.ttl), router: ip.src, isDestination: true, probeFrame: pr.frame, answerFrame: p.frame,
                    rttMilliseconds: Double(p.timestamp.nanoseconds - pr.timestamp.nanoseconds) / 1e6))
            }
        }
        return hops.keys.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }.compactMap { k in
            guard var list = hops[k] else { return nil }
            // A traceroute has routers answering time-exceeded; an ICMP error alone (e.g. a port unreachable this host
            // sent for a late reply) is not one. Destination answers far beyond the last router are not probes either.
            guard let lastRouter = list.filter({ !$0.isDestination }).map(\.index).max() else { return nil }
            list = list.filter { !$0.isDestination || $0.index <= lastRouter + 8 }
            list.sort { ($0.index, $0.router, $0.answerFrame) < ($1.index, $1.router, $1.answerFrame) }
            // one entry per (index, router)
            var seen: Set<IndexRouter> = []
            list = list.filter { seen.insert(IndexRouter(index: $0.index, router: $0.router)).inserted }
            return TraceroutePath(source: k[0], destination: k[1], hops: list)
        }
    }

    /// Record Route options in packets' own IPv4 headers and in the headers ICMP errors quote, in frame order.
    public static func recordRoutes(packets: [DecodedPacket], bytes: some FrameBytesProvider) -> [RecordRouteObservation] {
        var out: [RecordRouteObservation] = []
        for p in packets {
            guard let ip = p.ip, ip.version == 4 else { continue }
            let needOwn = ip.recordRouteCount > 0 || (ip.hasOptions && ip.headerLength > 20)
            let quoteOffset = RecordRoute.quotedHeaderOffset(of: p)
            guard needOwn || quoteOffset != nil, let b = bytes.bytes(of: p.frame) else { continue }
            if needOwn {
                let a = RecordRoute.addresses(inIPv4HeaderAt: ip.headerOffset, of: b)
                if !a.isEmpty {
                    out.append(RecordRouteObservation(frame: p.frame, source: ip.src, destination: ip.dst,
                                                      addresses: a, inQuote: false))
                }
            }
            if let off = quoteOffset, let q = p.icmp?.quoted {
                let a = RecordRoute.addresses(inIPv4HeaderAt: off, of: b)
                if !a.isEmpty {
                    out.append(RecordRouteObservation(frame: p.frame, source: q.src, destination: q.dst,
                                                      addresses: a, inQuote: true))
                }
            }
        }
        return out
    }

    /// MSS of a TCP header at `offset` in `b` (RFC 9293 §3.2 option kind 2), nil when absent or cut.
    static func mss(tcpHeaderAt offset: Int, in b: [UInt8]) -> UInt16? {
        guard offset >= 0, offset + 20 <= b.count else { return nil }
        let hl = Int(b[offset + 12] >> 4) * 4
        guard hl > 20 else { return nil }
        let end = min(b.count, offset + hl)
        var i = offset + 20
        while i < end {
            let kind = b[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(b[i + 1])
            guard len >= 2, i + len <= end else { break }
            if kind == 2, len == 4 { return UInt16(b[i + 2]) << 8 | UInt16(b[i + 3]) }
            i += len
        }
        return nil
    }

    /// MSS changes: SYN (as captured) vs. a router's quote of that SYN (when the quote reaches the options), and vs.
    /// the SYN-ACK when it announces less. Sorted by frame.
    public static func mssChanges(packets: [DecodedPacket], bytes: some FrameBytesProvider) -> [MSSChange] {
        var syn: [Conn: (mss: UInt16, frame: FrameNumber, seq: UInt32)] = [:]
        var out: [MSSChange] = []
        var reported: Set<[Int]> = []
        for p in packets {
            guard let ip = p.ip else { continue }
            if let t = p.tcp, t.flags.contains(.syn) {
                guard let m = t.options.mss else { continue }
                if !t.flags.contains(.ack) {
                    let k = Conn(c: ip.src, cp: t.srcPort, s: ip.dst, sp: t.dstPort)
                    if syn[k] == nil { syn[k] = (m, p.frame, t.seq) }
                } else if let s = syn[Conn(c: ip.dst, cp: t.dstPort, s: ip.src, sp: t.srcPort)], m < s.mss,
                          reported.insert([s.frame, 0]).inserted {
                    out.append(MSSChange(kind: .synAck, client: ip.dst, clientPort: t.dstPort, server: ip.src,
                                         serverPort: t.srcPort, synMSS: s.mss, synFrame: s.frame, observedMSS: m,
                                         observedFrame: p.frame, router: nil))
                }
            } else if let q = p.icmp?.quoted, q.proto == .tcp, let qs = q.srcPort, let qd = q.dstPort,
                      let s = syn[Conn(c: q.src, cp: qs, s: q.dst, sp: qd)], q.tcpSeq == s.seq,
                      let off = RecordRoute.quotedHeaderOffset(of: p), let b = bytes.bytes(of: p.frame),
                      off < b.count {
                let qihl = Int(b[off] & 0x0f) * 4
                if let m = mss(tcpHeaderAt: off + qihl, in: b), m != s.mss {
                    out.append(MSSChange(kind: .quotedSYN, client: q.src, clientPort: qs, server: q.dst, serverPort: qd,
                                         synMSS: s.mss, synFrame: s.frame, observedMSS: m, observedFrame: p.frame,
                                         router: ip.src))
                }
            }
        }
        return out.sorted { $0.observedFrame < $1.observedFrame }
    }
}
