import KZDetect
import KZWire
import Testing

/// Categories of evidence present in findings, for readable assertions.
private func fields(_ fs: [Finding]) -> Set<String> { Set(fs.flatMap { $0.evidence.compactMap(\.fieldName) }) }
private func notes(_ fs: [Finding]) -> String {
    fs.flatMap(\.evidence).map { e -> String in
        switch e {
        case .frame(_, let n): return n
        case .note(let n): return n
        case .timing(let f, _, _, _): return "timing:" + f
        default: return ""
        }
    }.joined(separator: "\n")
}

@Suite("tcp.rst_injection")
struct TCPRSTInjectionTests {
    /// Mirrors censorship/tripwire/testdata__test1__test.pcap (server-side view, client 222.222.222.222 TTL 38):
    /// frames 6–8 three identical RST/ACK with TTL 70 and IP ID 0x8bc6, frame 9 a bare RST with TTL 36 and IP ID 0,
    /// frame 10 the client's own kernel RST (TTL 38) which must not be flagged.
    static func tripwireTest1() -> TCPFlowEvent {
        var b = TCPFlowBuilder(client: "222.222.222.222", server: "172.172.172.172", serverPort: 9999, clientPort: 59710)
        b.add(.client, 0, [.syn], seq: 0, ttl: 38, id: 0x84e0, window: 29200)
        b.add(.server, 0.00004, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 26847)
        b.add(.client, 0.038537, [.ack], seq: 1, ack: 1, ttl: 38, id: 0x84e1, window: 229)
        b.add(.client, 0.038798, [.ack, .psh], seq: 1, ack: 1, len: 93, ttl: 38, id: 0x84e2, window: 229)
        b.add(.server, 0.038810, [.ack], seq: 1, ack: 94, ttl: 64, id: 0x4d26, window: 210)
        for t in [0.039168, 0.039176, 0.039180] {
            b.add(.client, t, [.ack, .rst], seq: 94, ack: 1, ttl: 70, id: 0x8bc6, window: 2453, timestamps: false)
        }
        b.add(.client, 0.039183, [.rst], seq: 94, ttl: 36, id: 0, df: false, window: 33393, timestamps: false)
        b.add(.client, 0.077985, [.rst], seq: 94, ttl: 38, id: 0xc16a, df: false, window: 0, timestamps: false)
        return b.flow(connState: "RSTO", synToSynAck: 0.00004, synAckToAck: 0.038497)
    }

