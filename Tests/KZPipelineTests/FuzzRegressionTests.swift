import Foundation
import Testing
import KZCapture
import KZFlow
import KZPipeline
import KZProtocols
import KZReport
import KZWire

/// Replays every input the fuzzers found (Fixtures/fuzz/<target>/…) through the code path of that target, as
/// `Sources/KZFuzz/main.swift` drives it (keep the two in step), plus the whole pipeline for capture inputs.
/// A regression shows up as a crash of the test process or a failed invariant below.
@Suite struct FuzzRegressionTests {
    static let fuzzDir = packageRoot.appendingPathComponent("Fixtures/fuzz").path

    static func inputs(_ target: String) -> [(name: String, bytes: [UInt8])] {
        let dir = "\(fuzzDir)/\(target)"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { n in
            (try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(n)"))).map { (n, [UInt8]($0)) }
        }
    }

    /// The fuzz harness of `target` on `bytes`; returns a short description of what came out.
    static func replay(_ target: String, _ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { b -> String in
            switch target {
            case "capture":
                var acct = PacketAccounting()
                let d = PacketDecoder()
                let end = CaptureBytes.forEachFrame(b) { f in
                    acct.count(d.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                        linkType: f.linkType).status)
                }
                #expect(acct.isBalanced)
                return "\(acct.frames) frames, \(end == .complete ? "complete" : "damaged")"
            case "decoder":
                guard b.count >= 2 else { return "short" }
                let types: [UInt32] = [0, 1, 9, 50, 51, 101, 108, 113, 228, 229, 276, 147]
                let lt = LinkType(rawValue: types[Int(b[0]) % types.count])
                let frame = b.dropping(1)
                let p = PacketDecoder().decode(frame, frame: 1, timestamp: Timestamp(nanoseconds: 0),
                                               wireLength: frame.count + Int(b[0] & 1) * 10, linkType: lt)
                _ = PacketLine.json(p)
                _ = PacketLine.text(p)
                #expect(p.payloadCapturedLength <= frame.count)
                return "\(p.status)"
            case "reassembly":
                var table = FlowTable()
                var sink = NullFlowSink()
                var i = 0, n = 0
                let a = IPAddress(v4: 0x0a00_0001), s = IPAddress(v4: 0x0a00_0002)
                var storage = [UInt8](repeating: 0x41, count: 2048)
                while i + 6 <= b.count && n < 256 {
                    let flags = b[i], len = Int(b[i + 1]) % 200
                    let seq = b.be32(i + 2)
                    i += 6
                    let take = min(len, b.count - i)
                    for k in 0..<take { storage[k] = b[i + k] }
                    i += take
                    n += 1
                    let fwd = flags & 0x80 == 0
                    var p = DecodedPacket(frame: n, timestamp: Timestamp(nanoseconds: Int64(n) * 1000), capturedLength: take,
                                          wireLength: take, linkType: .raw)
                    p.ip = IPSummary(version: 4, src: fwd ? a : s, dst: fwd ? s : a, ttl: 64, ipID: UInt32(n), df: true,
                                     moreFragments: false, fragmentOffset: 0, isFragment: false, hasFragmentHeader: false,
                                     proto: .tcp, tos: 0, totalLength: UInt16(40 + take), headerLength: 20,
                                     headerChecksum: .good, hasOptions: false, recordRouteCount: 0, headerOffset: 0,
                                     tunnelDepth: 0, flowLabel: 0)
                    p.transport = .tcp(TCPSummary(srcPort: fwd ? 40000 : 80, dstPort: fwd ? 80 : 40000, seq: seq,
                                                  ack: UInt32(n) &* 1000, flags: TCPFlags(rawValue: UInt16(flags & 0x3f)),
                                                  window: 65535, headerLength: 20, urgentPointer: 0,
                                                  options: TCPOptionsSummary(), checksum: .good))
                    p.payloadOffset = 0
                    p.payloadLength = take
                    p.payloadCapturedLength = take
                    storage.withUnsafeBytes { table.process(p, frame: UnsafeRawBufferPointer(rebasing: $0[0..<take]), into: &sink) }
                }
                table.finish(into: &sink)
                #expect(table.activeFlows == 0)
                #expect(table.stats.bufferedBytes == 0)
                return "\(n) segments"
            case "dns":
                let r = DNSMessage.parse(b)
                #expect(r.message != nil || b.count < 12)
                var framer = DNSOverTCPFramer()
                framer.feed(b, frame: 1)
                var k = 0
                while let m = framer.next() { _ = DNSMessage.parse(m.message); k += 1 }
                return "\(r.anomalies.count) anomalies, \(k) framed"
            case "http":
                var req = HTTPStreamParser(role: .request)
                var resp = HTTPStreamParser(role: .response)
                let half = b.count / 2
                req.feed(b.slice(0..<half), frame: 1)
                resp.feed(b.slice(half..<b.count), frame: 2)
                req.finish()
                resp.finish()
                return "\(req.takeEvents().count + resp.takeEvents().count) events"
            case "tls":
                var p = TLSStreamParser()
                var i = 0
                while i < b.count {
                    let n = min(b.count - i, 1 + Int(b[i]) % 97)
                    p.feed(b.slice(i..<(i + n)), frame: i)
                    i += n
                }
                p.finish()
                return "\(p.takeEvents().count) events"
            case "certificate":
                let info = TLSCertificateInfo.summarize(der: bytes, index: 0)
                return "\(info)".prefix(60).description
            default:
                Issue.record("unknown fuzz target \(target)")
                return ""
            }
        }
    }

    static let targets = ["capture", "decoder", "reassembly", "dns", "http", "tls", "certificate"]

    @Test(arguments: targets) func fuzzFindingsStayFixed(target: String) throws {
        let found = Self.inputs(target)
        print("fuzz regressions \(target): \(found.count) input(s) in Fixtures/fuzz/\(target)")
        for (name, bytes) in found {
            let what = Self.replay(target, bytes)
            print("  \(target)/\(name): \(what)")
        }
        #expect(FileManager.default.fileExists(atPath: Self.fuzzDir), "Fixtures/fuzz is missing")
    }

    /// Capture findings also go through the whole pipeline from a file, as `kzforensics analyze` reads them.
    @Test func captureFindingsThroughTheAnalyzer() throws {
        let found = Self.inputs("capture")
        guard !found.isEmpty else { print("fuzz regressions: no capture findings to replay through Analyzer"); return }
        let dir = try hostileTempDir("fuzzreg")
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (name, bytes) in found {
            let p = dir.appendingPathComponent(name + ".pcap")
            try Data(bytes).write(to: p)
            paths.append(p.path)
        }
        let out = try Analyzer.run(paths: paths, options: AnalysisOptions())
        #expect(out.report.captures.count == paths.count)
        for c in out.report.captures {
            #expect(c.balanced, "\(c.path)")
            #expect((c.status == "complete") == (c.error == nil), "\(c.path)")
        }
    }
}
