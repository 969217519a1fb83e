import KZAttribution
@testable import KZWire
import Testing

/// TTL sweeps built from synthetic decoded packets: one connection per TTL, request sent with that TTL.
enum SweepSynth {
    static let client = "10.0.0.2", server = "203.0.113.80"
    static func router(_ hop: Int) -> String { "198.51.100.\(hop)" }

    /// What answers the probe at `ttl`.
    enum Answer { case timeExceeded, silence, rst(from: String), rstAndTimeExceeded, ack, http }

    static func sweep(ttls: ClosedRange<Int>, portBase: UInt16, frameBase: Int, answer: (Int) -> [Answer])
        -> [DecodedPacket]
    {
        var out: [DecodedPacket] = []
        var f = frameBase
        for ttl in ttls {
            let port = portBase + UInt16(ttl - ttls.lowerBound)
            let seq: UInt32 = 1000 * UInt32(ttl), sseq: UInt32 = 5000
            func next() -> Int { f += 1; return f }
            out.append(Synth.tcp(next(), client, port, server, 80, ttl: 64, flags: .syn, seq: seq - 1))
            out.append(Synth.tcp(next(), server, 80, client, port, ttl: 50, flags: [.syn, .ack], seq: sseq - 1, ack: seq))
            out.append(Synth.tcp(next(), client, port, server, 80, ttl: 64, flags: .ack, seq: seq, ack: sseq))
            let probe = Synth.tcp(next(), client, port, server, 80, ttl: UInt8(ttl), flags: [.psh, .ack], seq: seq,
                                  ack: sseq, payload: 60, id: UInt32(ttl))
            out.append(probe)
            for a in answer(ttl) {
                switch a {
                case .timeExceeded:
                    out.append(Synth.timeExceeded(next(), router: router(ttl), to: client, quoting: probe))
                case .silence:
                    break
                case .rst(let from):
                    var r = Synth.tcp(next(), from, 80, client, port, ttl: 60, flags: [.rst, .ack], seq: sseq, ack: seq + 60)
                    r.ip?.src = Synth.ip(server)    // forged: claims the server
                    out.append(r)
                case .rstAndTimeExceeded:
                    out.append(Synth.timeExceeded(next(), router: router(ttl), to: client, quoting: probe))
                    out.append(Synth.tcp(next(), server, 80, client, port, ttl: 60, flags: [.rst, .ack], seq: sseq,
                                         ack: seq + 60))
                case .ack:
                    out.append(Synth.tcp(next(), server, 80, client, port, ttl: 50, flags: .ack, seq: sseq, ack: seq + 60))
                case .http:
                    out.append(Synth.tcp(next(), server, 80, client, port, ttl: 50, flags: [.psh, .ack], seq: sseq,
                                         ack: seq + 60, payload: 100))
                }
            }
            out.append(Synth.tcp(next(), client, port, server, 80, ttl: 64, flags: [.fin, .ack], seq: seq + 60, ack: sseq))
        }
        return out
    }

    /// Control: routers 1…hops-1 answer time-exceeded, the server (hop `hops`) and beyond answer ACK.
    static func control(hops: Int, maxTTL: Int) -> TTLSweep? {
        let p = sweep(ttls: 1...maxTTL, portBase: 40000, frameBase: 0) { $0 < hops ? [.timeExceeded] : [.ack] }
        return TTLSweepBuilder.sweeps(packets: p, bytes: NoFrameBytes()).first
    }
    static func test(maxTTL: Int, _ answer: @escaping (Int) -> [Answer]) -> TTLSweep? {
        let p = sweep(ttls: 1...maxTTL, portBase: 50000, frameBase: 10000, answer: answer)
        return TTLSweepBuilder.sweeps(packets: p, bytes: NoFrameBytes()).first
    }
}

@Suite struct SweepSyntheticTests {
    let opts = TTLSweepAnalyzer.Options(completeSweepTTL: 12)

    @Test func inPathRSTAtHop4() throws {
        let c = try #require(SweepSynth.control(hops: 8, maxTTL: 12))
        #expect(c.path.count == 7 && c.path.first?.router == IPAddress("198.51.100.1"))
        #expect(c.firstTerminatingTTL == 8)
        let t = try #require(SweepSynth.test(maxTTL: 12) { $0 < 4 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] })
        #expect(t.firstTerminatingTTL == 4 && t.responseKind == .rst)
        let r = TTLSweepAnalyzer.compare(test: t, control: c, options: opts)
        #expect(r.verdict == .canIdentifyServer)
        #expect(r.censorHop == 4)
        #expect(r.middlebox == IPAddress("198.51.100.4"))
        #expect(r.middleboxBefore == IPAddress("198.51.100.3") && r.middleboxAfter == IPAddress("198.51.100.5"))
        #expect(!r.onPath && !r.ambiguous)
        #expect(!r.evidenceFrames.isEmpty)
        let hop = try #require(HopAttribution(sweep: r))
        #expect(hop.index == 4 && hop.router == "198.51.100.4" && hop.method == .ttlSweep && hop.confidence == "high")
    }

