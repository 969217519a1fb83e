import Foundation
import KZCapture
import KZWire

/// One field of one frame on which we and tshark disagree.
struct Disagreement: Sendable, CustomStringConvertible {
    var file: String
    var frame: Int
    var field: String
    var ours: String
    var theirs: String
    var protocols: String
    var tsharkMalformed: Bool
    var ourStatus: String
    /// tshark's text for the field when it was converted before comparing (e.g. the epoch time).
    var theirsRaw: String = ""
    /// How our reader ended the file ("complete", or "failed:<kind>") and whether tshark gave more frames than we did.
    var readerEnd: String = ""
    var tsharkReadMore = false
    var description: String {
        "\(file) #\(frame) \(field): ours=\(ours) tshark=\(theirs)\(theirsRaw.isEmpty ? "" : " (\(theirsRaw))") [\(protocols)\(tsharkMalformed ? " MALFORMED" : "")] status=\(ourStatus)"
    }
}

/// Field-by-field agreement between our decoder and tshark, accumulated over the corpus.
struct Agreement {
    struct Tally { var compared = 0; var agreed = 0 }
    var tallies: [String: Tally] = [:]
    var disagreements: [Disagreement] = []

    // Context of the frame being compared.
    var file = ""
    var frame = 0
    var protocols = ""
    var malformed = false
    var status = ""
    var readerEnd = ""
    var tsharkReadMore = false

    /// Records one comparison. `theirs == nil` means tshark has no value for it: not compared.
    mutating func check(_ field: String, _ ours: String, _ theirs: String?, raw: String = "") {
        guard let theirs else { return }
        tallies[field, default: Tally()].compared += 1
        if ours == theirs {
            tallies[field, default: Tally()].agreed += 1
        } else {
            disagreements.append(Disagreement(file: file, frame: frame, field: field, ours: ours, theirs: theirs,
                                              protocols: protocols, tsharkMalformed: malformed, ourStatus: status,
                                              theirsRaw: raw, readerEnd: readerEnd, tsharkReadMore: tsharkReadMore))
        }
    }
    mutating func check<T: BinaryInteger>(_ field: String, _ ours: T, _ theirs: String?) {
        check(field, String(ours), theirs.flatMap(TsharkValue.int).map { String($0) } ?? theirs.map { "unparsed:\($0)" })
    }
    mutating func checkBool(_ field: String, _ ours: Bool, _ theirs: String?) {
        check(field, ours ? "1" : "0", theirs.map { TsharkValue.int($0).map { $0 != 0 ? "1" : "0" } ?? "unparsed:\($0)" })
    }
    mutating func checkAddress(_ field: String, _ ours: IPAddress, _ theirs: String?) {
        check(field, ours.description, theirs.map { IPAddress($0)?.description ?? "unparsed:\($0)" })
    }
    /// tshark checksum status: 0 bad, 1 good, 2 unverified. Compared only when both sides verified.
    mutating func checkChecksum(_ field: String, _ ours: ChecksumStatus, _ theirs: String?) {
        guard ours != .unverified, let t = theirs.flatMap(TsharkValue.int), t != 2 else { return }
        check(field, ours == .good ? "good" : "bad", t == 1 ? "good" : "bad")
    }

    /// pcapng Custom Blocks tshark listed as frames (dropped before aligning frame numbers).
    var customBlocks = 0

