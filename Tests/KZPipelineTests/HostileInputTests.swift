import Foundation
import Testing
import KZFlow
import KZPipeline
import KZReport
import KZWire
import KZTestSupport

/// Issue 9: damaged and malicious captures never crash the analyzer, every frame is accounted for, and damage is
/// reported (status "partial"/"unreadable" with an error, or a named anomaly).
@Suite struct HostileInputTests {
    /// What one sweep did, for the printed summary.
    struct Tally {
        var mutants = 0, truncations = 0, flips = 0, complete = 0, partial = 0, unreadable = 0
        mutating func note(_ status: String) {
            switch status {
            case "complete": complete += 1
            case "partial": partial += 1
            default: unreadable += 1
            }
        }
    }

    /// Writes truncated and byte-flipped mutants of `source`, analyses them in one `Analyzer.run`, checks each.
    /// `cuts` truncation points spread over the file (plus the header edges) and `flipMutants` copies with 1…16 random
    /// bytes overwritten, from a seed derived from `seed`.
    static func sweep(_ source: String, cuts: Int, flipMutants: Int, seed: UInt64, dir: URL, tally: inout Tally) throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let base = try Analyzer.run(paths: [source], options: AnalysisOptions())
        let baseInfo = try #require(base.report.captures.first)
        #expect(baseInfo.balanced, "\(source)")
        let ends = cleanEnds(original)

        var rng = TestRandom(seed: seed)
        var points: Set<Int> = [0, 3, 10, 23, 24, 25, 40, original.count - 1]
        for i in 1...cuts { points.insert(original.count * i / (cuts + 1)) }
        for _ in 0..<cuts { points.insert(Int.random(in: 0..<max(1, original.count), using: &rng)) }
        let cutList = points.filter { $0 >= 0 && $0 < original.count }.sorted()

        var paths: [String] = []
        var kinds: [(cut: Int?, label: String)] = []
        let stem = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        for c in cutList {
            let p = dir.appendingPathComponent("\(stem)-cut\(c).pcap")
            try Data(original[0..<c]).write(to: p)
            paths.append(p.path)
            kinds.append((c, "cut at \(c)"))
        }
        for m in 0..<flipMutants {
            var b = original
            let flips = Int.random(in: 1...16, using: &rng)
            var where_: [Int] = []
            for _ in 0..<flips where !b.isEmpty {
                let at = Int.random(in: 0..<b.count, using: &rng)
                b[at] = UInt8.random(in: 0...255, using: &rng)
                where_.append(at)
            }
            let p = dir.appendingPathComponent("\(stem)-flip\(m).pcap")
            try Data(b).write(to: p)
            paths.append(p.path)
            kinds.append((nil, "flips at \(where_)"))
        }