    @Test func onPathInjectorAlsoDrawsTimeExceeded() throws {
        let c = try #require(SweepSynth.control(hops: 8, maxTTL: 12))
        let t = try #require(SweepSynth.test(maxTTL: 12) { $0 < 6 ? [.timeExceeded] : ($0 < 8 ? [.rstAndTimeExceeded] : [.rst(from: SweepSynth.server)]) })
        let r = TTLSweepAnalyzer.compare(test: t, control: c, options: opts)
        #expect(r.verdict == .canIdentifyServer && r.censorHop == 6 && r.onPath)
        #expect(r.middlebox == IPAddress("198.51.100.6"))
        let path = PathReport(sweep: r, capture: "t.pcap")
        #expect(path.censor?.onPath == true && path.censor?.index == 6 && path.censor?.router == "198.51.100.6")
        let line = renderPathLine(path)
        #expect(line.contains("[X 6 198.51.100.6: CAN_IDENTIFY_SERVER, on-path]"))
        #expect(line.hasPrefix("capture > 1 198.51.100.1") && line.hasSuffix("server 203.0.113.80"))
    }

    @Test func silentDropNamesTheNextAnsweringControlRouter() throws {
        // Control: router 5 never answers. Test: nothing comes back from TTL 5 on.
        let p = SweepSynth.sweep(ttls: 1...12, portBase: 40000, frameBase: 0) {
            $0 == 5 ? [.silence] : ($0 < 8 ? [.timeExceeded] : [.ack])
        }
        let c = try #require(TTLSweepBuilder.sweeps(packets: p, bytes: NoFrameBytes()).first)
        let t = try #require(SweepSynth.test(maxTTL: 12) { $0 < 5 ? [.timeExceeded] : [.silence] })
        #expect(t.firstTerminatingTTL == nil && t.responseKind == .timeout)
        let r = TTLSweepAnalyzer.compare(test: t, control: c, options: opts)
        #expect(r.verdict == .canIdentifyServer)
        #expect(r.testTerminatingTTL == 5 && r.middlebox == IPAddress("198.51.100.6") && r.ambiguous)
    }

    @Test func shortSilentSweepIsCompleteWhenItPassedTheControlsServerHop() throws {
        let c = try #require(SweepSynth.control(hops: 6, maxTTL: 7))
        let silent = try #require(SweepSynth.test(maxTTL: 7) { $0 < 4 ? [.timeExceeded] : [.silence] })
        let r = TTLSweepAnalyzer.compare(test: silent, control: c)          // default options: CenTrace's 63
        // CenTrace's reading names the first silent TTL (hop 4, whose router answers the control); the probe never
        // reached hop 4, so the censor is the last router that handled it: hop 3.
        #expect(r.verdict == .canIdentifyServer && r.identifiedHop == 4 && r.middlebox == IPAddress("198.51.100.4"))
        #expect(r.censorHop == 3 && r.censorRouter == IPAddress("198.51.100.3"))
        #expect(r.note.contains("timed out") && r.note.contains("before router 4's TTL check") && r.ambiguous)
        let stopped = try #require(SweepSynth.test(maxTTL: 6) { $0 < 4 ? [.timeExceeded] : [.silence] })
        #expect(TTLSweepAnalyzer.compare(test: stopped, control: c).verdict == .probeTerminatedEarly)
    }

    @Test func endpointFirewallAndNoObservedCensorship() throws {
        let c = try #require(SweepSynth.control(hops: 8, maxTTL: 12))
        let same = try #require(SweepSynth.test(maxTTL: 12) { $0 < 8 ? [.timeExceeded] : [.ack] })
        #expect(TTLSweepAnalyzer.compare(test: same, control: c, options: opts).verdict == .noObservedCensorship)
        let rstAtServer = try #require(SweepSynth.test(maxTTL: 12) { $0 < 8 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] })
        let r = TTLSweepAnalyzer.compare(test: rstAtServer, control: c, options: opts)
        #expect(r.verdict == .endpointFirewall && r.censorHop == 8)
        #expect(PathReport(sweep: r, capture: "x").censor?.router == SweepSynth.server)
    }

