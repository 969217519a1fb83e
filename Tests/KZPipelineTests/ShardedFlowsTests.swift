import Foundation
import KZFlow
@testable import KZPipeline
import Testing

/// `kzforensics flows --threads N` shards flows by key across N flow tables (`ShardedFlows`). Where no global cap
/// binds, every row, the flow counts, the anomaly counts and the frame accounting must equal the one-thread run.
@Suite struct ShardedFlowsTests {
    /// Caps that do not bind on these captures, so sharding may not change a byte.
    static func roomyLimits() -> FlowLimits {
        var l = FlowLimits()
        l.maxRetainedBytesTotal = 1 << 30
        l.maxBufferedBytesTotal = 1 << 30
        return l
    }

    /// Everything the flows view prints (the flow id is per table and not printed), plus the capture's totals.
    static func flowsView(_ path: String, threads: Int, limits: FlowLimits = roomyLimits()) throws -> [String] {
        var o = AnalysisOptions()
        o.views = .flows
        o.detect = false
        o.threads = threads
        o.flowLimits = limits
        let out = try Analyzer.run(paths: [path], options: o)
        var lines: [String] = []
        for c in out.captures {
            let rows = c.flowRows.sorted { $0.firstFrame < $1.firstFrame }
            for r in rows {
                lines.append([
                    "\(r.key)", "\(r.originator)", "\(r.responder)", "\(r.roleSource)", "\(r.firstTimestamp)",
                    "\(r.lastTimestamp)", "\(r.firstFrame)-\(r.lastFrame)", r.connState.rawValue, r.history,
                    "\(r.forward.packets)/\(r.reverse.packets)", "\(r.forward.payloadBytes)/\(r.reverse.payloadBytes)",
                    "\(r.forward.ttl)/\(r.reverse.ttl)", r.anomalies.map { "\($0.name)=\($0.count)" }.joined(separator: ","),
                    "\(r.overlapConflictCount)", "\(r.gapCount)",
                ].joined(separator: " "))
            }
            lines.append("flows \(c.flows.tcp) \(c.flows.udp) \(c.flows.other)")
            lines.append("frames \(c.accounting.frames) decoded \(c.accounting.decoded) skipped \(c.accounting.skippedByName)")
            lines.append("anomalies " + c.anomalies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.count)@\($0.value.first)" }
                .joined(separator: ","))
            lines.append("error \(c.error.map { "\($0)" } ?? "none")")
        }
        return lines
    }

    @Test func everyLabCaptureGivesTheSameRowsOnTwoAndThreeShards() throws {
        let files = (FileManager.default.enumerator(atPath: labDir)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count >= 40)
        for f in files {
            let path = "\(labDir)/\(f)"
            let one = try Self.flowsView(path, threads: 1)
            #expect(try Self.flowsView(path, threads: 2) == one, "\(f)")
            #expect(try Self.flowsView(path, threads: 3) == one, "\(f)")
        }
    }

    @Test func corpusSampleGivesTheSameRowsOnTwoShards() throws {
        guard let (corpus, sample) = try corpusSample(under: 8_000_000, about: 80) else {
            print("sharded flows: ../shared/corpus not found; corpus comparison NOT run (lab comparison still ran)")
            return
        }
        #expect(sample.count >= 70)
        var rows = 0
        for f in sample {
            let path = "\(corpus)/\(f)"
            let one = try Self.flowsView(path, threads: 1)
            rows += one.count
            #expect(try Self.flowsView(path, threads: 2) == one, "\(f)")
        }
        #expect(rows > 500)
    }

    /// Idle timeouts decided by capture time: one tuple goes quiet for longer than the UDP timeout and comes back (two
    /// flows in one table), while other flows' packets — owned by other shards — are what moves the clock past the
    /// timeout; timestamps also step backwards. The sharded rows must split the same flows at the same frames.
    @Test func idleExpiryFollowsTheWholeCapturesClock() throws {
        // (time in µs, source host, source port); returning tuples use port 40000, background flows 41000.
        var events: [(t: Int, host: Int, port: UInt16)] = []
        for i in 0..<100 {
            let t = i * 10_000
            events.append((t, i, 40000))
            // Back 60 s later plus d in [-0.5 s, +1.4 s]: UDP flows idle for more than 60 s close at the next sweep.
            events.append((t + 60_000_000 + (i % 20) * 100_000 - 500_000, i, 40000))
        }
        for j in 0..<210 { events.append((j * 300_000, 1000 + j, 41000)) }
        events.sort { ($0.t, $0.host) < ($1.t, $1.host) }
        var pcap = PcapFile()
        var background = 0
        for e in events {
            var t = e.t
            if e.port == 41000 {
                background += 1
                if background % 17 == 0 { t = max(0, t - 2_000_000) }   // a clock that steps back
            }
            let src: [UInt8] = [10, 1, UInt8(e.host >> 8 & 0xff), UInt8(e.host & 0xff)]
            pcap.add(Frames.udp(src: src, dst: Frames.server, sport: e.port, dport: 5000, [UInt8](repeating: 7, count: 20)),
                     sec: 1_700_000_000 + UInt32(t / 1_000_000), usec: UInt32(t % 1_000_000))
        }
        let dir = try hostileTempDir("sharded")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("idle.pcap").path
        try Data(pcap.bytes).write(to: URL(fileURLWithPath: path))

        let one = try Self.flowsView(path, threads: 1)
        let returning = one.filter { $0.contains(":40000") }
        // Some returning tuples expired (two one-packet rows) and some did not (one row with both packets): the test
        // sits on the timeout's edge, where the timing of sweeps decides.
        let joined = returning.filter { $0.contains(" 2/0 ") }.count
        let split = returning.filter { $0.contains(" 1/0 ") }.count
        #expect(joined > 0 && split > 0 && joined + split / 2 == 100, "\(joined) joined, \(split) split rows")
        #expect(try Self.flowsView(path, threads: 2) == one)
        #expect(try Self.flowsView(path, threads: 4) == one)
    }

    /// The caps are divided between shards: with room for 16 flows in all and 300 open at once, both runs evict and say
    /// so, and every flow still gets exactly one row per table lifetime.
    @Test func capsAreDividedBetweenShards() throws {
        var pcap = PcapFile()
        for i in 0..<300 {
            let src: [UInt8] = [10, 2, UInt8(i >> 8), UInt8(i & 0xff)]
            pcap.add(Frames.udp(src: src, dst: Frames.server, sport: 40000, dport: 5000, [1, 2, 3]),
                     sec: 1_700_000_000, usec: UInt32(i))
        }
        let dir = try hostileTempDir("sharded-caps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("caps.pcap").path
        try Data(pcap.bytes).write(to: URL(fileURLWithPath: path))
        var limits = FlowLimits()
        limits.maxFlows = 16
        for threads in [1, 2] {
            let lines = try Self.flowsView(path, threads: threads, limits: limits)
            #expect(lines.filter { $0.contains(":40000") }.count == 300, "threads \(threads)")
            let anomalies = try #require(lines.first { $0.hasPrefix("anomalies ") })
            #expect(anomalies.contains("flow.evicted=284"), "threads \(threads): \(anomalies)")
        }
    }

    @Test func shardsSplitFlowsByShare() {
        // Shard 0 reads and decodes for all, so it owns a smaller share; the others split the rest evenly.
        #expect(abs(ShardedFlows.share(ofFirstShardOf: 2) - 0.3) < 1e-9)
        #expect(ShardedFlows.share(ofFirstShardOf: 1) == 1)
        #expect(ShardedFlows.share(ofFirstShardOf: 8) == 0)
    }
}
