import Foundation
import KZAttribution
@testable import KZWire
import Testing

@Suite struct PathEvidenceTests {
    static let me = "10.0.0.2", dst = "203.0.113.9"

    @Test func udpAndEchoTraceroutes() throws {
        var frames: [[UInt8]] = []
        for ttl in 1...4 {
            let probe = Raw.ipv4(Self.me, Self.dst, ttl: UInt8(ttl), id: 100 + ttl, proto: 17,
                                 payload: Raw.udp(33000, 33433 + ttl, payload: [0, 0, 0, 0]))
            frames.append(probe)
            if ttl < 4 {
                frames.append(Raw.ipv4("198.51.100.\(ttl)", Self.me, ttl: 250, proto: 1,
                                       payload: Raw.icmpError(type: 11, quoting: probe, quoteLength: 28)))
            } else {
                frames.append(Raw.ipv4(Self.dst, Self.me, ttl: 60, proto: 1,
                                       payload: Raw.icmpError(type: 3, code: 3, quoting: probe, quoteLength: 28)))
            }
        }
        // ICMP echo traceroute toward another destination: hop 1 answers, then the destination replies.
        let e1 = Raw.ipv4(Self.me, "192.0.2.7", ttl: 1, id: 7, proto: 1, payload: Raw.echo(request: true, id: 9, seq: 1))
        frames.append(e1)
        frames.append(Raw.ipv4("198.51.100.1", Self.me, ttl: 255, proto: 1, payload: Raw.icmpError(type: 11, quoting: e1)))
        frames.append(Raw.ipv4(Self.me, "192.0.2.7", ttl: 2, id: 8, proto: 1, payload: Raw.echo(request: true, id: 9, seq: 2)))
        frames.append(Raw.ipv4("192.0.2.7", Self.me, ttl: 63, proto: 1, payload: Raw.echo(request: false, id: 9, seq: 2)))
        // An answer whose probe was not captured is ignored.
        let ghost = Raw.ipv4(Self.me, Self.dst, ttl: 7, id: 999, proto: 17, payload: Raw.udp(1, 2))
        frames.append(Raw.ipv4("198.51.100.7", Self.me, ttl: 250, proto: 1, payload: Raw.icmpError(type: 11, quoting: ghost)))

        let (packets, _) = Raw.decode(frames)
        #expect(packets.allSatisfy { $0.ip != nil })
        let paths = PathEvidence.traceroutes(packets: packets)
        #expect(paths.count == 2)
        let udp = try #require(paths.first { $0.destination == IPAddress(Self.dst) })
        #expect(udp.hops.map(\.index) == [1, 2, 3, 4])
        #expect(udp.routerByIndex[2] == IPAddress("198.51.100.2"))
        #expect(udp.reachedDestination && udp.hops.last?.isDestination == true)
        #expect(udp.hops.allSatisfy { $0.rttMilliseconds > 0 })
        #expect(!udp.hops.contains { $0.router == IPAddress("198.51.100.7") })
        let echo = try #require(paths.first { $0.destination == IPAddress("192.0.2.7") })
        #expect(echo.hops.map(\.index) == [1, 2] && echo.reachedDestination)
        let report = PathReport(server: try #require(IPAddress(Self.dst)), capture: "trace.pcap",
                                path: udp.routerByIndex.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        #expect(report.hops.count == 3 && report.censor == nil)
        #expect(renderPathLine(report) == "capture > 1 198.51.100.1 > 2 198.51.100.2 > 3 198.51.100.3 > server 203.0.113.9")
    }

    @Test func ordinaryTrafficIsNeitherSweepNorTraceroute() throws {
        // A late DNS answer (received with TTL 59) that this host rejects with a port unreachable: not a traceroute.
        let answer = Raw.ipv4("10.77.9.53", Self.me, ttl: 59, id: 4, proto: 17, payload: Raw.udp(53, 40000, payload: [1, 2, 3]))
        let unreach = Raw.ipv4(Self.me, "10.77.9.53", ttl: 64, proto: 1, payload: Raw.icmpError(type: 3, code: 3, quoting: answer))
        // Requests all arriving with TTL 59 (a server-side capture): not a sweep.
        var frames = [answer, unreach]
        for i in 0..<4 {
            frames.append(Raw.ipv4(Self.me, Self.dst, ttl: 59, id: 10 + i, proto: 6,
                                   payload: Raw.tcp(41000 + i, 80, seq: 1, flags: 0x18, payload: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))))
        }
        let (p, b) = Raw.decode(frames)
        #expect(PathEvidence.traceroutes(packets: p).isEmpty)
        #expect(TTLSweepBuilder.sweeps(packets: p, bytes: b).isEmpty)
        #expect(TTLSweepBuilder.sweeps(packets: p, bytes: b, minDistinctTTLs: 1).count == 1)
    }

