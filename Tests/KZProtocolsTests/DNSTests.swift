import Testing
@testable import KZProtocols
import KZTestSupport

/// Builds DNS messages for hostile-input tests.
struct DNSBuilder {
    var bytes: [UInt8] = []
    init(id: UInt16 = 0x1234, flags: UInt16 = 0x8180, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) {
        for v in [id, flags, qd, an, ns, ar] { u16(v) }
    }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xff)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xffff)) }
    mutating func name(_ labels: [String]) {
        for l in labels { bytes.append(UInt8(l.utf8.count)); bytes += Array(l.utf8) }
        bytes.append(0)
    }
    mutating func pointer(_ target: Int) { bytes += [0xC0 | UInt8(target >> 8), UInt8(target & 0xff)] }
    mutating func question(_ labels: [String], type: UInt16 = 1) { name(labels); u16(type); u16(1) }
}

@Suite struct DNSCorpusTests {
    /// Query names, ids, flags and A/AAAA answers agree with tshark's dns.* fields for the same datagrams.
    @Test(arguments: ["dns_udp", "dns_edns_opts", "dns_forward_pointer"])
    func udpMessagesAgreeWithTshark(name: String) throws {
        let segments = Fixture.segments(name)
        let facts = Fixture.facts(name, kind: "dns")
        try #require(!segments.isEmpty, "fixture \(name).segments missing")
        #expect(segments.count == facts.count)
        for seg in segments {
            let res = DNSMessage.parse(seg.bytes)
            let msg = try #require(res.message)
            guard let fact = facts.first(where: { $0.frame == seg.frame }) else {
                Issue.record("no tshark row for frame \(seg.frame)"); continue
            }
            let f = fact.fields   // id, flags, qnames, a, aaaa, cname, ancount
            #expect("0x" + Hex.u16(msg.header.id) == f[0], "frame \(seg.frame)")
            #expect("0x" + Hex.u16(msg.header.flags) == f[1], "frame \(seg.frame)")
            #expect(Int(f[6]) == Int(msg.header.anCount))
            let answersA = msg.answers.compactMap { if case .a(let s) = $0.rdata { s } else { nil } }
            let answersAAAA = msg.answers.compactMap { if case .aaaa(let s) = $0.rdata { s } else { nil } }
            if name == "dns_forward_pointer" && seg.frame == 1 {
                // Deliberate difference: this query's first question name is a compression pointer (c0 12) to
                // the *later* second question. tshark follows it and prints "codemonkey.net" twice; we refuse
                // forward pointers (dns.name_forward_pointer) and stop there, so no question is decoded.
                #expect(res.has("dns.name_forward_pointer"))
                #expect(!res.complete)
                #expect(msg.questions.isEmpty)
                #expect(msg.header.qdCount == 2)
                continue
            }
            #expect(msg.questions.map(\.name).joined(separator: "|") == f[2], "frame \(seg.frame)")
            #expect(answersA.joined(separator: "|") == f[3], "frame \(seg.frame)")
            #expect(answersAAAA.joined(separator: "|") == f[4], "frame \(seg.frame)")
            #expect(res.complete, "frame \(seg.frame): \(res.anomalies)")
        }
    }