    @Test func tripwireTripletAndSecondInjectorAreHighClientOwnResetIsNot() {
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(Self.tripwireTest1())])
        #expect(fs.count == 2)
        let triplet = fs.first { $0.injectedTTL == 70 }
        #expect(triplet?.confidence == .high)
        #expect(triplet?.injectedFrame == 6)
        #expect(triplet.map { Set([6, 7, 8]).isSubset(of: Set($0.frames)) } == true)
        #expect(triplet?.peerTTL == 38)
        #expect(triplet?.claimedSource == "222.222.222.222")
        #expect(triplet.map { fields([$0]).contains("ttl") } == true)
        #expect(triplet.map { notes([$0]).contains("identical RST/ACK") } == true)
        let second = fs.first { $0.injectedTTL == 36 }
        #expect(second?.injectedFrame == 9)
        #expect(second?.confidence == .high)
        #expect(second.map { fields([$0]).contains("ip_id") } == true)
        #expect(second.map { fields([$0]).contains("ttl") } == false)   // 36 vs 38 is within tolerance
        #expect(!fs.contains { $0.injectedFrame == 10 })
        #expect(!fs.flatMap(\.evidence).contains { if case .valueMismatch(_, 10, _, _, _) = $0 { true } else { false } })
    }

    /// Mirrors censorship/tripwire/testdata__airtel_example.pcap: RST/ACK TTL 49 vs 44, IP ID 0x00f2, DF clear,
    /// window 16, seq 1 although the client had sent 75 bytes, and the client goes on (ACK, FIN) afterwards.
    @Test func airtelStaleResetWithLiveSenderIsHigh() {
        var b = TCPFlowBuilder(client: "134.134.134.134", server: "10.10.10.10", serverPort: 80, clientPort: 41972)
        b.add(.client, 0, [.syn], seq: 0, ttl: 44, id: 0x2cb4, window: 64240)
        b.add(.server, 0.000075, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 64768)
        b.add(.client, 0.238665, [.ack], seq: 1, ack: 1, ttl: 44, id: 0x2cb5)
        b.add(.client, 0.238689, [.ack, .psh], seq: 1, ack: 1, len: 75, ttl: 44, id: 0x2cb6)
        b.add(.server, 0.238718, [.ack], seq: 1, ack: 76, ttl: 64, id: 0xdf44, window: 506)
        b.add(.server, 0.238996, [.ack], seq: 1, ack: 76, len: 2816, ttl: 64, id: 0xdf45, window: 506)
        b.add(.server, 0.239009, [.ack, .psh], seq: 2817, ack: 76, len: 2508, ttl: 64, id: 0xdf4b, window: 506)
        b.add(.client, 0.239235, [.ack, .rst], seq: 1, ack: 1, ttl: 49, id: 0x00f2, df: false, window: 16, timestamps: false)
        b.add(.client, 0.247273, [.ack], seq: 76, ack: 5325, ttl: 44, id: 0x2cb7, window: 501)
        b.add(.client, 0.247350, [.ack, .fin], seq: 76, ack: 5325, ttl: 44, id: 0x2cb8, window: 501)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.000075, synAckToAck: 0.23859))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedFrame == 8)
        #expect(fields(fs).isSuperset(of: ["ttl", "ip_id", "df", "window"]))
        #expect(notes(fs).contains("DATA_SEQ_RST"))
        #expect(notes(fs).contains("kept the connection going"))
    }

    /// Mirrors testdata__tripwire-1597963966.pcap frames 44–55: the GFW's RST/ACK triplet (TTL 96, seq 76) overtakes
    /// the client's own ACK and GET; the server's kernel then resets the client (no ACK, window 0) — genuine.
    /// The server's packets are all captured twice (Linux SLL), the client's are not.
    @Test func gfwTripletAheadOfTheRequestIsHighAndServerKernelResetsAreNot() {
        var b = TCPFlowBuilder(client: "123.206.27.192", server: "104.17.210.9", serverPort: 80, clientPort: 47374)
        b.add(.client, 0, [.syn], seq: 0, ttl: 50, id: 0x58a6, window: 29200)
        b.add(.server, 0.000049, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 65535)
        b.add(.server, 0.000053, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 65535)
        for t in [0.160290, 0.160291, 0.160293] {
            b.add(.client, t, [.ack, .rst], seq: 76, ack: 1, ttl: 96, id: 0xa54b, window: 1867, timestamps: false)
        }
        b.add(.client, 0.164198, [.ack], seq: 1, ack: 1, ttl: 50, id: 0x58a7, window: 229)
        b.add(.server, 0.164228, [.rst], seq: 1, ttl: 64, id: 0, window: 0, timestamps: false)
        b.add(.server, 0.164234, [.rst], seq: 1, ttl: 64, id: 0, window: 0, timestamps: false)
        b.add(.client, 0.164704, [.ack, .psh], seq: 1, ack: 1, len: 75, ttl: 50, id: 0x58a8, window: 229)
        b.add(.server, 0.164727, [.rst], seq: 1, ttl: 64, id: 0, window: 0, timestamps: false)
        b.add(.server, 0.164730, [.rst], seq: 1, ttl: 64, id: 0, window: 0, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(connState: "RSTR", synToSynAck: 0.000049))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedTTL == 96)
        #expect(fs.first?.claimedSource == "123.206.27.192")
        #expect(notes(fs).contains("identical RST/ACK"))
        #expect(notes(fs).contains("RST_SEQ_DATA"))
        #expect(!fs.contains { $0.claimedSource == "104.17.210.9" })
    }

    /// Mirrors tripwire-1597963966 frames 956–967: an injector copying the client's TTL (50) sends three identical
    /// RST/ACKs (window 2821, foreign IP ID) right after the GET; the client's own kernel RST (no ACK, window 0,
    /// TOS 0x60) follows 160 ms later. The triplet is high; the kernel RST is not part of its finding.
    @Test func ttlCopyingTripletIsHighAndKernelResetStaysApart() {
        var b = TCPFlowBuilder(client: "123.206.27.192", server: "104.17.210.9", serverPort: 80, clientPort: 47500)
        b.add(.client, 0, [.syn], seq: 0, ttl: 50, id: 0xb0b7, window: 29200)
        b.add(.server, 0.00004, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 65535)
        b.add(.client, 0.166, [.ack], seq: 1, ack: 1, ttl: 50, id: 0xb0b8, window: 229)
        b.add(.client, 0.1662, [.ack, .psh], seq: 1, ack: 1, len: 75, ttl: 50, id: 0xb0b9, window: 229)
        b.add(.server, 0.16622, [.ack], seq: 1, ack: 76, ttl: 64, id: 0x41b9, window: 64)
        for t in [0.16644, 0.166475, 0.166476] {
            b.add(.client, t, [.ack, .rst], seq: 76, ack: 1, ttl: 50, id: 0x7802, window: 2821, timestamps: false)
        }
        b.add(.client, 0.3258, [.rst], seq: 76, ttl: 50, id: 0x9c2d, window: 0, tos: 0x60, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.00004))])
        let triplet = fs.first { $0.injectedFrame == 6 }
        #expect(triplet?.confidence == .high)
        #expect(triplet?.frames.contains(9) == false)
        #expect(triplet.map { notes([$0]).contains("gives no hop distance") } == true)
        #expect(fs.filter { $0.frames.contains(9) }.allSatisfy { $0.confidence == .low })
    }

    // MARK: capture-wide context (sweep_sni_onpath, sni_rst_inpath)

    /// Client-side sweep probe: ClientHello (frame 4) sent with TTL 4, which expires (ICMP frame 5); the on-path
    /// injector's RST+ACK acknowledges it anyway (frame 6, TTL 58 against the server's 59, DF clear).
    static func expiredProbe(clientPort: UInt16, firstFrame: FrameNumber, probeTTL: UInt8, reachesServer: Bool) -> (TCPFlowEvent, ICMPErrorEvent?) {
        var b = TCPFlowBuilder(clientPort: clientPort, firstFrame: firstFrame)
        b.handshake(serverTTL: 59)
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: probeTTL, id: 0x1002)
        var icmp: ICMPErrorEvent?
        if reachesServer {
            b.add(.server, 0.052, [.ack], seq: 1, ack: 518, ttl: 59, id: 0x6368)
        } else {
            let f = b.nextFrame
            b.nextFrame += 1
            let c = b.client.v4Value, sv = b.server.v4Value, seq = b.clientISN &+ 1
            var bytes: [UInt8] = [0x45, 0, 0, 60, 0x10, 0x02, 0x40, 0, 1, 6, 0, 0]
            for v in [c, sv] { bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
            bytes += [UInt8(clientPort >> 8), UInt8(clientPort & 0xff), 0x01, 0xbb,
                      UInt8(seq >> 24), UInt8((seq >> 16) & 0xff), UInt8((seq >> 8) & 0xff), UInt8(seq & 0xff)]
            let q = bytes.withUnsafeBytes { PacketDecoder.decodeQuote($0) }
            icmp = ICMPErrorEvent(capture: b.capture, frame: f, time: b.time(0.0511), source: IPAddress("10.77.3.1")!,
                                  destination: b.client, ttl: 61, ipID: 0, isV6: false, type: 11, code: 0, quoted: q)
        }
        b.add(.server, 0.1, [.ack, .rst], seq: 1, ack: 518, ttl: 58, id: 0x77de, df: false, window: 0, timestamps: false)
        var flow = b.flow(connState: "RSTR", synToSynAck: 0.0002)
        flow.isTTLLimitedProbe = true
        return (flow, icmp)
    }

    @Test func resetAcknowledgingExpiredProbeDataIsMediumAndItsTemplateCarries() throws {
        let (expired, icmp) = Self.expiredProbe(clientPort: 40001, firstFrame: 1, probeTTL: 4, reachesServer: false)
        let (reached, _) = Self.expiredProbe(clientPort: 40002, firstFrame: 100, probeTTL: 6, reachesServer: true)
        let e = try #require(icmp)
        // Alone, the probe that reached the server has only its DF to show: low.
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(reached)]).maxConfidence == .low)
        // Without the ICMP, the expired probe's RST is low too.
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(expired)]).maxConfidence == .low)
        let fs = runDetector(RSTInjectionDetector(), [.icmpError(e), .tcpFlow(expired), .tcpFlow(reached)])
        let a = try #require(fs.first { $0.flow?.client == "10.0.0.2:40001" })
        // Strong (ACK of expired data) plus DF and a non-zero IP ID where the server sent 0: high.
        #expect(a.confidence == .high)
        #expect(notes([a]).contains("never reached the server"))
        #expect(a.frames.contains(e.frame))
        let b = try #require(fs.first { $0.flow?.client == "10.0.0.2:40002" })
        #expect(b.confidence == .medium)
        #expect(notes([b]).contains("same header template"))
    }

    @Test func steadyServerTTLTightensToleranceToOne() {
        // The lab's sni_rst_inpath: a bare RST "from the server" with TTL 61 while the server's packets all have 59.
        var blocked = TCPFlowBuilder(clientPort: 40001)
        blocked.handshake(serverTTL: 59)
        blocked.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        blocked.add(.server, 0.0512, [.rst], seq: 1, ttl: 61, id: 0, window: 0, timestamps: false)
        let rstFlow = blocked.flow(connState: "RSTR", synToSynAck: 0.0002)
        // Alone: ±2 tolerance, no signal.
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(rstFlow)]).isEmpty)
        var control = TCPFlowBuilder(clientPort: 40002, firstFrame: 100)
        control.handshake(serverTTL: 59)
        control.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x2002)
        for k in 0..<8 {
            control.add(.server, 0.1 + Double(k) * 0.001, [.ack], seq: 1 + UInt32(k * 1000), ack: 518, len: 1000, ttl: 59, id: 0x5000 + UInt32(k))
        }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(rstFlow), .tcpFlow(control.flow())])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .medium)
        #expect(fields(fs) == ["ttl"])
        // A server whose TTL varies by one keeps the ±2 tolerance.
        var jitter = control
        jitter.add(.server, 0.2, [.ack], seq: 8001, ack: 518, len: 10, ttl: 58, id: 0x5009)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(rstFlow), .tcpFlow(jitter.flow())]).isEmpty)
    }

    @Test func bareResetWhoseSeqNoPeerAckedIsJudgedOnIPIDAndDF() {
        // Server-side view of sweep_sni_onpath: the probe never reached the server, yet a bare RST "from the client"
        // carries the seq past it, with DF clear and an IP ID off the client's counter.
        var b = TCPFlowBuilder(client: "10.77.0.2", server: "10.77.9.2", clientPort: 39190)
        b.add(.client, 0, [.syn], seq: 0, ttl: 59, id: 0x33be, window: 64240)
        b.add(.server, 0.00003, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 65160)
        b.add(.client, 0.0001, [.ack], seq: 1, ack: 1, ttl: 59, id: 0x33bf)
        b.add(.client, 0.11, [.rst], seq: 518, ttl: 60, id: 0x8b9f, df: false, window: 0, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(connState: "RSTO"))])
        #expect(fs.first?.confidence == .medium)
        #expect(fields(fs).isSuperset(of: ["ip_id", "df"]))
        // The same packet answering a server ACK for that seq is a kernel's no-socket reply: IP ID and DF exempt.
        var k = TCPFlowBuilder(client: "10.77.0.2", server: "10.77.9.2", clientPort: 39190)
        k.add(.client, 0, [.syn], seq: 0, ttl: 59, id: 0x33be, window: 64240)
        k.add(.server, 0.00003, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 65160)
        k.add(.client, 0.0001, [.ack], seq: 1, ack: 1, ttl: 59, id: 0x33bf)
        k.add(.server, 0.1, [.ack], seq: 1, ack: 518, ttl: 64, id: 0x100)
        k.add(.client, 0.11, [.rst], seq: 518, ttl: 60, id: 0x8b9f, df: false, window: 0, timestamps: false)
        #expect((runDetector(RSTInjectionDetector(), [.tcpFlow(k.flow(connState: "RSTO"))]).maxConfidence ?? .low) == .low)
    }

    // MARK: single signals, client-side view (server 50 ms away, TTL 52)

    /// Client-side HTTPS flow: handshake, ClientHello (frame 4), server data (frames 5–6), then `rst` from the server.
    static func clientSide(_ rst: (inout TCPFlowBuilder) -> Void, after: ((inout TCPFlowBuilder) -> Void)? = nil) -> TCPFlowEvent {
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5000, window: 501)
        b.add(.server, 0.102, [.ack, .psh], seq: 1401, ack: 518, len: 600, ttl: 52, id: 0x5001, window: 501)
        b.add(.client, 0.103, [.ack], seq: 518, ack: 2001, ttl: 64, id: 0x1003)
        rst(&b)
        after?(&b)
        return b.flow(synToSynAck: 0.05, synAckToAck: 0.0002)
    }

    @Test func genuineServerResetGivesNothing() {
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0x5002, window: 0, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func ttlAloneIsMedium() {
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 58, id: 0x5002, window: 0, timestamps: false) }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .medium)
        #expect(fields(fs) == ["ttl"])
        #expect(fs.first?.injectedTTL == 58)
        #expect(fs.first?.peerTTL == 52)
    }

    @Test func bigTTLGapNeedsOnlyOneWeakSignalForHigh() {
        let big = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 120, id: 0x5002, df: false, window: 0, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(big)]).first?.confidence == .high)
        let small = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 58, id: 0x5002, df: false, window: 0, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(small)]).first?.confidence == .medium)
    }

    @Test func ttlWithinToleranceIsNothing() {
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 54, id: 0x5002, window: 0, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func staleSequenceAloneIsMedium() {
        // seq 1401: the client already acknowledged 2001.
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 1401, ack: 518, ttl: 52, id: 0x5002, window: 0, timestamps: false) }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(fs.first?.confidence == .medium)
        #expect(notes(fs).contains("DATA_SEQ_RST"))
    }

    @Test func ackOfUnsentDataAloneIsMedium() {
        // IP ID 200 steps on: not the server's next counter value, not far enough to be a signal.
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 9000, ttl: 52, id: 0x5001 + 200, window: 0, timestamps: false) }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(fs.first?.confidence == .medium)
        #expect(notes(fs).contains("beyond anything the client had sent"))
    }

    @Test func senderContinuingAfterResetIsMedium() {
        let flow = Self.clientSide({ $0.add(.server, 0.2, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0x5002, window: 0, timestamps: false) },
                                   after: { $0.add(.server, 0.25, [.ack, .psh], seq: 2001, ack: 518, len: 900, ttl: 52, id: 0x5003, window: 501) })
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(fs.first?.confidence == .medium)
        #expect(notes(fs).contains("RST_SEQ_DATA"))
    }

    @Test func resetFasterThanTheRoundTripIsMedium() {
        // RST/ACK for the ClientHello 8 ms after it, the server being 50 ms away; same TTL, in window.
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        b.add(.server, 0.059, [.ack, .rst], seq: 1, ack: 518, ttl: 52, id: 0, window: 0, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))])
        #expect(fs.first?.confidence == .medium)
        #expect(notes(fs).contains("timing:reply_after_trigger"))
        // The same RST 60 ms after the ClientHello is plausible.
        var c = TCPFlowBuilder()
        c.handshake()
        c.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        c.add(.server, 0.111, [.ack, .rst], seq: 1, ack: 518, ttl: 52, id: 0, window: 0, timestamps: false)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(c.flow(synToSynAck: 0.05))]).isEmpty)
    }

    /// Mirrors the Airtel capture's frame 12: the client's own FIN (TTL 44, next IP ID of its counter) acknowledges a
    /// block page injected toward it 8 ms after the server's data left, although the client is 238 ms away. The FIN
    /// is genuine; the timing is not held against it.
    @Test func ownCounterPacketReactingToInjectedDataIsNotFlagged() {
        var b = TCPFlowBuilder(client: "134.134.134.134", server: "10.10.10.10", serverPort: 80, clientPort: 41972)
        b.add(.client, 0, [.syn], seq: 0, ttl: 44, id: 0x2cb4, window: 64240)
        b.add(.server, 0.000075, [.syn, .ack], seq: 0, ack: 1, ttl: 64, id: 0, window: 64768)
        b.add(.client, 0.238665, [.ack], seq: 1, ack: 1, ttl: 44, id: 0x2cb5)
        b.add(.client, 0.238689, [.ack, .psh], seq: 1, ack: 1, len: 75, ttl: 44, id: 0x2cb6)
        b.add(.server, 0.238996, [.ack], seq: 1, ack: 76, len: 2816, ttl: 64, id: 0xdf45, window: 506)
        b.add(.client, 0.247273, [.ack], seq: 76, ack: 362, ttl: 44, id: 0x2cb7, window: 501)
        b.add(.client, 0.247350, [.ack, .fin], seq: 76, ack: 362, ttl: 44, id: 0x2cb8, window: 501)
        let flow = b.flow(synToSynAck: 0.000075, synAckToAck: 0.23859)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
        // The same FIN with a foreign IP ID is judged on its timing.
        var c = b
        c.segments[c.segments.count - 1].ipID = 0x9000
        let fs = runDetector(FINInjectionDetector(), [.tcpFlow(c.flow(synToSynAck: 0.000075, synAckToAck: 0.23859))])
        #expect(notes(fs).contains("timing:reply_after_trigger"))
        #expect((fs.maxConfidence ?? .low) >= .medium)
    }

    @Test func localSideIsNeverJudged() {
        // The client's handshake TTL is exactly 64: the capture runs on it; its odd RST is its own.
        let flow = Self.clientSide { $0.add(.client, 0.2, [.ack, .rst], seq: 1, ack: 2001, ttl: 5, id: 0, df: false, window: 77, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func sideWithoutOrdinaryPacketsIsNotJudged() {
        var b = TCPFlowBuilder()
        b.add(.client, 0, [.ack, .rst], seq: 1, ack: 1, ttl: 60, id: 7, window: 0, timestamps: false)
        b.add(.client, 0.0001, [.ack, .rst], seq: 1, ack: 1, ttl: 60, id: 7, window: 0, timestamps: false)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow())]).isEmpty)
    }

    @Test func windowSteppingBurstIsAtLeastMedium() {
        // gfw.report 2025: three RST/ACKs, window 1980/1981/1982, same TTL as the server.
        let flow = Self.clientSide { b in
            for (k, w) in [UInt16(1980), 1981, 1982].enumerated() {
                b.add(.server, 0.4 + Double(k) * 0.00001, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0x5002, window: w, timestamps: false)
            }
        }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect((fs.maxConfidence ?? .low) >= .medium)
        #expect(notes(fs).contains("windows step by one"))
    }

    @Test func rstSeqChangeIsDetected() {
        let flow = Self.clientSide { b in
            b.add(.server, 0.4, [.rst], seq: 2001, ttl: 52, id: 0x5002, window: 0, timestamps: false)
            b.add(.server, 0.6, [.rst], seq: 2001 + 1460, ttl: 52, id: 0x5003, window: 0, timestamps: false)
            b.add(.server, 0.8, [.rst], seq: 2001 + 2920, ttl: 52, id: 0x5004, window: 0, timestamps: false)
        }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect((fs.maxConfidence ?? .low) >= .medium)
        #expect(notes(fs).contains("RST_SEQ_CHANGE"))
    }

    @Test func rstAckChangeIsDetected() {
        let flow = Self.clientSide { b in
            b.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0x5002, window: 0, timestamps: false)
            b.add(.server, 0.5, [.ack, .rst], seq: 2001, ack: 518 + 5000, ttl: 52, id: 0x5003, window: 0, timestamps: false)
        }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(notes(fs).contains("RST_ACK_CHANGE"))
        #expect((fs.maxConfidence ?? .low) >= .medium)
    }

    @Test func weakSignalsAloneStayLow() {
        let payload = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, len: 20, ttl: 52, id: 0x5002, window: 0, timestamps: false) }
        let fp = runDetector(RSTInjectionDetector(), [.tcpFlow(payload)])
        #expect(fp.maxConfidence == .low)
        #expect(notes(fp).contains("payload"))
        let zeroID = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0, window: 0, timestamps: false) }
        let fz = runDetector(RSTInjectionDetector(), [.tcpFlow(zeroID)])
        #expect(fz.maxConfidence == .low)
        #expect(fields(fz) == ["ip_id"])
        let df = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 52, id: 0x5002, df: false, window: 0, timestamps: false) }
        let fd = runDetector(RSTInjectionDetector(), [.tcpFlow(df)])
        #expect(fd.maxConfidence == .low)
        #expect(fields(fd) == ["df"])
    }

    @Test func ttlPlusTwoWeakSignalsIsHigh() {
        let flow = Self.clientSide { $0.add(.server, 0.4, [.ack, .rst], seq: 2001, ack: 518, ttl: 120, id: 0, df: false, window: 8192, timestamps: false) }
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(flow)])
        #expect(fs.first?.confidence == .high)
        #expect(fields(fs).isSuperset(of: ["ttl", "ip_id", "df", "window"]))
    }

    // MARK: negative controls

    @Test func normalBrowsingAndRetransmissionsGiveNothing() {
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5000, window: 501)
        b.add(.server, 0.35, [.ack], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5001, window: 501)   // retransmission
        b.add(.client, 0.40, [.ack], seq: 518, ack: 1401, ttl: 64, id: 0x1003)
        b.add(.client, 0.41, [.ack, .fin], seq: 518, ack: 1401, ttl: 64, id: 0x1004)
        b.add(.server, 0.46, [.ack, .fin], seq: 1401, ack: 519, ttl: 52, id: 0x5002, window: 501)
        b.add(.server, 0.66, [.ack, .fin], seq: 1401, ack: 519, ttl: 52, id: 0x5003, window: 501)   // FIN retransmitted
        b.add(.client, 0.67, [.ack], seq: 519, ack: 1402, ttl: 64, id: 0x1005)
        let flow = b.flow(synToSynAck: 0.05)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func clientClosingWithResetGivesNothing() {
        // Linux abort: the client sends RST/ACK with its own TTL, counter and window 0 after reading part of the data.
        let flow = Self.clientSide { $0.add(.client, 0.2, [.ack, .rst], seq: 518, ack: 2001, ttl: 64, id: 0x1004, window: 0, timestamps: false) }
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }

    @Test func natOnThePathShiftsEveryServerPacketAlike() {
        // All server packets, RST included, arrive with TTL 51: the baseline absorbs the NAT hop.
        var b = TCPFlowBuilder()
        b.handshake(serverTTL: 51)
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 300, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 301, len: 800, ttl: 51, id: 0x7000, window: 501)
        b.add(.server, 0.5, [.ack, .rst], seq: 801, ack: 301, ttl: 51, id: 0x7001, window: 0, timestamps: false)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))]).isEmpty)
    }

    @Test func natStateTimeoutResetStaysLow() {
        // After 10 minutes idle the client writes; the NAT (TTL 63) answers with an in-window RST for the server.
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 300, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 301, len: 800, ttl: 52, id: 0x7000, window: 501)
        b.add(.client, 0.102, [.ack], seq: 301, ack: 801, ttl: 64, id: 0x1003)
        b.add(.client, 600.0, [.ack, .psh], seq: 301, ack: 801, len: 40, ttl: 64, id: 0x1004)
        b.add(.server, 600.001, [.rst], seq: 801, ttl: 63, id: 0, df: false, window: 0, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))])
        #expect((fs.maxConfidence ?? .low) == .low)
        #expect(notes(fs).contains("NAT") || fs.isEmpty)
    }

    @Test func captureDuplicatedResetIsNotABurst() {
        // The capture sees every server packet twice; a genuine RST/ACK duplicated is no burst.
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 300, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 301, len: 800, ttl: 52, id: 0x7000, window: 501)
        b.add(.server, 0.101005, [.ack, .psh], seq: 1, ack: 301, len: 800, ttl: 52, id: 0x7000, window: 501)
        b.add(.server, 0.3, [.ack, .rst], seq: 801, ack: 301, ttl: 52, id: 0x7001, window: 0, timestamps: false)
        b.add(.server, 0.300005, [.ack, .rst], seq: 801, ack: 301, ttl: 52, id: 0x7001, window: 0, timestamps: false)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))]).isEmpty)
    }

    @Test func emptyFlowIsHandled() {
        let flow = TCPFlowBuilder().flow()
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(flow)]).isEmpty)
    }
}

