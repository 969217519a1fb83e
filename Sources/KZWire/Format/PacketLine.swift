/// One-line renderings of a decoded packet: tcpdump-like text and a JSON object (the `packets` command).
public enum PacketLine {
    /// Resembles `tcpdump -n -tt -r FILE`: "TS IP SRC.PORT > DST.PORT: Flags [S.], seq N, ack N, win N, length N".
    public static func text(_ p: DecodedPacket) -> String {
        var s = "\(p.frame) \(p.timestamp) "
        if p.vlanCount > 0 { s += "vlan " + p.vlans.map(String.init).joined(separator: ",") + " " }
        if let sess = p.pppoeSession { s += "PPPoE [ses 0x\(String(sess, radix: 16))] " }
        guard let ip = p.ip else {
            if p.flags.contains(.arp) { s += "ARP" }
            else if p.flags.contains(.pppoeDiscovery) { s += "PPPoE discovery" }
            else { s += p.linkType.description }
            s += ", length \(p.wireLength)"
            if !p.status.isOK { s += " [\(p.status)]" }
            return s
        }
        s += ip.version == 6 ? "IP6 " : "IP "
        let frag = ip.isFragment && ip.fragmentOffset != 0
        func ep(_ a: IPAddress, _ port: UInt16?) -> String { port.map { "\(a).\($0)" } ?? "\(a)" }
        switch p.transport {
        case .tcp(let t) where !frag:
            s += "\(ep(ip.src, t.srcPort)) > \(ep(ip.dst, t.dstPort)): Flags [\(tcpdumpFlags(t.flags))]"
            if p.payloadLength > 0 || t.flags.contains(.syn) || t.flags.contains(.fin) || t.flags.contains(.rst) {
                s += ", seq \(t.seq)"
                if p.payloadLength > 0 { s += ":\(t.seq &+ UInt32(truncatingIfNeeded: p.payloadLength))" }
            }
            if t.flags.contains(.ack) { s += ", ack \(t.ack)" }
            s += ", win \(t.window)"
            var opts: [String] = []
            if let m = t.options.mss { opts.append("mss \(m)") }
            if t.options.sackPermitted { opts.append("sackOK") }
            if let v = t.options.tsVal { opts.append("TS val \(v) ecr \(t.options.tsEcr ?? 0)") }
            if let w = t.options.windowScale { opts.append("wscale \(w)") }
            if !opts.isEmpty { s += ", options [" + opts.joined(separator: ",") + "]" }
            s += ", length \(p.payloadLength)"
        case .udp(let u) where !frag:
            s += "\(ep(ip.src, u.srcPort)) > \(ep(ip.dst, u.dstPort)): UDP, length \(p.payloadLength)"
        case .icmp(let i) where !frag:
            s += "\(ip.src) > \(ip.dst): \(i.isV6 ? "ICMP6" : "ICMP") type \(i.type) code \(i.code)"
            if let q = i.quoted {
                s += " (quoting \(q.src)\(q.srcPort.map { ".\($0)" } ?? "") > \(q.dst)\(q.dstPort.map { ".\($0)" } ?? "")"
                s += " proto \(q.proto.name) ttl \(q.ttl))"
            }
            s += ", length \(p.payloadLength + 8)"
        default:
            s += "\(ip.src) > \(ip.dst): proto \(ip.proto.name)"
            if ip.isFragment { s += " (frag \(ip.ipID):\(p.payloadLength)@\(ip.fragmentOffset)\(ip.moreFragments ? "+" : ""))" }
            s += ", length \(p.payloadLength)"
        }
        s += ", ttl \(ip.ttl)"
        if !p.status.isOK { s += " [\(p.status)]" }
        return s
    }