    @Test func natFirewallWhenTheServerAnswersTheControlAtThatTTL() throws {
        // Control reaches the server at hop 6 but the server's address answers time-exceeded at 6 (a NAT in front).
        let p = SweepSynth.sweep(ttls: 1...12, portBase: 40000, frameBase: 0) { $0 < 8 ? [.timeExceeded] : [.ack] }
        var packets = p
        for i in packets.indices where packets[i].icmp != nil && packets[i].ip?.src == IPAddress("198.51.100.6") {
            packets[i].ip?.src = Synth.ip(SweepSynth.server)
        }
        let c = try #require(TTLSweepBuilder.sweeps(packets: packets, bytes: NoFrameBytes()).first)
        let t = try #require(SweepSynth.test(maxTTL: 12) { $0 < 6 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] })
        #expect(TTLSweepAnalyzer.compare(test: t, control: c, options: opts).verdict == .natFirewall)
    }

    @Test func possibleServerAndNoCorrespondingResponse() throws {
        let p = SweepSynth.sweep(ttls: 1...12, portBase: 40000, frameBase: 0) {
            $0 == 4 ? [.silence] : ($0 < 8 ? [.timeExceeded] : [.ack])
        }
        let c = try #require(TTLSweepBuilder.sweeps(packets: p, bytes: NoFrameBytes()).first)
        let t = try #require(SweepSynth.test(maxTTL: 12) { $0 < 4 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] })
        let r = TTLSweepAnalyzer.compare(test: t, control: c, options: opts)
        #expect(r.verdict == .canIdentifyPossibleServer && r.middlebox == nil && r.ambiguous)
        #expect(r.middleboxBefore == IPAddress("198.51.100.3"))
        let q = SweepSynth.sweep(ttls: 1...12, portBase: 40000, frameBase: 0) {
            (3...5).contains($0) ? [.silence] : ($0 < 8 ? [.timeExceeded] : [.ack])
        }
        let c2 = try #require(TTLSweepBuilder.sweeps(packets: q, bytes: NoFrameBytes()).first)
        #expect(TTLSweepAnalyzer.compare(test: t, control: c2, options: opts).verdict == .noCorrespondingResponse)
    }

    @Test func terminatedEarlyAndPastControl() throws {
        let c = try #require(SweepSynth.control(hops: 8, maxTTL: 12))
        let short = try #require(SweepSynth.test(maxTTL: 6) { _ in [.timeExceeded] })
        let r = TTLSweepAnalyzer.compare(test: short, control: c, options: opts)
        #expect(r.verdict == .probeTerminatedEarly && r.ambiguous)
        #expect(HopAttribution(sweep: r) == nil)
        let shortControl = try #require(SweepSynth.control(hops: 8, maxTTL: 5))
        let late = try #require(SweepSynth.test(maxTTL: 12) { $0 < 9 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] })
        let r2 = TTLSweepAnalyzer.compare(test: late, control: shortControl,
                                          options: .init(completeSweepTTL: 5))
        #expect(r2.verdict == .terminatingTTLPastControl)
    }

    @Test func quoteMismatchIsFlagged() throws {
        var p = SweepSynth.sweep(ttls: 1...3, portBase: 40000, frameBase: 0) { _ in [.timeExceeded] }
        for i in p.indices {
            if case .icmp(var ic) = p[i].transport, ic.quoted != nil, p[i].ip?.src == IPAddress("198.51.100.2") {
                ic.quoted?.tcpSeq = 12345
                p[i].transport = .icmp(ic)
            }
        }
        let s = try #require(TTLSweepBuilder.sweeps(packets: p, bytes: NoFrameBytes()).first)
        #expect(s.probe(ttl: 1)?.responses.first?.quoteMatchesProbe == true)
        #expect(s.probe(ttl: 2)?.responses.first?.quoteMatchesProbe == false)
    }

