extension DNSMessage {
    /// Most records (all sections together) one message may yield; the rest is `dns.too_many_records`.
    public static let maxRecords = 10_000

    /// Parses one DNS message (RFC 1035 §4.1) from `bytes` (a UDP payload, or one DNS-over-TCP message without
    /// its length prefix). Total on hostile input: parses as far as it can and names what went wrong.
    ///
    /// Anomalies: `dns.truncated_header`, `dns.truncated_question`, `dns.truncated_record`, `dns.rdata_overrun`
    /// (RDLENGTH past the end), `dns.rdata_length_mismatch` (rdata content does not fill RDLENGTH exactly),
    /// the name anomalies of `DNSName`, `dns.opt_outside_additional`, `dns.multiple_opt`, `dns.opt_bad_owner`,
    /// `dns.edns_option_overrun`, `dns.too_many_records`, `dns.trailing_bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> DNSParseResult {
        var anomalies: [DNSAnomaly] = []
        let r = ByteReader(bytes)
        guard bytes.count >= 12,
              let id = r.get16(at: 0), let flags = r.get16(at: 2), let qd = r.get16(at: 4),
              let an = r.get16(at: 6), let ns = r.get16(at: 8), let ar = r.get16(at: 10)
        else {
            anomalies.append(DNSAnomaly("dns.truncated_header", "\(bytes.count) bytes < 12", offset: 0))
            return DNSParseResult(message: nil, anomalies: anomalies, complete: false)
        }
        let header = DNSHeader(id: id, flags: flags, qdCount: qd, anCount: an, nsCount: ns, arCount: ar)
        var msg = DNSMessage(header: header, questions: [], answers: [], authorities: [], additionals: [],
                             edns: nil, length: bytes.count)
        var pos = 12
        var complete = true
        var recordBudget = maxRecords

        // Questions (RFC 1035 §4.1.2).
        for i in 0..<Int(qd) {
            if recordBudget == 0 {
                anomalies.append(DNSAnomaly("dns.too_many_records", "cap \(maxRecords)", offset: pos))
                complete = false
                break
            }
            let nameRead = DNSName.read(bytes, at: pos, anomalies: &anomalies)
            guard nameRead.ok, let next = nameRead.next, let t = r.get16(at: next), let c = r.get16(at: next + 2) else {
                anomalies.append(DNSAnomaly("dns.truncated_question", "question \(i + 1) of \(qd)", offset: pos))
                complete = false
                break
            }
            msg.questions.append(DNSQuestion(name: nameRead.name, type: t, qclass: c, offset: pos))
            pos = next + 4
            recordBudget -= 1
        }