    /// tcpdump's flag notation: S F R P U E W, "." for ACK.
    static func tcpdumpFlags(_ f: TCPFlags) -> String {
        var s = ""
        if f.contains(.syn) { s += "S" }
        if f.contains(.fin) { s += "F" }
        if f.contains(.rst) { s += "R" }
        if f.contains(.psh) { s += "P" }
        if f.contains(.urg) { s += "U" }
        if f.contains(.ece) { s += "E" }
        if f.contains(.cwr) { s += "W" }
        if f.contains(.ack) { s += "." }
        return s.isEmpty ? "none" : s
    }

    /// The `packets --format jsonl` object. Field names are a contract (issue 2); absent layers omit their fields.
    public static func json(_ p: DecodedPacket) -> String {
        var w = JSONObjectWriter()
        w.int("frame", p.frame)
        w.string("ts", p.timestamp.description)
        w.int("caplen", p.capturedLength)
        w.int("len", p.wireLength)
        w.string("link", p.linkType.description)
        if p.vlanCount > 0 { w.intArray("vlan", p.vlans) }
        if let s = p.pppoeSession { w.int("pppoe_session", s) }
        if p.mplsDepth > 0 { w.int("mpls_depth", p.mplsDepth) }
        if let ip = p.ip {
            w.int("ip_version", ip.version)
            w.string("src", ip.src.description)
            w.string("dst", ip.dst.description)
            w.int("ttl", ip.ttl)
            if ip.version == 4 || ip.hasFragmentHeader { w.int("ip_id", ip.ipID) }
            if ip.version == 4 { w.bool("df", ip.df) }
            w.int("frag_offset", ip.fragmentOffset)
            w.bool("more_frags", ip.moreFragments)
            w.string("proto", ip.proto.name)
            if ip.version == 4 { w.string("ip_checksum", checksumName(ip.headerChecksum)) }
            if ip.tunnelDepth > 0 { w.int("tunnel_depth", ip.tunnelDepth) }
            if ip.recordRouteCount > 0 { w.int("record_route", ip.recordRouteCount) }
        }
        switch p.transport {
        case .tcp(let t):
            w.int("sport", t.srcPort)
            w.int("dport", t.dstPort)
            w.int("seq", t.seq)
            w.int("ack", t.ack)
            w.string("flags", t.flags.letters)
            w.int("window", t.window)
            w.int("payload_len", p.payloadLength)
            if let m = t.options.mss { w.int("mss", m) }
            if let ws = t.options.windowScale { w.int("wscale", ws) }
            if t.options.sackPermitted { w.bool("sack_perm", true) }
            if t.options.sackBlockCount > 0 { w.int("sack_blocks", t.options.sackBlockCount) }
            if let v = t.options.tsVal { w.int("tsval", v); w.int("tsecr", t.options.tsEcr ?? 0) }
            w.string("l4_checksum", checksumName(t.checksum))
        case .udp(let u):
            w.int("sport", u.srcPort)
            w.int("dport", u.dstPort)
            w.int("payload_len", p.payloadLength)
            w.string("l4_checksum", checksumName(u.checksum))
        case .icmp(let i):
            w.int("icmp_type", i.type)
            w.int("icmp_code", i.code)
            w.int("payload_len", p.payloadLength)
            if let q = i.quoted {
                var qw = JSONObjectWriter()
                qw.string("src", q.src.description)
                qw.string("dst", q.dst.description)
                qw.int("ttl", q.ttl)
                qw.int("ip_id", q.ipID)
                qw.string("proto", q.proto.name)
                if let sp = q.srcPort { qw.int("sport", sp) }
                if let dp = q.dstPort { qw.int("dport", dp) }
                if let s = q.tcpSeq { qw.int("seq", s) }
                w.raw("quoted", qw.finished())
            }
        case .none:
            if p.ip != nil { w.int("payload_len", p.payloadLength) }
        }
        w.string("status", p.status.description)
        return w.finished()
    }

    static func checksumName(_ c: ChecksumStatus) -> String {
        switch c { case .good: "good"; case .bad: "bad"; case .unverified: "unverified" }
    }
}