    /// Compares every frame of one capture. `openError` is set when we could not open the file at all.
    mutating func compareFile(_ name: String, ours: [DecodedPacket], tshark: [Tshark.Row], openError: CaptureError?,
                              end: CaptureEnd) {
        file = name
        if case .failed(let e) = end { readerEnd = "failed:\(e.kind.rawValue)" } else { readerEnd = "complete" }
        // tshark 4.0 numbers pcapng Custom Blocks as frames; they hold no packet (pcapng §4.8), we do not deliver
        // them, and Wireshark's own frame numbers shift past them. Drop them and renumber what remains.
        var byNumber: [Int: Tshark.Row] = [:]
        var n = 0
        for r in tshark {
            if r.isCustomBlock { customBlocks += 1; continue }
            n += 1
            var row = r
            if let i = Tshark.column["frame.number"] { row.values[i] = String(n) }
            byNumber[n] = row
        }
        tsharkReadMore = byNumber.count > ours.count
        let last = max(ours.count, byNumber.keys.max() ?? 0)
        guard last > 0 else { return }
        for n in 1...last {
            frame = n
            let p: DecodedPacket? = n <= ours.count ? ours[n - 1] : nil
            let r = byNumber[n]
            protocols = r?["frame.protocols"] ?? ""
            malformed = r?.malformed ?? false
            status = p?.status.description ?? (openError.map { "open:\($0.kind.rawValue)" } ?? "absent")
            check("frame.present", p != nil ? "yes" : "no", r != nil ? "yes" : "no")
            guard let p, let r else { continue }
            compareFrame(p, r)
        }
    }