    /// Every proper prefix of every corpus message parses without crashing and is reported incomplete.
    @Test(arguments: ["dns_udp", "dns_edns_opts", "dns_forward_pointer"])
    func everyTruncatedPrefix(name: String) {
        var prefixes = 0
        for seg in Fixture.segments(name) {
            let full = DNSMessage.parse(seg.bytes)
            for n in 0..<seg.bytes.count {
                let res = DNSMessage.parse(Array(seg.bytes[0..<n]))
                prefixes += 1
                if full.complete && !full.has("dns.trailing_bytes") {
                    #expect(!res.complete, "prefix \(n) of frame \(seg.frame) claimed complete")
                }
                if n < 12 { #expect(res.message == nil && res.has("dns.truncated_header")) }
            }
        }
        #expect(prefixes > 0)
    }

    /// DNS over TCP: the framer splits the corpus stream into the messages tshark saw, with tshark's frame
    /// numbers as the frame of each message's last byte; the result is the same when fed one byte at a time.
    @Test(arguments: ["dns_tcp", "dns_tcp_multi"])
    func tcpFramingAgreesWithTshark(name: String) throws {
        let segments = Fixture.segments(name)
        try #require(!segments.isEmpty)
        func run(byteAtATime: Bool) -> [(ids: UInt16, names: String, first: Int, last: Int)] {
            var framers = [DNSOverTCPFramer(), DNSOverTCPFramer()]
            var out: [(UInt16, String, Int, Int)] = []
            for seg in segments {
                let k = seg.fromClient ? 0 : 1
                if byteAtATime {
                    for b in seg.bytes { framers[k].feed([b], frame: seg.frame) }
                } else {
                    framers[k].feed(seg.bytes, frame: seg.frame)
                }
                while let m = framers[k].next() {
                    let res = DNSMessage.parse(m.message)
                    out.append((res.message?.header.id ?? 0xffff, res.message?.questions.map(\.name).joined(separator: "|") ?? "",
                                m.firstFrame, m.lastFrame))
                }
            }
            #expect(framers[0].pendingByteCount == 0 && framers[1].pendingByteCount == 0)
            return out
        }
        let whole = run(byteAtATime: false)
        let bytewise = run(byteAtATime: true)
        #expect(whole.map(\.ids) == bytewise.map(\.ids))
        #expect(whole.map(\.last) == bytewise.map(\.last))
        // tshark lists one row per frame; several messages in one segment are '|'-joined.
        var expected: [(UInt16, String, Int)] = []
        for fact in Fixture.facts(name, kind: "dns") {
            let ids = fact.fields[0].split(separator: "|")
            let names = fact.fields[2].split(separator: "|", omittingEmptySubsequences: false)
            for (i, id) in ids.enumerated() {
                expected.append((UInt16(id.dropFirst(2), radix: 16) ?? 0, i < names.count ? String(names[i]) : "", fact.frame))
            }
        }
        #expect(whole.count == expected.count)
        for (got, want) in zip(whole, expected) {
            #expect(got.ids == want.0)
            #expect(got.names == want.1)
            #expect(got.last == want.2)
        }
    }
}

@Suite struct DNSHostileTests {
    @Test func pointerToItselfIsALoop() {
        var b = DNSBuilder(qd: 1)
        b.pointer(12)          // name at 12 points to 12
        b.u16(1); b.u16(1)
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.name_pointer_loop"))
        #expect(!res.complete)
    }

    @Test func twoPointersAtEachOtherAreALoop() {
        // Question 1: "a" + pointer to question 2's name; question 2's name: pointer back into question 1.
        var b = DNSBuilder(qd: 2)
        b.bytes += [1, UInt8(ascii: "a")]
        b.pointer(12)          // at 14: points back to 12 → inside its own run → loop
        b.u16(1); b.u16(1)
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.name_pointer_loop"))
    }

    @Test func backwardChainThatRevisitsIsALoop() {
        // name A at 12: "x" then pointer to 12+? — build: 12: 01 'x' C0 0C (points to 12, its own run start)
        var b = DNSBuilder(qd: 1)
        b.bytes += [1, UInt8(ascii: "x"), 1, UInt8(ascii: "y")]
        b.pointer(14)          // at 16 → 14, inside the run that started at 12 → loop
        b.u16(1); b.u16(1)
        #expect(DNSMessage.parse(b.bytes).has("dns.name_pointer_loop"))
    }

    @Test func forwardPointerIsRefused() {
        var b = DNSBuilder(qd: 1)
        b.pointer(40)
        b.u16(1); b.u16(1)
        b.bytes += [UInt8](repeating: 0, count: 40)
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.name_forward_pointer"))
        #expect(!res.complete)
    }

    @Test func legalCompressionIsFollowed() {
        var b = DNSBuilder(qd: 1, an: 2)
        b.question(["www", "Example", "com"])
        // answer 1: pointer to the question name, CNAME → "cdn" + pointer to "Example.com" (offset 16)
        b.pointer(12); b.u16(5); b.u16(1); b.u32(300)
        b.u16(6); b.bytes += [3] + Array("cdn".utf8); b.pointer(16)
        // answer 2: owner = pointer to the CNAME target (offset of "cdn"), A record
        let cnameTarget = b.bytes.count - 6
        b.pointer(cnameTarget); b.u16(1); b.u16(1); b.u32(60); b.u16(4); b.bytes += [192, 0, 2, 1]
        let res = DNSMessage.parse(b.bytes)
        #expect(res.anomalies.isEmpty, "\(res.anomalies)")
        #expect(res.complete)
        let m = res.message
        #expect(m?.questions.first?.name == "www.Example.com")       // original case kept
        #expect(m?.answers.first?.rdata == .cname("cdn.Example.com"))
        #expect(m?.answers.last?.name == "cdn.Example.com")
        #expect(m?.answers.last?.rdata == .a("192.0.2.1"))
    }