    @Test func sameCaptureSweepsPairByRequestKey() throws {
        // Test and control in one capture, told apart by the Host header in the request bytes.
        let c = SweepSynth.sweep(ttls: 1...12, portBase: 40000, frameBase: 0) { $0 < 8 ? [.timeExceeded] : [.ack] }
        let t = SweepSynth.sweep(ttls: 1...12, portBase: 50000, frameBase: 10000) {
            $0 < 4 ? [.timeExceeded] : [.rst(from: SweepSynth.server)]
        }
        var bytes = FrameBytesTable()
        var all = c + t
        for i in all.indices where all[i].payloadLength == 60 {
            let host = all[i].srcPort! >= 50000 ? "blocked.example.kz" : "example.com"
            var req = Array("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8)
            req += [UInt8](repeating: 0x20, count: max(0, 60 - req.count))
            all[i].payloadLength = req.count
            bytes.frames[all[i].frame] = [UInt8](repeating: 0, count: 54) + req
        }
        all.sort { $0.frame < $1.frame }
        let sweeps = TTLSweepBuilder.sweeps(packets: all, bytes: bytes)
        #expect(Set(sweeps.compactMap(\.requestKey)) == ["blocked.example.kz", "example.com"])
        let pairs = TTLSweepAnalyzer.pairs(sweeps)
        #expect(pairs.count == 1)
        let pair = try #require(pairs.first)
        #expect(pair.test.requestKey == "blocked.example.kz" && pair.control.requestKey == "example.com")
        let r = TTLSweepAnalyzer.compare(test: pair.test, control: pair.control, options: opts)
        #expect(r.verdict == .canIdentifyServer && r.censorHop == 4 && r.testKey == "blocked.example.kz")
    }

    @Test func controlIsInferredWithoutAKnownControlName() throws {
        func named(_ packets: [DecodedPacket], _ frameBytes: inout FrameBytesTable, blocked: Bool) -> [DecodedPacket] {
            var out = packets
            for i in out.indices where out[i].payloadLength == 60 {
                var req = Array("GET / HTTP/1.1\r\nHost: \(blocked ? "blocked.kz.example" : "allowed.example")\r\n\r\n".utf8)
                req += [UInt8](repeating: 0x20, count: max(0, 60 - req.count))
                frameBytes.frames[out[i].frame] = [UInt8](repeating: 0, count: 54) + req
            }
            return out
        }
        var bytes = FrameBytesTable()
        let control = named(SweepSynth.sweep(ttls: 1...7, portBase: 40000, frameBase: 0) { $0 < 6 ? [.timeExceeded] : [.ack] },
                            &bytes, blocked: false)
        // Silent drop from TTL 4: the blocked sweep gets farther in TTL but never a terminating answer.
        let silent = named(SweepSynth.sweep(ttls: 1...7, portBase: 50000, frameBase: 10000) { $0 < 4 ? [.timeExceeded] : [.silence] },
                           &bytes, blocked: true)
        let sweeps = TTLSweepBuilder.sweeps(packets: control + silent, bytes: bytes)
        #expect(TTLSweepAnalyzer.pairs(sweeps).isEmpty)                  // no well-known control name
        let pairs = TTLSweepAnalyzer.inferredPairs(sweeps)
        #expect(pairs.count == 1)
        let p = try #require(pairs.first)
        #expect(p.control.requestKey == "allowed.example" && p.test.requestKey == "blocked.kz.example")
        let r = TTLSweepAnalyzer.compare(test: p.test, control: p.control)
        #expect(r.verdict == .canIdentifyServer && r.identifiedHop == 4 && r.censorHop == 3)
        // Both healthy and equally far: ambiguous, not paired.
        var b2 = FrameBytesTable()
        let a = named(SweepSynth.sweep(ttls: 1...7, portBase: 40000, frameBase: 0) { $0 < 6 ? [.timeExceeded] : [.ack] }, &b2, blocked: false)
        let b = named(SweepSynth.sweep(ttls: 1...7, portBase: 50000, frameBase: 10000) { $0 < 6 ? [.timeExceeded] : [.ack] }, &b2, blocked: true)
        #expect(TTLSweepAnalyzer.inferredPairs(TTLSweepBuilder.sweeps(packets: a + b, bytes: b2)).isEmpty)
    }

    @Test func everyPrefixOfASweepIsHandled() {
        let p = SweepSynth.sweep(ttls: 1...6, portBase: 40000, frameBase: 0) { $0 < 4 ? [.timeExceeded] : [.rst(from: SweepSynth.server)] }
        let c = SweepSynth.control(hops: 5, maxTTL: 6)
        var lastProbes = 0
        for n in 0...p.count {
            let s = TTLSweepBuilder.sweeps(packets: Array(p.prefix(n)), bytes: NoFrameBytes())
            let probes = s.first?.probes.count ?? 0
            #expect(probes >= lastProbes)
            lastProbes = probes
            if let t = s.first, let c {
                _ = TTLSweepAnalyzer.compare(test: t, control: c)
            }
        }
        #expect(lastProbes == 6)
    }

    @Test func verdictLabelsAcceptBothSpellings() {
        #expect(SweepVerdict(label: "TERMINATED_EARLY") == .probeTerminatedEarly)
        #expect(SweepVerdict(label: "PROBE_TERMINATED_EARLY") == .probeTerminatedEarly)
        #expect(SweepVerdict(label: "can_identify_server") == .canIdentifyServer)
        #expect(SweepVerdict(label: "(no upstream result)") == nil)
        #expect(SweepVerdict.allCases.count == 8)
    }
}
