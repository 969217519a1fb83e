import Foundation
import KZAttribution
import KZCapture
@testable import KZPipeline
import KZWire
import Testing
import KZTestSupport

/// The keeper must hand path analysis the same sweeps it would get from every packet, while keeping ordinary traffic
/// out and its own state bounded.
@Suite struct PathPacketKeeperTests {
    struct Frame { var packet: DecodedPacket; var bytes: [UInt8] }

    /// Every IP packet of a capture, frame numbers shifted by `offset`.
    func frames(_ path: String, offset: Int = 0) throws -> [Frame] {
        let reader = try CaptureReader(path: path)
        let d = PacketDecoder()
        var out: [Frame] = []
        reader.forEachFrame { f in
            let p = d.decode(f.bytes, frame: f.number + offset, timestamp: f.timestamp, wireLength: f.wireLength,
                             linkType: f.linkType)
            if p.ip != nil { out.append(Frame(packet: p, bytes: Array(f.bytes))) }
        }
        return out
    }

    func keep(_ fs: [Frame], limits: PathPacketKeeper.Limits = .init()) -> PathPacketKeeper {
        var k = PathPacketKeeper(limits: limits)
        for f in fs { f.bytes.withUnsafeBytes { k.offer(f.packet, bytes: $0) } }
        k.finish()
        return k
    }

    func prefixes(_ fs: [Frame]) -> FrameBytesTable {
        FrameBytesTable(Dictionary(uniqueKeysWithValues: fs.map { ($0.packet.frame, Array($0.bytes.prefix(4096))) }))
    }

    @Test(arguments: ["sweep_sni_drop", "sweep_http_inpath", "sweep_sni_onpath", "sweep_http_nfqueue"])
    func sweepsAmidOrdinaryTrafficAreTheSameAsFromEveryPacket(_ scenario: String) throws {
        let ordinary = try frames(labCapture("baseline")) + frames(labCapture("throttling"), offset: 10_000)
        let sweep = try frames(labCapture(scenario), offset: 100_000)
        let all = ordinary + sweep
        let k = keep(all)
        let fromAll = TTLSweepBuilder.sweeps(packets: all.map(\.packet), bytes: prefixes(all))
        let fromKept = TTLSweepBuilder.sweeps(packets: k.kept, bytes: FrameBytesTable(k.payloads))
        #expect(fromAll.count >= 2)
        #expect(fromKept == fromAll)
        // None of the ordinary TCP traffic was kept.
        #expect(!k.kept.contains { $0.frame < 100_000 && $0.tcp != nil })
        #expect(k.kept.count < all.count)
        #expect(k.kept.map(\.frame) == k.kept.map(\.frame).sorted())
    }

    /// The baseline holds HTTP, TLS and DNS traffic and a UDP traceroute (6 probes, each answered by ICMP): only the
    /// ICMP answers and the probes they quote are kept, and the traceroute comes out the same.
    @Test func ordinaryTrafficKeepsOnlyICMPAndTheProbesItQuotes() throws {
        let fs = try frames(labCapture("baseline")) + frames(labCapture("http_rst_inpath"), offset: 10_000)
        let k = keep(fs)
        let icmp = k.kept.filter { $0.icmp != nil }
        let quoted = Set(icmp.compactMap { $0.icmp?.quoted?.srcPort })
        let probes = k.kept.filter { $0.icmp == nil }
        #expect(icmp.count == fs.filter { $0.packet.icmp != nil }.count)
        #expect(!probes.isEmpty)
        #expect(probes.allSatisfy { p in p.udp != nil && (p.ip?.ttl ?? 255) <= 64 && quoted.contains(p.udp?.srcPort ?? 0) })
        #expect(PathEvidence.traceroutes(packets: k.kept) == PathEvidence.traceroutes(packets: fs.map(\.packet)))
        #expect(PathEvidence.traceroutes(packets: k.kept).first?.hops.count == 6)
        #expect(!k.truncated && k.pendingEvicted == 0)
    }

    /// A SYN flood: pending connections are evicted oldest first and counted; what is kept at the end is bounded.
    @Test func pendingConnectionsStayWithinTheCap() throws {
        var limits = PathPacketKeeper.Limits()
        limits.maxPendingConnections = 1000
        var k = PathPacketKeeper(limits: limits)
        let frame = [UInt8](repeating: 0, count: 54)
        let server = IPAddress(v4: 0xc000_0207)
        for i in 0..<50_000 {
            var p = DecodedPacket(frame: i + 1, timestamp: Timestamp(nanoseconds: Int64(i) * 1000), capturedLength: 54,
                                  wireLength: 54, linkType: .ethernet)
            p.ip = IPSummary(version: 4, src: IPAddress(v4: 0x0a00_0000 | UInt32(i % 60_000)), dst: server, ttl: 64,
                             ipID: UInt32(i), df: true, moreFragments: false, fragmentOffset: 0, isFragment: false,
                             hasFragmentHeader: false, proto: .tcp, tos: 0, totalLength: 40, headerLength: 20,
                             headerChecksum: .good, hasOptions: false, recordRouteCount: 0, headerOffset: 14,
                             tunnelDepth: 0, flowLabel: 0)
            p.transport = .tcp(TCPSummary(srcPort: UInt16(1024 + i % 50_000), dstPort: 443, seq: UInt32(i), ack: 0,
                                          flags: .syn, window: 64240, headerLength: 20, urgentPointer: 0,
                                          options: TCPOptionsSummary(), checksum: .good))
            frame.withUnsafeBytes { k.offer(p, bytes: $0) }
        }
        k.finish()
        #expect(k.pendingEvicted == 49_000)
        #expect(k.kept.count == 1000)              // the SYN-only connections still pending at the end
        #expect(k.kept.first?.frame == 49_001)
        #expect(k.kept.map(\.frame) == Array(49_001...50_000))   // every leftover once, in frame order
    }