@Suite("tcp.fin_injection")
struct TCPFINInjectionTests {
    /// A forged block page (TTL 120, no timestamps) with a FIN 6 ms after the request, then the real response.
    static func forgedBlockPage(realResponse: Bool) -> TCPFlowEvent {
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 120, ttl: 64, id: 0x1002)
        b.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 200, ttl: 120, id: 0x0101, df: false, window: 8192, timestamps: false)
        b.add(.server, 0.057, [.ack, .fin], seq: 201, ack: 121, ttl: 120, id: 0x0102, df: false, window: 8192, timestamps: false)
        if realResponse {
            b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 121, len: 1400, ttl: 52, id: 0x5000, window: 501)
        }
        return b.flow(synToSynAck: 0.05)
    }

    @Test func forgedFinRacingTheRealResponseIsHigh() {
        let fs = runDetector(FINInjectionDetector(), [.tcpFlow(Self.forgedBlockPage(realResponse: true))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedFrame == 6)
        #expect(fs.first?.injectedTTL == 120)
        #expect(fields(fs).isSuperset(of: ["ttl", "df", "options"]))
        #expect(notes(fs).contains("reaching past the FIN"))
        #expect(notes(fs).contains("timing:reply_after_trigger"))
    }

    @Test func forgedFinWithoutRealResponseIsStillHigh() {
        // TTL and timing (6 ms for a 50 ms path) are two strong signals.
        let fs = runDetector(FINInjectionDetector(), [.tcpFlow(Self.forgedBlockPage(realResponse: false))])
        #expect(fs.first?.confidence == .high)
    }

    @Test func finRetransmissionAfterThePeerAckedItIsNothing() {
        // The server's FIN (seq 1501) is acknowledged (1502), then retransmitted: seq 1501 < peer ack is ordinary here.
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 120, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 121, len: 1500, ttl: 52, id: 0x5000, window: 501)
        b.add(.server, 0.102, [.ack, .fin], seq: 1501, ack: 121, ttl: 52, id: 0x5001, window: 501)
        b.add(.client, 0.103, [.ack], seq: 121, ack: 1502, ttl: 64, id: 0x1003)
        b.add(.server, 0.4, [.ack, .fin], seq: 1501, ack: 121, ttl: 52, id: 0x5002, window: 501)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))]).isEmpty)
    }

    @Test func retransmittedResponseWithPiggybackedFINIsNothing() {
        // Mirrors CenTrace's bitcomet trace: the server resends its whole answer, the last segment carrying data + FIN.
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 80, ttl: 64, id: 0x1002)
        for round in 0..<3 {
            let t = 0.1 + Double(round) * 0.4
            b.add(.server, t, [.ack, .psh], seq: 1, ack: 81, len: 1400, ttl: 52, id: 0x5000 + UInt32(round * 3), window: 501)
            b.add(.server, t + 0.0001, [.ack, .psh, .fin], seq: 1401, ack: 81, len: 79, ttl: 52, id: 0x5001 + UInt32(round * 3), window: 501)
        }
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))]).isEmpty)
    }

    @Test func retransmittedSYNDoesNotInflateTheRoundTrip() {
        // First SYN lost; SYN-ACK 3 s later answers the retransmission after 50 ms. A FIN 20 ms after the client's
        // data is then plausible-ish (0.4 × RTT) and must not be judged against a 3 s round trip.
        var b = TCPFlowBuilder(serverPort: 80)
        b.add(.client, 0, [.syn], seq: 0, ttl: 64, id: 0x1000, window: 64240)
        b.add(.client, 3.0, [.syn], seq: 0, ttl: 64, id: 0x1001, window: 64240)
        b.add(.server, 3.05, [.syn, .ack], seq: 0, ack: 1, ttl: 52, id: 0, window: 65160)
        b.add(.client, 3.0502, [.ack], seq: 1, ack: 1, ttl: 64, id: 0x1002)
        b.add(.server, 3.1, [.ack, .psh], seq: 1, ack: 1, len: 500, ttl: 52, id: 0x5000, window: 501)
        b.add(.client, 3.2, [.ack, .fin], seq: 1, ack: 501, ttl: 64, id: 0x1003)
        b.add(.server, 3.22, [.ack, .fin], seq: 501, ack: 2, ttl: 52, id: 0x5100, window: 501)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 3.05))]).isEmpty)
    }

    @Test func strayPacketOfAnEarlierConnectionOnTheSamePortsIsIgnored() {
        // Port reuse: an old connection's ACK (far-away seq) precedes the new SYN; the new FIN is ordinary.
        var b = TCPFlowBuilder(serverPort: 80)
        b.add(.server, 0, [.ack], seq: 150_000_000, ack: 1, ttl: 52, id: 0x2000, window: 501)
        b.add(.client, 3.0, [.syn], seq: 0, ttl: 64, id: 0x1000, window: 64240)
        b.add(.server, 3.05, [.syn, .ack], seq: 0, ack: 1, ttl: 52, id: 0, window: 65160)
        b.add(.client, 3.0502, [.ack, .psh], seq: 1, ack: 1, len: 100, ttl: 64, id: 0x1001)
        b.add(.server, 3.1, [.ack, .psh], seq: 1, ack: 101, len: 460, ttl: 52, id: 0x5000, window: 501)
        b.add(.server, 3.1001, [.ack, .fin], seq: 461, ack: 101, ttl: 52, id: 0x5001, window: 501)
        #expect(runDetector(FINInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))]).isEmpty)
    }

    @Test func finShapeAloneIsLow() {
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 120, ttl: 64, id: 0x1002)
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 121, len: 1400, ttl: 52, id: 0x5000, window: 501)
        b.add(.server, 0.102, [.ack, .psh], seq: 1401, ack: 121, len: 100, ttl: 52, id: 0x5001, window: 501)
        b.add(.server, 0.2, [.ack, .fin], seq: 1501, ack: 121, ttl: 52, id: 0x5002, window: 501, timestamps: false)
        let fs = runDetector(FINInjectionDetector(), [.tcpFlow(b.flow(synToSynAck: 0.05))])
        #expect(fs.maxConfidence == .low)
        #expect(fields(fs) == ["options"])
    }
}