        // Answer, authority and additional sections (RFC 1035 §4.1.3).
        if complete {
            let sections: [(DNSSection, UInt16)] = [(.answer, an), (.authority, ns), (.additional, ar)]
            outer: for (section, count) in sections {
                for i in 0..<Int(count) {
                    if recordBudget == 0 {
                        anomalies.append(DNSAnomaly("dns.too_many_records", "cap \(maxRecords)", offset: pos))
                        complete = false
                        break outer
                    }
                    guard let (rr, next) = parseRecord(bytes, at: pos, section: section, index: i, count: Int(count),
                                                       anomalies: &anomalies)
                    else {
                        complete = false
                        break outer
                    }
                    if rr.type == DNSType.opt {
                        if section != .additional {
                            anomalies.append(DNSAnomaly("dns.opt_outside_additional", "in \(section.rawValue)", offset: pos))
                        } else if msg.edns != nil {
                            anomalies.append(DNSAnomaly("dns.multiple_opt", "", offset: pos))
                        } else if case .opt(let e) = rr.rdata {
                            msg.edns = e
                        }
                        if rr.name != "." {
                            anomalies.append(DNSAnomaly("dns.opt_bad_owner", rr.name, offset: pos))
                        }
                    }
                    switch section {
                    case .answer: msg.answers.append(rr)
                    case .authority: msg.authorities.append(rr)
                    case .additional: msg.additionals.append(rr)
                    }
                    pos = next
                    recordBudget -= 1
                }
            }
        }
        if complete && pos < bytes.count {
            anomalies.append(DNSAnomaly("dns.trailing_bytes", "\(bytes.count - pos) bytes after the last record", offset: pos))
        }
        return DNSParseResult(message: msg, anomalies: anomalies, complete: complete)
    }

    /// Convenience for owned bytes.
    public static func parse(_ bytes: [UInt8]) -> DNSParseResult {
        bytes.withUnsafeBytes { parse($0) }
    }

    static func parseRecord(_ b: UnsafeRawBufferPointer, at start: Int, section: DNSSection, index: Int, count: Int,
                            anomalies: inout [DNSAnomaly]) -> (DNSResourceRecord, Int)? {
        let r = ByteReader(b)
        let nameRead = DNSName.read(b, at: start, anomalies: &anomalies)
        guard nameRead.ok, let p = nameRead.next,
              let type = r.get16(at: p), let rclass = r.get16(at: p + 2),
              let ttl = r.get32(at: p + 4), let rdlen16 = r.get16(at: p + 8)
        else {
            anomalies.append(DNSAnomaly("dns.truncated_record", "\(section.rawValue) record \(index + 1) of \(count)", offset: start))
            return nil
        }
        let rdStart = p + 10
        let rdLength = Int(rdlen16)
        guard rdStart + rdLength <= b.count else {
            anomalies.append(DNSAnomaly("dns.rdata_overrun",
                                        "\(section.rawValue) record \(index + 1): RDLENGTH \(rdLength) but \(b.count - rdStart) bytes left",
                                        offset: start))
            return nil
        }
        let rdEnd = rdStart + rdLength
        let rdata = parseRData(b, type: type, rclass: rclass, ttl: ttl, start: rdStart, end: rdEnd, anomalies: &anomalies)
        let rr = DNSResourceRecord(name: nameRead.name, type: type, rclass: rclass, ttl: ttl, rdata: rdata,
                                   section: section, offset: start, rdLength: rdLength)
        return (rr, rdEnd)
    }

    static func parseRData(_ b: UnsafeRawBufferPointer, type: UInt16, rclass: UInt16, ttl: UInt32, start: Int, end: Int,
                           anomalies: inout [DNSAnomaly]) -> DNSRData {
        let raw = Array(b[start..<end])
        func mismatch(_ why: String) -> DNSRData {
            anomalies.append(DNSAnomaly("dns.rdata_length_mismatch", "\(DNSType.name(type)): \(why)", offset: start))
            return .raw(raw)
        }
        /// Reads a name inside rdata; the name's own bytes must end within the rdata.
        func name(at p: Int) -> (String, Int)? {
            var local: [DNSAnomaly] = []
            let n = DNSName.read(b, at: p, anomalies: &local)
            anomalies.append(contentsOf: local)
            guard n.ok, let next = n.next, next <= end else { return nil }
            return (n.name, next)
        }
        let r = ByteReader(b, offset: start, end: end)
        switch type {
        case DNSType.a:
            guard end - start == 4, let s = IPText.ipv4(raw) else { return mismatch("length \(end - start) != 4") }
            return .a(s)
        case DNSType.aaaa:
            guard end - start == 16, let s = IPText.ipv6(raw) else { return mismatch("length \(end - start) != 16") }
            return .aaaa(s)
        case DNSType.cname, DNSType.ns, DNSType.ptr:
            guard let (n, next) = name(at: start) else { return mismatch("bad name") }
            if next != end { return mismatch("\(end - next) bytes after the name") }
            return type == DNSType.cname ? .cname(n) : type == DNSType.ns ? .ns(n) : .ptr(n)
        case DNSType.mx:
            guard let pref = r.get16(at: start), let (n, next) = name(at: start + 2) else { return mismatch("bad MX") }
            if next != end { return mismatch("\(end - next) bytes after the exchange") }
            return .mx(preference: pref, exchange: n)
        case DNSType.txt:
            var strings: [[UInt8]] = []
            var p = start
            while p < end {
                let l = Int(b[p])
                guard p + 1 + l <= end else { return mismatch("character-string overruns RDLENGTH") }
                strings.append(Array(b[(p + 1)..<(p + 1 + l)]))
                p += 1 + l
            }
            return .txt(strings)
        case DNSType.soa:
            guard let (m, p1) = name(at: start), let (rn, p2) = name(at: p1),
                  let serial = r.get32(at: p2), let refresh = r.get32(at: p2 + 4), let retry = r.get32(at: p2 + 8),
                  let expire = r.get32(at: p2 + 12), let minimum = r.get32(at: p2 + 16)
            else { return mismatch("bad SOA") }
            if p2 + 20 != end { return mismatch("\(end - p2 - 20) bytes after SOA") }
            return .soa(DNSSOA(mname: m, rname: rn, serial: serial, refresh: refresh, retry: retry, expire: expire, minimum: minimum))
        case DNSType.srv:
            guard let pri = r.get16(at: start), let w = r.get16(at: start + 2), let port = r.get16(at: start + 4),
                  let (t, next) = name(at: start + 6)
            else { return mismatch("bad SRV") }
            if next != end { return mismatch("\(end - next) bytes after the target") }
            return .srv(priority: pri, weight: w, port: port, target: t)
        case DNSType.opt:
            var options: [DNSEDNSOption] = []
            var p = start
            while p < end {
                guard let code = r.get16(at: p), let l16 = r.get16(at: p + 2), p + 4 + Int(l16) <= end else {
                    anomalies.append(DNSAnomaly("dns.edns_option_overrun", "option at \(p)", offset: p))
                    break
                }
                options.append(DNSEDNSOption(code: code, data: Array(b[(p + 4)..<(p + 4 + Int(l16))])))
                p += 4 + Int(l16)
            }
            let e = DNSEDNS(udpPayloadSize: rclass, extendedRCodeHigh: UInt8(ttl >> 24), version: UInt8((ttl >> 16) & 0xff),
                            dnssecOK: ttl & 0x8000 != 0, flags: UInt16(ttl & 0xffff), options: options)
            return .opt(e)
        default:
            return .raw(raw)
        }
    }
}