    @Test func recordRouteInOwnHeaderAndInQuote() throws {
        // RR option: type 7, length 15 (3 slots), pointer 12 → two addresses recorded.
        let rr: [UInt8] = [7, 15, 12] + Raw.addr("198.51.100.1") + Raw.addr("198.51.100.2") + [0, 0, 0, 0] + [0]
        let own = Raw.ipv4(Self.me, Self.dst, ttl: 60, proto: 17, options: rr, payload: Raw.udp(1000, 2000))
        let probe = Raw.ipv4(Self.me, Self.dst, ttl: 2, id: 5, proto: 6, options: rr,
                             payload: Raw.tcp(40000, 80, seq: 77, flags: 0x18, payload: Array("GET /".utf8)))
        let icmp = Raw.ipv4("198.51.100.2", Self.me, ttl: 250, proto: 1, payload: Raw.icmpError(type: 11, quoting: probe))
        let (packets, bytes) = Raw.decode([own, probe, icmp])
        #expect(packets[0].ip?.recordRouteCount == 2)
        let obs = PathEvidence.recordRoutes(packets: packets, bytes: bytes)
        #expect(obs.count == 3)
        #expect(obs[0].frame == 1 && !obs[0].inQuote)
        #expect(obs[0].addresses == [IPAddress("198.51.100.1")!, IPAddress("198.51.100.2")!])
        #expect(obs[2].frame == 3 && obs[2].inQuote && obs[2].addresses.count == 2)
        // Every truncation of the option bytes and of the frame is handled without trapping.
        for n in 0...own.count { _ = RecordRoute.addresses(inIPv4HeaderAt: 0, of: Array(own.prefix(n))) }
        #expect(RecordRoute.addresses(inIPv4HeaderAt: 0, of: Array(own.prefix(25))).isEmpty)
        #expect(RecordRoute.addresses(inIPv4HeaderAt: 99, of: own).isEmpty)
        let badPointer: [UInt8] = [7, 7, 200] + Raw.addr("1.2.3.4") + [0]
        let bp = Raw.ipv4(Self.me, Self.dst, ttl: 60, proto: 17, options: badPointer, payload: [])
        #expect(RecordRoute.addresses(inIPv4HeaderAt: 0, of: bp) == [IPAddress("1.2.3.4")!])
    }

    @Test func mssClampSeenInQuoteAndSynAck() throws {
        let mss1460: [UInt8] = [2, 4, 0x05, 0xb4]
        let mss1400: [UInt8] = [2, 4, 0x05, 0x78]
        let syn = Raw.ipv4(Self.me, Self.dst, ttl: 64, id: 1, proto: 6, payload: Raw.tcp(40001, 443, seq: 500, flags: 0x02, options: mss1460))
        // A router at TTL 3 quotes the SYN as it received it: MSS already rewritten to 1400.
        let rewritten = Raw.ipv4(Self.me, Self.dst, ttl: 1, id: 1, proto: 6, payload: Raw.tcp(40001, 443, seq: 500, flags: 0x02, options: mss1400))
        let te = Raw.ipv4("198.51.100.3", Self.me, ttl: 250, proto: 1, payload: Raw.icmpError(type: 11, quoting: rewritten))
        let synAck = Raw.ipv4(Self.dst, Self.me, ttl: 50, proto: 6, payload: Raw.tcp(443, 40001, seq: 9, ack: 501, flags: 0x12, options: mss1400))
        let (packets, bytes) = Raw.decode([syn, te, synAck])
        #expect(packets[0].tcp?.options.mss == 1460)
        let changes = PathEvidence.mssChanges(packets: packets, bytes: bytes)
        #expect(changes.count == 2)
        let q = try #require(changes.first { $0.kind == .quotedSYN })
        #expect(q.synMSS == 1460 && q.observedMSS == 1400 && q.router == IPAddress("198.51.100.3") && q.observedFrame == 2)
        let sa = try #require(changes.first { $0.kind == .synAck })
        #expect(sa.observedMSS == 1400 && sa.synFrame == 1)
        // 8-byte quote (RFC 792 minimum): no options visible, no claim.
        let shortTE = Raw.ipv4("198.51.100.3", Self.me, ttl: 250, proto: 1, payload: Raw.icmpError(type: 11, quoting: rewritten, quoteLength: 28))
        let (p2, b2) = Raw.decode([syn, shortTE])
        #expect(PathEvidence.mssChanges(packets: p2, bytes: b2).isEmpty)
    }