    /// Ordinary connections (handshake, then a request at the handshake's TTL) are decided and leave the pending table;
    /// the eviction queue forgets them too, so it stays within twice the pending table (plus 1024) however many
    /// connections pass, instead of growing with the capture until the table is full.
    @Test func decidedConnectionsLeaveTheEvictionQueue() throws {
        var k = PathPacketKeeper()
        let frame = [UInt8](repeating: 0, count: 100)
        let server = IPAddress(v4: 0xc000_0207)
        var n = 0
        func send(_ src: IPAddress, _ sp: UInt16, _ dst: IPAddress, _ dp: UInt16, _ flags: TCPFlags, payload: Int) {
            n += 1
            var p = DecodedPacket(frame: n, timestamp: Timestamp(nanoseconds: Int64(n) * 1000), capturedLength: 100,
                                  wireLength: 100, linkType: .ethernet)
            p.ip = IPSummary(version: 4, src: src, dst: dst, ttl: 64, ipID: UInt32(n), df: true, moreFragments: false,
                             fragmentOffset: 0, isFragment: false, hasFragmentHeader: false, proto: .tcp, tos: 0,
                             totalLength: UInt16(40 + payload), headerLength: 20, headerChecksum: .good,
                             hasOptions: false, recordRouteCount: 0, headerOffset: 14, tunnelDepth: 0, flowLabel: 0)
            p.transport = .tcp(TCPSummary(srcPort: sp, dstPort: dp, seq: 1, ack: 1, flags: flags, window: 64240,
                                          headerLength: 20, urgentPointer: 0, options: TCPOptionsSummary(),
                                          checksum: .good))
            p.payloadLength = payload
            p.payloadCapturedLength = payload
            frame.withUnsafeBytes { k.offer(p, bytes: $0) }
        }
        var most = 0
        for i in 0..<20_000 {
            let client = IPAddress(v4: 0x0a00_0000 | UInt32(i))
            let port = UInt16(1024 + i % 60_000)
            send(client, port, server, 443, .syn, payload: 0)
            send(server, 443, client, port, [.syn, .ack], payload: 0)
            send(client, port, server, 443, .ack, payload: 0)
            if i % 10 == 0 {
                most = max(most, k.queuedConnections)   // every tenth connection stays pending (no request)
                continue
            }
            send(client, port, server, 443, [.ack, .psh], payload: 60)
            most = max(most, k.queuedConnections)
        }
        // 2,000 connections are still pending: the queue never held more than twice that plus 1024.
        #expect(k.queuedConnections >= 2000)
        #expect(most <= 2 * 2000 + 1024)
        #expect(k.pendingEvicted == 0)
    }

    @Test func keptPacketsAreCappedAndSaySo() throws {
        var limits = PathPacketKeeper.Limits()
        limits.maxKept = 10
        let k = keep(try frames(labCapture("sweep_http_inpath")), limits: limits)
        #expect(k.kept.count == 10 && k.truncated)
    }
}

@Suite struct RecentProbesTests {
    /// Random remembers and claims on a small ring agree with the dictionary-and-ring rule it replaced: a claim finds
    /// the newest packet remembered under the key unless the ring overwrote it or it was claimed already.
    @Test func agreesWithTheDictionaryRule() {
        var rng = TestRandom(seed: 0x7d1356b301)
        var pool: [PathPacketKeeper.QuoteKey] = []
        for i in 0..<40 {
            let dst = IPAddress(v4: 0xC000_0200 | UInt32(i % 5))
            let proto: UInt8 = i % 2 == 0 ? 17 : 6
            let sport = UInt16(33_434 + i / 5)
            pool.append(.init(src: IPAddress(v4: 0x0A00_0001), dst: dst, proto: proto, sport: sport, dport: 53))
        }
        for capacity in [1, 3, 16] {
            var recent = RecentProbes(capacity: capacity)
            var ring = [(key: PathPacketKeeper.QuoteKey, frame: Int)?](repeating: nil, count: capacity)
            var next = 0
            var index: [PathPacketKeeper.QuoteKey: Int] = [:]
            var claimed = 0
            for frame in 1...20_000 {
                let k = pool.randomElement(using: &rng)!
                if Bool.random(using: &rng) {
                    let p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: 0), capturedLength: 0,
                                          wireLength: 0, linkType: .raw)
                    recent.remember(p, k)
                    if let old = ring[next], index[old.key] == next { index[old.key] = nil }
                    ring[next] = (k, frame)
                    index[k] = next
                    next = (next + 1) % capacity
                } else {
                    var want: Int?
                    if let i = index[k], let e = ring[i] {
                        want = e.frame
                        index[k] = nil
                        ring[i] = nil
                    }
                    let got = recent.claim(k)?.frame
                    #expect(got == want, "capacity \(capacity) frame \(frame)")
                    if want != nil { claimed += 1 }
                }
            }
            #expect(claimed > 100)
        }
    }
}