        let out = try Analyzer.run(paths: paths, options: AnalysisOptions())
        #expect(out.report.captures.count == paths.count)
        for (i, info) in out.report.captures.enumerated() where i < kinds.count {
            let what = "\(source) \(kinds[i].label)"
            tally.mutants += 1
            tally.note(info.status)
            #expect(info.balanced, "accounting: \(what)")
            #expect(["complete", "partial", "unreadable"].contains(info.status), "\(what): \(info.status)")
            #expect((info.status == "complete") == (info.error == nil), "error iff damaged: \(what)")
            if let cut = kinds[i].cut {
                tally.truncations += 1
                #expect(info.frames <= baseInfo.frames, "\(what): more frames than the original")
                if baseInfo.status == "complete", let ends {
                    if let k = ends[cut], original[0] != 0x0a {
                        #expect(info.status == "complete" && info.frames == k, "\(what): clean end after \(k) records")
                    } else if ends[cut] == nil {
                        #expect(info.status != "complete", "\(what): a cut inside a record must be reported")
                    }
                }
            } else {
                tally.flips += 1
            }
        }
        for p in paths { try? FileManager.default.removeItem(atPath: p) }
    }

    @Test func everyFixtureCaptureSurvivesTruncationAndByteFlips() throws {
        let root = packageRoot.appendingPathComponent("Fixtures").path
        let files = (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        #expect(files.count >= 10)
        let dir = try hostileTempDir("fixtures")
        defer { try? FileManager.default.removeItem(at: dir) }
        var tally = Tally()
        for (i, f) in files.enumerated() {
            try Self.sweep("\(root)/\(f)", cuts: 10, flipMutants: 6, seed: 0x6b7a_0000 + UInt64(i), dir: dir, tally: &tally)
        }
        print("hostile fixtures: \(files.count) captures, \(tally.mutants) mutants (\(tally.truncations) truncations, "
              + "\(tally.flips) flipped): \(tally.complete) complete, \(tally.partial) partial, \(tally.unreadable) unreadable")
        #expect(tally.partial > 0)
    }

    @Test func corpusSampleSurvivesTruncationAndByteFlips() throws {
        guard let corpus = hostileCorpusDir else {
            print("hostile corpus: ../shared/corpus not found; corpus sample NOT run (fixtures sweep still ran)")
            return
        }
        // Every readable-format capture under 200 kB, by path; every k-th of them so ~40 are taken.
        let manifest = try String(contentsOfFile: corpus + "/MANIFEST.tsv", encoding: .utf8)
        var candidates: [String] = []
        for line in manifest.split(separator: "\n").dropFirst() {
            let c = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard c.count > 8, let size = Int(c[6]), size < 200_000, ["pcap", "pcapng", "nsecpcap"].contains(String(c[8]))
            else { continue }
            candidates.append(String(c[0]))
        }
        candidates.sort()
        let step = max(1, candidates.count / 40)
        let sample = stride(from: 0, to: candidates.count, by: step).map { candidates[$0] }.prefix(40)
        #expect(sample.count >= 30)
        let dir = try hostileTempDir("corpus")
        defer { try? FileManager.default.removeItem(at: dir) }
        var tally = Tally()
        for (i, f) in sample.enumerated() {
            try Self.sweep("\(corpus)/\(f)", cuts: 5, flipMutants: 4, seed: 0x6b7a_1000 + UInt64(i), dir: dir, tally: &tally)
        }
        print("hostile corpus: \(sample.count) of \(candidates.count) captures, \(tally.mutants) mutants "
              + "(\(tally.truncations) truncations, \(tally.flips) flipped): \(tally.complete) complete, "
              + "\(tally.partial) partial, \(tally.unreadable) unreadable")
    }

    // MARK: captures whose lengths lie

    func analyse(_ bytes: [UInt8], _ name: String) throws -> (CaptureInfo, AnalysisOutcome) {
        let dir = try hostileTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent(name)
        try Data(bytes).write(to: p)
        let out = try Analyzer.run(paths: [p.path], options: AnalysisOptions())
        let info = try #require(out.report.captures.first)
        #expect(info.balanced, "\(name)")
        return (info, out)
    }

    var dnsQuery: [UInt8] {
        Frames.udp(src: Frames.client, dst: Frames.server, sport: 40000, dport: 53,
                   [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1])
    }

    @Test func pcapRecordLengthsThatLie() throws {
        let good = dnsQuery
        // caplen larger than what is left of the file
        var a = PcapFile(); a.add(good); a.add(good, caplen: 5000)
        let (ia, _) = try analyse(a.bytes, "caplen-past-end.pcap")
        #expect(ia.status == "partial" && ia.frames == 1)
        #expect(ia.error?.contains("truncated record") == true, "\(ia.error ?? "nil")")
        // caplen above libpcap's 262144 maximum, with the bytes actually present
        var b = PcapFile(); b.add(good); b.add([UInt8](repeating: 0x41, count: 300_000))
        let (ib, _) = try analyse(b.bytes, "caplen-huge.pcap")
        #expect(ib.status == "partial" && ib.frames == 1)
        #expect(ib.error?.contains("262144") == true, "\(ib.error ?? "nil")")
        // caplen 0xffffffff (would overflow 32-bit arithmetic)
        var c = PcapFile(); c.add(good); c.add(good, caplen: 0xffff_ffff)
        let (ic, _) = try analyse(c.bytes, "caplen-max.pcap")
        #expect(ic.status == "partial" && ic.frames == 1)
        // wire length smaller than caplen, and zero: still analysed, counted
        var d = PcapFile(); d.add(good, wire: 10); d.add(good, wire: 0); d.add([], wire: 60)
        let (id, _) = try analyse(d.bytes, "wire-lies.pcap")
        #expect(id.status == "complete" && id.frames == 3)
        // a snaplen of 0 and a header that ends early
        var e = PcapFile(); e.bytes.replaceSubrange(16..<20, with: le32(0)); e.add(good)
        let (ie, _) = try analyse(e.bytes, "snaplen-zero.pcap")
        #expect(ie.frames == 1)
        let (ig, _) = try analyse(Array(PcapFile().bytes.prefix(20)), "short-header.pcap")
        #expect(ig.status == "unreadable" && ig.error != nil)
    }

    @Test func pcapngBlockSizesThatLie() throws {
        var ok = PcapngFile(); ok.addPacket(dnsQuery)
        let (io, _) = try analyse(ok.bytes, "ok.pcapng")
        #expect(io.status == "complete" && io.frames == 1)

        func withSecondBlock(total: UInt32?, trailer: UInt32?) -> [UInt8] {
            var f = PcapngFile(); f.addPacket(dnsQuery)
            let start = f.bytes.count
            f.addPacket(dnsQuery)
            if let total { f.bytes.replaceSubrange((start + 4)..<(start + 8), with: le32(total)) }
            if let trailer { f.bytes.replaceSubrange((f.bytes.count - 4)..<f.bytes.count, with: le32(trailer)) }
            return f.bytes
        }
        let trueTotal = UInt32(PcapngFile.block(6, [UInt8](repeating: 0, count: 20 + dnsQuery.count)).count)
        let cases: [(String, [UInt8])] = [
            ("not-multiple-of-4.pcapng", withSecondBlock(total: trueTotal + 2, trailer: nil)),
            ("trailer-mismatch.pcapng", withSecondBlock(total: nil, trailer: trueTotal + 4)),
            ("huge.pcapng", withSecondBlock(total: 0xffff_fff0, trailer: nil)),
            ("below-minimum.pcapng", withSecondBlock(total: 8, trailer: nil)),
            ("zero.pcapng", withSecondBlock(total: 0, trailer: nil)),
            ("past-end.pcapng", withSecondBlock(total: trueTotal + 64, trailer: nil)),
        ]
        for (name, bytes) in cases {
            let (info, _) = try analyse(bytes, name)
            #expect(info.status == "partial", "\(name): \(info.status)")
            #expect(info.frames == 1, "\(name): frames before the damage are kept")
            #expect(info.error != nil, "\(name)")
        }
        // An EPB whose captured length exceeds its own block.
        var f = PcapngFile(); f.addPacket(dnsQuery)
        let start = f.bytes.count
        f.addPacket(dnsQuery)
        f.bytes.replaceSubrange((start + 20)..<(start + 24), with: le32(100_000))
        let (ic, _) = try analyse(f.bytes, "epb-caplen.pcapng")
        #expect(ic.status == "partial" && ic.frames == 1)
        // A section header claiming a giant section length, then an undefined interface.
        var g = PcapngFile()
        g.bytes.replaceSubrange(16..<24, with: [UInt8](repeating: 0x7f, count: 8))
        g.bytes += PcapngFile.block(6, le32(7) + le32(0) + le32(0) + le32(4) + le32(4) + [1, 2, 3, 4])
        let (ig, _) = try analyse(g.bytes, "undefined-interface.pcapng")
        #expect(ig.status == "partial" && ig.frames == 0)
    }

    // MARK: hostile packets

    @Test func dnsCompressionLoopsAreNamedNotFollowed() throws {
        let header: [UInt8] = [0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        // Question name is a pointer to itself (offset 12).
        let selfLoop = header + [0xc0, 0x0c, 0, 1, 0, 1]
        // Question "a" → pointer to the answer name; answer "b" → pointer back to the question: a two-step cycle.
        let twoStep = header + [1, 0x61, 0xc0, 0x16, 0, 1, 0, 1] + [1, 0x62, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]
        var pcap = PcapFile()
        pcap.add(dnsQuery)
        pcap.add(Frames.udp(src: Frames.server, dst: Frames.client, sport: 53, dport: 40000, selfLoop), usec: 1000)
        pcap.add(Frames.udp(src: Frames.server, dst: Frames.client, sport: 53, dport: 40001, twoStep), usec: 2000)
        let (info, out) = try analyse(pcap.bytes, "dns-loop.pcap")
        #expect(info.status == "complete" && info.frames == 3)
        let names = Set(out.report.anomalies.map(\.name))
        #expect(names.contains("dns.name_pointer_loop") || names.contains("dns.name_forward_pointer"), "\(names.sorted())")
    }

    @Test func tcpBillionByteSequenceJump() throws {
        let isn: UInt32 = 1000, sisn: UInt32 = 5000
        let c = Frames.client, s = Frames.server
        var pcap = PcapFile()
        var t: UInt32 = 0
        func add(_ f: [UInt8]) { t += 1000; pcap.add(f, usec: t) }
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn, ack: 0, flags: 0x02))
        add(Frames.tcp(src: s, dst: c, sport: 80, dport: 40000, seq: sisn, ack: isn + 1, flags: 0x12))
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn + 1, ack: sisn + 1, flags: 0x10))
        let get = Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8)
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn + 1, ack: sisn + 1, flags: 0x18, get))
        // A billion bytes ahead, then the sequence wraps around, then back to normal.
        let junk = [UInt8](repeating: 0x5a, count: 1000)
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn + 1 + 1_000_000_000, ack: sisn + 1, flags: 0x18, junk))
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn &+ 3_000_000_000, ack: sisn + 1, flags: 0x18, junk))
        add(Frames.tcp(src: s, dst: c, sport: 80, dport: 40000, seq: sisn + 1 + 2_000_000_000, ack: isn + 1, flags: 0x18, junk))
        add(Frames.tcp(src: s, dst: c, sport: 80, dport: 40000, seq: sisn + 1, ack: isn + 1 + UInt32(get.count), flags: 0x18,
                       Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)))
        add(Frames.tcp(src: c, dst: s, sport: 40000, dport: 80, seq: isn + 1 + UInt32(get.count), ack: sisn + 1, flags: 0x11))
        let (info, out) = try analyse(pcap.bytes, "seq-jump.pcap")
        #expect(info.status == "complete" && info.frames == 9)
        #expect(info.accounting.decoded == 9)
        #expect(out.report.flows.tcp == 1)

        // The same jump through a FlowTable directly: the hole is never allocated.
        let decoder = PacketDecoder()
        var table = FlowTable()
        var sink = RecordingSink()
        let frames = Self.records(pcap.bytes)
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { b in
                let p = decoder.decode(b, frame: i + 1, timestamp: Timestamp(nanoseconds: Int64(i) * 1_000_000),
                                       wireLength: b.count, linkType: LinkType(rawValue: 1))
                table.process(p, frame: b, into: &sink)
            }
        }
        table.finish(into: &sink)
        #expect(table.stats.peakBufferedBytes <= table.limits.maxBufferedBytesPerFlow * 2)
        #expect(table.stats.bufferedBytes == 0)
        #expect(sink.records.count == 1)
        let delivered = sink.records.first.map { $0.directions.reduce(UInt64(0)) { $0 + $1.streamBytes } } ?? 0
        #expect(delivered < 10_000, "a sequence jump must not make the stream deliver the hole: \(delivered)")
    }

    @Test func ipv4FragmentsThatRebuildPast65535Bytes() throws {
        // First fragment: 40 bytes of options and 65,472 bytes of data; last fragment: a plain header and 43 bytes at
        // offset 65,472. Each is legal on its own, but the rebuilt datagram would be 60 + 65,515 = 65,575 bytes.
        let c = Frames.client, s = Frames.server
        let first = Frames.ipv4(17, src: c, dst: s, payload: [UInt8](repeating: 0x11, count: 65_472), id: 77,
                                options: [UInt8](repeating: 1, count: 40), fragment: 0x2000)
        let last = Frames.ipv4(17, src: c, dst: s, payload: [UInt8](repeating: 0x22, count: 43), id: 77,
                               fragment: UInt16(65_472 / 8))
        var pcap = PcapFile()
        pcap.add(first)
        pcap.add(last, usec: 1000)
        pcap.add(dnsQuery, usec: 2000)
        let (info, out) = try analyse(pcap.bytes, "frag-oversize.pcap")
        #expect(info.status == "complete" && info.frames == 3)
        #expect(out.report.anomalies.contains { $0.name == "ip.fragment_oversize" }, "\(out.report.anomalies.map(\.name))")
    }

    /// Classic pcap record payloads (for feeding a FlowTable directly).
    static func records(_ b: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var off = 24
        while off + 16 <= b.count {
            let cap = Int(b[off + 8]) | Int(b[off + 9]) << 8 | Int(b[off + 10]) << 16 | Int(b[off + 11]) << 24
            guard off + 16 + cap <= b.count else { break }
            out.append(Array(b[(off + 16)..<(off + 16 + cap)]))
            off += 16 + cap
        }
        return out
    }

    struct RecordingSink: FlowEventSink {
        var records: [FlowRecord] = []
        var closed = 0
        mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord) {
            closed += 1
            if records.count < 16 { records.append(record) }
        }
    }

    @Test func twoMillionSynsStayWithinTheFlowCap() throws {
        let limits = FlowLimits()
        var table = FlowTable(limits: limits)
        var sink = RecordingSink()
        let n = 2_000_000
        let a = IPAddress(v4: 0x0a00_0001), s = IPAddress(v4: 0x0a00_0002)
        var p = DecodedPacket(frame: 0, timestamp: Timestamp(nanoseconds: 0), capturedLength: 54, wireLength: 54,
                              linkType: LinkType(rawValue: 1))
        p.ip = IPSummary(version: 4, src: a, dst: s, ttl: 64, ipID: 0, df: true, moreFragments: false, fragmentOffset: 0,
                         isFragment: false, hasFragmentHeader: false, proto: .tcp, tos: 0, totalLength: 40,
                         headerLength: 20, headerChecksum: .good, hasOptions: false, recordRouteCount: 0,
                         headerOffset: 14, tunnelDepth: 0, flowLabel: 0)
        p.payloadOffset = 54
        p.payloadLength = 0
        p.payloadCapturedLength = 0
        var peak = 0
        let frame = [UInt8](repeating: 0, count: 54)
        frame.withUnsafeBytes { bytes in
            for i in 0..<n {
                // 2 M distinct (source port, destination port) pairs, 1 µs apart: no flow times out, so the cap must act.
                p.frame = i + 1
                p.timestamp = Timestamp(nanoseconds: 1_700_000_000_000_000_000 + Int64(i) * 1000)
                p.transport = .tcp(TCPSummary(srcPort: UInt16(1024 + i % 64_000), dstPort: UInt16(1 + i / 64_000),
                                              seq: UInt32(truncatingIfNeeded: i), ack: 0, flags: TCPFlags(rawValue: 0x02),
                                              window: 65535, headerLength: 20, urgentPointer: 0,
                                              options: TCPOptionsSummary(), checksum: .good))
                table.process(p, frame: bytes, into: &sink)
                if i & 0xffff == 0 { peak = max(peak, table.activeFlows) }
            }
        }
        let st = table.stats
        print("2M SYNs: flows opened \(st.flowsOpened), evicted \(st.evicted), peak \(st.peakFlows), "
              + "active \(table.activeFlows), segment records \(st.segmentRecords)")
        #expect(table.activeFlows <= limits.maxFlows)
        #expect(peak <= limits.maxFlows)
        #expect(st.peakFlows <= limits.maxFlows)
        #expect(st.flowsOpened == n)
        #expect(st.evicted == n - table.activeFlows - st.closedIdle)
        #expect(st.evicted > 0)
        #expect(st.segmentRecords <= limits.maxSegmentRecordsTotal)
        #expect(sink.closed == st.evicted + st.closedIdle)
        table.finish(into: &sink)
        #expect(sink.closed == n)
        #expect(table.activeFlows == 0)
    }
}