    mutating func compareFrame(_ p: DecodedPacket, _ r: Tshark.Row) {
        check("frame.number", p.frame, r["frame.number"])
        check("frame.time_epoch", String(p.timestamp.nanoseconds), TsharkValue.epochNanoseconds(r["frame.time_epoch"]),
              raw: r["frame.time_epoch"])
        check("frame.cap_len", p.capturedLength, r["frame.cap_len"])
        check("frame.len", p.wireLength, r["frame.len"])

        let protos = r.protocols
        func count(_ name: String, before i: Int) -> Int { protos[..<i].filter { $0 == name }.count }
        let ipPositions = protos.indices.filter { protos[$0] == "ip" || protos[$0] == "ipv6" }

        // VLAN tags before the first IP header, outermost first.
        let vlanTags = protos[..<(ipPositions.first ?? protos.endIndex)].filter { $0 == "vlan" }.count
        if vlanTags > 0 || p.vlanCount > 0 {
            let theirs = (0..<vlanTags).map { r.occurrence("vlan.id", $0) ?? "?" }.joined(separator: ",")
            check("vlan.id", p.vlans.map(String.init).joined(separator: ","), theirs)
        }

        // Our innermost IP header is the (tunnelDepth+1)-th IP layer tshark lists.
        let depth = Int(p.ip?.tunnelDepth ?? 0)
        let tpos: Int? = depth < ipPositions.count ? ipPositions[depth] : nil
        if p.ip != nil || tpos != nil {
            let ours = p.ip.map { $0.version == 4 ? "ipv4" : "ipv6" } ?? "none"
            let theirs = tpos.map { protos[$0] == "ip" ? "ipv4" : "ipv6" } ?? "none"
            check("ip.layer", ours, theirs)
        }
        guard let ip = p.ip, let tpos, (ip.version == 4) == (protos[tpos] == "ip") else { return }

        if ip.version == 4 {
            let k = count("ip", before: tpos)
            checkAddress("ip.src", ip.src, r.occurrence("ip.src", k))
            checkAddress("ip.dst", ip.dst, r.occurrence("ip.dst", k))
            check("ip.ttl", ip.ttl, r.occurrence("ip.ttl", k))
            check("ip.id", ip.ipID, r.occurrence("ip.id", k))
            checkBool("ip.flags.df", ip.df, r.occurrence("ip.flags.df", k))
            checkBool("ip.flags.mf", ip.moreFragments, r.occurrence("ip.flags.mf", k))
            // tshark 4.0 gives the fragment offset in 8-byte units; ours is in bytes.
            check("ip.frag_offset", ip.fragmentOffset / 8, r.occurrence("ip.frag_offset", k))
            checkChecksum("ip.checksum.status", ip.headerChecksum, r.occurrence("ip.checksum.status", k))
        } else {
            let k = count("ipv6", before: tpos)
            checkAddress("ipv6.src", ip.src, r.occurrence("ipv6.src", k))
            checkAddress("ipv6.dst", ip.dst, r.occurrence("ipv6.dst", k))
            check("ipv6.hlim", ip.ttl, r.occurrence("ipv6.hlim", k))
        }

        // The layers tshark lists after our innermost IP header, up to the next IP header.
        var end = tpos + 1
        while end < protos.count && protos[end] != "ip" && protos[end] != "ipv6" { end += 1 }
        let after = protos[(tpos + 1)..<end]

        if ip.version == 6 {
            let fragPos = after.firstIndex(of: "ipv6.fraghdr")
            check("ipv6.fraghdr.present", ip.hasFragmentHeader ? "yes" : "no", fragPos != nil ? "yes" : "no")
            if ip.hasFragmentHeader, let fragPos {
                let fk = count("ipv6.fraghdr", before: fragPos)
                check("ipv6.fraghdr.ident", ip.ipID, r.occurrence("ipv6.fraghdr.ident", fk))
                check("ipv6.fraghdr.offset", ip.fragmentOffset / 8, r.occurrence("ipv6.fraghdr.offset", fk))
                checkBool("ipv6.fraghdr.more", ip.moreFragments, r.occurrence("ipv6.fraghdr.more", fk))
            }
        }

        let transportNames: Set<Substring> = ["tcp", "udp", "icmp", "icmpv6"]
        let l4pos = after.firstIndex { transportNames.contains($0) }
        let ourL4: String
        switch p.transport {
        case .none: ourL4 = "none"
        case .tcp: ourL4 = "tcp"
        case .udp: ourL4 = "udp"
        case .icmp(let i): ourL4 = i.isV6 ? "icmpv6" : "icmp"
        }
        check("l4.layer", ourL4, l4pos.map { String(protos[$0]) } ?? "none")
        guard let l4pos, String(protos[l4pos]) == ourL4 else { return }
        let lk = count(ourL4, before: l4pos)

        switch p.transport {
        case .tcp(let t):
            check("tcp.srcport", t.srcPort, r.occurrence("tcp.srcport", lk))
            check("tcp.dstport", t.dstPort, r.occurrence("tcp.dstport", lk))
            check("tcp.seq_raw", t.seq, r.occurrence("tcp.seq_raw", lk))
            check("tcp.ack_raw", t.ack, r.occurrence("tcp.ack_raw", lk))
            // tshark's tcp.flags has 12 bits: 3 reserved, NS (0x100), then CWR…FIN. Ours: NS as bit 8 and FSRPAUEC.
            check("tcp.flags", t.flags.rawValue & 0x1ff,
                  r.occurrence("tcp.flags", lk).flatMap(TsharkValue.int).map { String($0 & 0x1ff) })
            check("tcp.window_size_value", t.window, r.occurrence("tcp.window_size_value", lk))
            check("tcp.len", p.payloadLength, r.occurrence("tcp.len", lk))
            checkChecksum("tcp.checksum.status", t.checksum, r.occurrence("tcp.checksum.status", lk))
        case .udp(let u):
            check("udp.srcport", u.srcPort, r.occurrence("udp.srcport", lk))
            check("udp.dstport", u.dstPort, r.occurrence("udp.dstport", lk))
            check("udp.length", u.length, r.occurrence("udp.length", lk))
            checkChecksum("udp.checksum.status", u.checksum, r.occurrence("udp.checksum.status", lk))
        case .icmp(let i):
            let pre = i.isV6 ? "icmpv6" : "icmp"
            check("\(pre).type", i.type, r.occurrence("\(pre).type", lk))
            check("\(pre).code", i.code, r.occurrence("\(pre).code", lk))
            compareQuote(i, protos: protos, from: l4pos + 1, r)
        case .none:
            break
        }
    }