    @Test func requestKeysFromHTTPAndTLS() throws {
        let (p, b) = Raw.decode([Raw.ipv4(Self.me, Self.dst, ttl: 3, proto: 6,
            payload: Raw.tcp(40000, 80, seq: 1, flags: 0x18, payload: Array("GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST: Example.KZ:8080\r\n\r\n".utf8)))])
        let s = TTLSweepBuilder.sweeps(packets: p, bytes: b, minDistinctTTLs: 1)
        #expect(s.first?.requestKey == "example.kz")
        // A minimal TLS ClientHello with SNI "kz.example".
        let name = Array("kz.example".utf8)
        let sni: [UInt8] = [0, 0] + Raw.be16(name.count + 5) + Raw.be16(name.count + 3) + [0] + Raw.be16(name.count) + name
        let body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0] + Raw.be16(2) + [0x13, 0x01] + [1, 0]
            + Raw.be16(sni.count) + sni
        let hs: [UInt8] = [1, 0] + Raw.be16(body.count) + body
        let rec: [UInt8] = [0x16, 3, 1] + Raw.be16(hs.count) + hs
        let (p2, b2) = Raw.decode([Raw.ipv4(Self.me, Self.dst, ttl: 3, proto: 6, payload: Raw.tcp(40000, 443, seq: 1, flags: 0x18, payload: rec))])
        #expect(TTLSweepBuilder.sweeps(packets: p2, bytes: b2, minDistinctTTLs: 1).first?.requestKey == "kz.example")
        // Every truncated prefix of the ClientHello: no trap, and never a wrong name.
        for n in 0..<rec.count {
            let (p3, b3) = Raw.decode([Raw.ipv4(Self.me, Self.dst, ttl: 3, proto: 6, payload: Raw.tcp(40000, 443, seq: 1, flags: 0x18, payload: Array(rec.prefix(n))))])
            let k = TTLSweepBuilder.sweeps(packets: p3, bytes: b3, minDistinctTTLs: 1).first?.requestKey
            #expect(k == nil || k == "kz.example")
        }
    }
}

/// Byte accessors fed frames shorter than the decoder saw (a caller keeping only a prefix): no trap, and never more
/// than the full-bytes answer.
@Suite struct TruncatedBytesTests {
    @Test func everyFramePrefixLengthOnARecordRouteSweep() throws {
        let file = corpusRoot.appendingPathComponent("censorship/centrace/116.223.148.197_www.ft.com_www.ft.com.pcap")
        guard FileManager.default.fileExists(atPath: file.path) else { print("corpus missing: truncation check NOT run"); return }
        let (packets, full) = try loadCapture(file.path)
        let fullRR = PathEvidence.recordRoutes(packets: packets, bytes: full)
        #expect(fullRR.count > 0)
        let maxLen = full.frames.values.map(\.count).max() ?? 0
        for n in 0...maxLen {
            let cut = FrameBytesTable(full.frames.mapValues { Array($0.prefix(n)) })
            let rr = PathEvidence.recordRoutes(packets: packets, bytes: cut)
            #expect(rr.count <= fullRR.count)
            _ = PathEvidence.mssChanges(packets: packets, bytes: cut)
            let s = TTLSweepBuilder.sweeps(packets: packets, bytes: cut)
            #expect(s.count <= 2)
        }
    }
}