    @Test func nameTooLong() {
        var b = DNSBuilder(qd: 1)
        b.name(Array(repeating: String(repeating: "a", count: 63), count: 5))   // 5*64+1 = 321 > 255
        b.u16(1); b.u16(1)
        #expect(DNSMessage.parse(b.bytes).has("dns.name_too_long"))
    }

    /// Presentation form (RFC 1035 §5.1): `.` and `\` in a label escaped, octets outside 0x21...0x7E as `\DDD`;
    /// checked against a plain reference on fixed and random labels, and on the longest form a 255-octet name can
    /// take (every octet `\DDD`), which fills the decoder's stack buffer.
    @Test func labelsAreEscapedInPresentationForm() {
        func reference(_ labels: [[UInt8]]) -> String {
            labels.map { label in
                label.map { c -> String in
                    if c == UInt8(ascii: ".") || c == UInt8(ascii: "\\") { return "\\" + String(UnicodeScalar(c)) }
                    if c > 0x20 && c < 0x7f { return String(UnicodeScalar(c)) }
                    let d = String(c)
                    return "\\" + String(repeating: "0", count: 3 - d.count) + d
                }.joined()
            }.joined(separator: ".")
        }
        func decode(_ labels: [[UInt8]]) -> String? {
            var b = DNSBuilder(qd: 1)
            for l in labels { b.bytes.append(UInt8(l.count)); b.bytes += l }
            b.bytes.append(0)
            b.u16(1); b.u16(1)
            let res = DNSMessage.parse(b.bytes)
            #expect(res.anomalies.isEmpty, "\(res.anomalies)")
            return res.message?.questions.first?.name
        }
        let fixed: [[UInt8]] = [Array("a.b".utf8), Array("c\\d".utf8), [0, 32, 0x7f, 0xff, 9, 0x21, 0x7e], Array("ok".utf8)]
        #expect(decode(fixed) == "a\\.b.c\\\\d.\\000\\032\\127\\255\\009!~.ok")
        #expect(decode(fixed) == reference(fixed))
        // 255 wire octets: three 63-octet labels and one 61-octet label, all 0xFF (1003 characters with the dots).
        let longest: [[UInt8]] = [[UInt8](repeating: 0xff, count: 63), [UInt8](repeating: 0xff, count: 63),
                                  [UInt8](repeating: 0xff, count: 63), [UInt8](repeating: 0xff, count: 61)]
        let long = decode(longest)
        #expect(long == reference(longest))
        #expect(long?.utf8.count == 250 * 4 + 3)
        var rng = TestRandom(seed: 0xbbdaf2ec01)
        for _ in 0..<300 {
            var labels: [[UInt8]] = []
            var wire = 1
            while labels.count < 6 {
                let n = Int.random(in: 1...20, using: &rng)
                if wire + n + 1 > 255 { break }
                wire += n + 1
                labels.append((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            #expect(decode(labels) == reference(labels))
        }
    }

    @Test func badLabelType() {
        var b = DNSBuilder(qd: 1)
        b.bytes += [0x41, 0x00]
        b.u16(1); b.u16(1)
        #expect(DNSMessage.parse(b.bytes).has("dns.name_bad_label_type"))
    }

    @Test func hugeRDLengthIsAnOverrun() {
        var b = DNSBuilder(qd: 1, an: 1)
        b.question(["example", "com"])
        b.pointer(12); b.u16(1); b.u16(1); b.u32(1); b.u16(0xffff); b.bytes += [1, 2, 3, 4]
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.rdata_overrun"))
        #expect(!res.complete)
        #expect(res.message?.questions.count == 1)       // kept what parsed
    }

    @Test func hugeCountsStopAtTheData() {
        let b = DNSBuilder(qd: 0xffff, an: 0xffff, ns: 0xffff, ar: 0xffff)
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.truncated_question"))
        #expect(res.message?.questions.isEmpty == true)
    }

    @Test func wrongALengthAndTrailingBytes() {
        var b = DNSBuilder(qd: 1, an: 1)
        b.question(["example", "com"])
        b.pointer(12); b.u16(1); b.u16(1); b.u32(1); b.u16(3); b.bytes += [1, 2, 3]
        b.bytes += [0xde, 0xad]
        let res = DNSMessage.parse(b.bytes)
        #expect(res.has("dns.rdata_length_mismatch"))
        #expect(res.has("dns.trailing_bytes"))
        #expect(res.message?.answers.first?.rdata == .raw([1, 2, 3]))
    }

    @Test func recordTypesAndEDNS() {
        var b = DNSBuilder(flags: 0x8380, qd: 1, an: 5, ns: 1, ar: 1)    // TC set
        b.question(["example", "com"], type: 255)
        // AAAA
        b.pointer(12); b.u16(28); b.u16(1); b.u32(1); b.u16(16)
        b.bytes += [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        // MX
        b.pointer(12); b.u16(15); b.u16(1); b.u32(1); b.u16(4); b.u16(10); b.pointer(12)
        // TXT with two strings
        b.pointer(12); b.u16(16); b.u16(1); b.u32(1); b.u16(6); b.bytes += [2] + Array("hi".utf8) + [2] + Array("yo".utf8)
        // SRV
        b.pointer(12); b.u16(33); b.u16(1); b.u32(1); b.u16(8); b.u16(1); b.u16(2); b.u16(443); b.pointer(12)
        // unknown type 99 raw
        b.pointer(12); b.u16(99); b.u16(1); b.u32(1); b.u16(2); b.bytes += [7, 7]
        // SOA in authority
        b.pointer(12); b.u16(6); b.u16(1); b.u32(1); b.u16(24); b.pointer(12); b.pointer(12)
        b.u32(2024); b.u32(3600); b.u32(600); b.u32(86400); b.u32(60)
        // OPT: root, udp 1232, DO, one option (cookie, 8 bytes)
        b.bytes.append(0); b.u16(41); b.u16(1232); b.u32(0x0000_8000); b.u16(12); b.u16(10); b.u16(8)
        b.bytes += [1, 2, 3, 4, 5, 6, 7, 8]
        let res = DNSMessage.parse(b.bytes)
        #expect(res.anomalies.isEmpty, "\(res.anomalies)")
        let m = res.message
        #expect(m?.header.truncated == true)
        #expect(m?.answers.map(\.rdata) == [
            .aaaa("2001:db8::1"), .mx(preference: 10, exchange: "example.com"), .txt([Array("hi".utf8), Array("yo".utf8)]),
            .srv(priority: 1, weight: 2, port: 443, target: "example.com"), .raw([7, 7]),
        ])
        if case .soa(let soa)? = m?.authorities.first?.rdata {
            #expect(soa.serial == 2024 && soa.minimum == 60 && soa.mname == "example.com")
        } else { Issue.record("SOA not decoded") }
        #expect(m?.edns?.udpPayloadSize == 1232)
        #expect(m?.edns?.dnssecOK == true)
        #expect(m?.edns?.options == [DNSEDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
    }

    @Test func ednsOptionOverrun() {
        var b = DNSBuilder(qd: 0, ar: 1)
        b.bytes.append(0); b.u16(41); b.u16(512); b.u32(0); b.u16(4); b.u16(10); b.u16(200)
        #expect(DNSMessage.parse(b.bytes).has("dns.edns_option_overrun"))
    }

    @Test func rfc5952Text() {
        #expect(IPText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]) == "2001:db8::1:0:0:1")
        #expect(IPText.ipv6([UInt8](repeating: 0, count: 16)) == "::")
        #expect(IPText.ipv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(IPText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8:0:1::1")
        // a single zero group is not shortened (RFC 5952 §4.2.2); the first of equal runs is (§4.2.3)
        #expect(IPText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]) == "2001:db8:0:1:1:1:1:1")
        #expect(IPText.ipv6([0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:0:0:1::1")
        #expect(IPText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1].map { $0 }) != nil)
        #expect(IPText.ipv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]) == "::ffff:192.0.2.1")
        #expect(IPText.ipv6([0xAB, 0xCD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == "abcd::")
    }

    @Test func framerHandlesZeroLengthAndSplits() {
        var f = DNSOverTCPFramer()
        var b = DNSBuilder(qd: 1)
        b.question(["a"])
        let msg = b.bytes
        let stream: [UInt8] = [0, 0] + [UInt8(msg.count >> 8), UInt8(msg.count & 0xff)] + msg
            + [UInt8(msg.count >> 8), UInt8(msg.count & 0xff)] + msg.prefix(5)
        for (i, byte) in stream.enumerated() { f.feed([byte], frame: 100 + i / 10) }
        let first = f.next()
        #expect(first?.message == msg)
        #expect(first?.firstFrame == 100)
        #expect(first?.lastFrame == 100 + (4 + msg.count - 1) / 10)
        #expect(f.next() == nil)
        #expect(f.pendingByteCount == 7)
        #expect(f.zeroLengthCount == 1)
    }
}