    /// The datagram an ICMP error quotes: tshark lists it as the IP layer right after the ICMP layer.
    mutating func compareQuote(_ i: ICMPSummary, protos: [Substring], from start: Int, _ r: Tshark.Row) {
        func count(_ name: Substring, before i: Int) -> Int { protos[..<i].filter { $0 == name }.count }
        let qpos = start < protos.count && (protos[start] == "ip" || protos[start] == "ipv6") ? start : nil
        // Only error messages quote; tshark also lists an IP layer inside some other ICMP types (not compared).
        let isError = i.isV6 ? (1...4).contains(i.type) : [3, 4, 5, 11, 12].contains(i.type)
        guard isError else { return }
        check("quote.present", i.quoted != nil ? "yes" : "no", qpos != nil ? "yes" : "no")
        guard let q = i.quoted, let qpos else { return }
        let name = protos[qpos]
        check("quote.version", q.version == 4 ? "ip" : "ipv6", String(name))
        guard (q.version == 4) == (name == "ip") else { return }
        let k = count(name, before: qpos)
        let f = name == "ip" ? "ip" : "ipv6"
        checkAddress("quote.\(f).src", q.src, r.occurrence("\(f).src", k))
        checkAddress("quote.\(f).dst", q.dst, r.occurrence("\(f).dst", k))
        check("quote.\(f).ttl", q.ttl, r.occurrence(name == "ip" ? "ip.ttl" : "ipv6.hlim", k))
        if name == "ip" { check("quote.ip.id", q.ipID, r.occurrence("ip.id", k)) }
        var l4 = qpos + 1
        while l4 < protos.count && protos[l4].hasPrefix("ipv6.") { l4 += 1 }
        guard l4 < protos.count, protos[l4] == "tcp" || protos[l4] == "udp" else { return }
        let tk = count(protos[l4], before: l4)
        let t = String(protos[l4])
        if let sp = q.srcPort { check("quote.\(t).srcport", sp, r.occurrence("\(t).srcport", tk)) }
        if let dp = q.dstPort { check("quote.\(t).dstport", dp, r.occurrence("\(t).dstport", tk)) }
        if t == "tcp", let s = q.tcpSeq { check("quote.tcp.seq_raw", s, r.occurrence("tcp.seq_raw", tk)) }
    }

    /// "field  compared  agreed  %" rows, sorted by field name.
    var table: String {
        var s = "field                          compared     agreed        %\n"
        for (name, t) in tallies.sorted(by: { $0.key < $1.key }) {
            let pct = t.compared == 0 ? 100 : Double(t.agreed) * 100 / Double(t.compared)
            s += name.padding(toLength: 28, withPad: " ", startingAt: 0)
            s += String(t.compared).leftPad(11) + String(t.agreed).leftPad(11) + String(format: "%9.3f", pct) + "\n"
        }
        return s
    }
}

enum TsharkValue {
    /// Decimal, 0x-hex, or a boolean word.
    static func int(_ s: String) -> Int64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return Int64(s.dropFirst(2), radix: 16) }
        switch s {
        case "True", "true": return 1
        case "False", "false": return 0
        default: return Int64(s)
        }
    }
    /// "1649262403.101593000" → nanoseconds as a decimal string (exact, no floating point).
    static func epochNanoseconds(_ s: String) -> String? {
        guard !s.isEmpty else { return nil }
        var t = Substring(s)
        var neg = false
        if t.hasPrefix("-") { neg = true; t = t.dropFirst() }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard let sec = Int64(parts[0]) else { return "unparsed:\(s)" }
        var frac: Int64 = 0
        if parts.count > 1 {
            let digits = String(parts[1].prefix(9))
            guard let f = Int64(digits.padding(toLength: 9, withPad: "0", startingAt: 0)) else { return "unparsed:\(s)" }
            frac = f
        }
        let ns = sec * 1_000_000_000 + frac
        return String(neg ? -ns : ns)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
