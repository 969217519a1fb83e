import KZDetect
import KZWire
import Testing

private func tls(_ ch: FrameNumber?, sni: String?, sh: FrameNumber? = nil, v13: Bool = false) -> TLSEvent {
    TLSEvent(clientHelloFrame: ch, sni: sni, serverHelloFrame: sh, negotiatedVersion: sh == nil ? nil : 0x0304,
             certificateFrame: nil, chain: [], alertFrames: [], isTLS13: v13)
}

private func controlNotes(_ fs: [Finding]) -> [String] {
    fs.flatMap(\.evidence).compactMap { if case .control(_, let n) = $0 { n } else { nil } }
}

/// A flow whose ClientHello (or request) is sent `sends` times and never answered; the client gives up at `giveUp`.
private func stalled(server: String = "185.1.2.3", port: UInt16 = 443, clientPort: UInt16 = 50001, firstFrame: FrameNumber,
                     sends: Int, giveUp: Double?, sni: String? = nil, host: String? = nil, serverRST: Bool = false) -> TCPFlowEvent {
    var b = TCPFlowBuilder(server: server, serverPort: port, clientPort: clientPort, firstFrame: firstFrame)
    b.handshake()
    var ch: FrameNumber = 0
    for k in 0..<sends {
        let f = b.add(.client, 0.051 + [0, 0.3, 0.9, 2.1, 4.5][min(k, 4)], [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002 + UInt32(k))
        if k == 0 { ch = f }
    }
    if serverRST { b.add(.server, 0.2, [.ack, .rst], seq: 1, ack: 518, ttl: 52, id: 0, window: 0, timestamps: false) }
    if let g = giveUp { b.add(.client, g, [.ack, .fin], seq: 518, ack: 1, ttl: 64, id: 0x1100) }
    let http = host.map { [HTTPRequestEvent(frame: ch, method: "GET", target: "/", host: $0)] } ?? []
    return b.flow(connState: "S1", synToSynAck: 0.05, http: http, tls: sni.map { tls(ch, sni: $0) })
}

/// A flow answered normally (ServerHello / HTTP response).
private func answered(server: String = "185.1.2.3", port: UInt16 = 443, clientPort: UInt16 = 50002, firstFrame: FrameNumber,
                      sni: String? = nil, host: String? = nil) -> TCPFlowEvent {
    var b = TCPFlowBuilder(server: server, serverPort: port, clientPort: clientPort, firstFrame: firstFrame)
    b.handshake()
    let ch = b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
    let sh = b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5000)
    b.add(.client, 0.102, [.ack], seq: 518, ack: 1401, ttl: 64, id: 0x1003)
    let http = host.map { [HTTPRequestEvent(frame: ch, method: "GET", target: "/", host: $0)] } ?? []
    let resp = host == nil ? [] : [HTTPResponseEvent(firstFrame: sh, lastFrame: sh, status: 200, headers: [], body: [], bodySHA256: nil, complete: true)]
    return b.flow(synToSynAck: 0.05, http: http, responses: resp, tls: sni.map { tls(ch, sni: $0, sh: sh, v13: true) })
}

@Suite("tls.sni_blocking")
struct DropSNIBlockingTests {
    @Test func retransmittedClientHelloWithControlIsHigh() {
        let blocked = stalled(firstFrame: 1, sends: 3, giveUp: 10, sni: "blocked.example")
        let control = answered(firstFrame: 100, sni: "example.com")
        let fs = runDetector(SNIBlockingDetector(), [.tcpFlow(blocked), .tcpFlow(control)])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.target?.sni == "blocked.example")
        #expect(fs.first.map { Set([4, 5, 6, 7, 104]).isSubset(of: Set($0.frames)) } == true)
        #expect(fs.first?.evidence.contains(.control(frame: 104, note: "another flow to 185.1.2.3 with SNI example.com got an answer (frame 104)")) == true)
    }

    @Test func withoutControlSaysSoAndIsMedium() {
        let fs = runDetector(SNIBlockingDetector(), [.tcpFlow(stalled(firstFrame: 1, sends: 3, giveUp: 10, sni: "blocked.example"))])
        #expect(fs.first?.confidence == .medium)
        #expect(controlNotes(fs) == ["no other flow to this server in the capture"])
    }

    @Test func singleSendShortWaitIsNothingLongWaitIsLow() {
        #expect(runDetector(SNIBlockingDetector(), [.tcpFlow(stalled(firstFrame: 1, sends: 1, giveUp: 0.8, sni: "a.example"))]).isEmpty)
        let fs = runDetector(SNIBlockingDetector(), [.tcpFlow(stalled(firstFrame: 1, sends: 1, giveUp: 4, sni: "a.example"))])
        #expect(fs.maxConfidence == .low)
    }

    @Test func sameSNIAnsweredElsewhereCapsAtMedium() {
        let fs = runDetector(SNIBlockingDetector(), [.tcpFlow(stalled(firstFrame: 1, sends: 3, giveUp: 10, sni: "x.example")),
                                                     .tcpFlow(answered(firstFrame: 100, sni: "example.com")),
                                                     .tcpFlow(answered(clientPort: 50003, firstFrame: 200, sni: "x.example"))])
        #expect(fs.first?.confidence == .medium)
    }

    @Test func ttlLimitedProbeIsNotADrop() {
        // CenTrace-style: the ClientHello is sent with TTL 7 on purpose and expires on the path.
        var f = stalled(firstFrame: 1, sends: 3, giveUp: 10, sni: "blocked.example")
        for k in f.segments.indices where f.segments[k].payloadLength > 0 { f.segments[k].ttl = 7 }
        #expect(runDetector(SNIBlockingDetector(), [.tcpFlow(f)]).isEmpty)
    }

    @Test func normalTLS13AndServerResetAreNothing() {
        #expect(runDetector(SNIBlockingDetector(), [.tcpFlow(answered(firstFrame: 1, sni: "example.com"))]).isEmpty)
        #expect(runDetector(SNIBlockingDetector(), [.tcpFlow(stalled(firstFrame: 1, sends: 3, giveUp: 10, sni: "b.example", serverRST: true))]).isEmpty)
    }
}

@Suite("http.request_drop")
struct DropHTTPRequestTests {
    @Test func droppedRequestWithControlHostIsHigh() {
        let fs = runDetector(HTTPRequestDropDetector(), [.tcpFlow(stalled(port: 80, firstFrame: 1, sends: 2, giveUp: 8, host: "blocked.example")),
                                                         .tcpFlow(answered(port: 80, firstFrame: 50, host: "example.com"))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.target?.host == "blocked.example")
        #expect(fs.first?.summary.contains("HTTP request") == true)
    }

    @Test func withoutControlIsMediumAndSaysSo() {
        let fs = runDetector(HTTPRequestDropDetector(), [.tcpFlow(stalled(port: 80, firstFrame: 1, sends: 3, giveUp: 8, host: "blocked.example"))])
        #expect(fs.first?.confidence == .medium)
        #expect(controlNotes(fs) == ["no other flow to this server in the capture"])
    }

    @Test func answeredRequestIsNothing() {
        #expect(runDetector(HTTPRequestDropDetector(), [.tcpFlow(answered(port: 80, firstFrame: 1, host: "example.com"))]).isEmpty)
    }
}

@Suite("tcp.syn_drop")
struct DropSYNTests {
    static func synOnly(server: String = "185.1.2.3", clientPort: UInt16 = 50010, firstFrame: FrameNumber, syns: Int) -> TCPFlowEvent {
        var b = TCPFlowBuilder(server: server, clientPort: clientPort, firstFrame: firstFrame)
        for k in 0..<syns { b.add(.client, [0, 1, 3, 7][min(k, 3)], [.syn], seq: 0, ttl: 64, id: 0x2000 + UInt32(k), window: 64240) }
        return b.flow(connState: "S0", history: "S")
    }

    @Test func retriedSYNWithReachableServerIsHigh() {
        let fs = runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 3)), .tcpFlow(answered(firstFrame: 10))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.frames == [1, 2, 3, 11])
    }

    @Test func prefixControlIsMedium() {
        let fs = runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 3)), .tcpFlow(answered(server: "185.1.2.99", firstFrame: 10))])
        #expect(fs.first?.confidence == .medium)
    }

    @Test func noControlIsLowAndSaysSo() {
        let fs = runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 3)), .tcpFlow(answered(server: "8.8.8.8", firstFrame: 10))])
        #expect(fs.first?.confidence == .low)
        #expect(fs.first?.evidence.contains(.control(frame: nil, note: "no other flow to this server in the capture")) == true)
    }

    @Test func singleSYNIsLowWithSameAddressControlOnly() {
        let same = runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 1)), .tcpFlow(answered(firstFrame: 10))])
        #expect(same.maxConfidence == .low)
        #expect(runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 1)),
                                                .tcpFlow(answered(server: "185.1.2.99", firstFrame: 10))]).isEmpty)
    }

    @Test func singleSYNWithoutControlAndAnsweredFlowsAreNothing() {
        #expect(runDetector(SYNDropDetector(), [.tcpFlow(Self.synOnly(firstFrame: 1, syns: 1))]).isEmpty)
        #expect(runDetector(SYNDropDetector(), [.tcpFlow(answered(firstFrame: 1))]).isEmpty)
        // Refused (RST answer) is no silent drop.
        var b = TCPFlowBuilder()
        b.add(.client, 0, [.syn], seq: 0, ttl: 64, id: 1)
        b.add(.server, 0.05, [.rst, .ack], seq: 0, ack: 1, ttl: 52, id: 0, window: 0)
        #expect(runDetector(SYNDropDetector(), [.tcpFlow(b.flow(connState: "REJ"))]).isEmpty)
    }
}

@Suite("tcp.throttling")
struct DropThrottlingTests {
    /// `bytes` of server data spread evenly over `seconds`, with a TLS handshake of `handshake` seconds.
    static func transfer(clientPort: UInt16, firstFrame: FrameNumber, bytes: Int, seconds: Double, handshake: Double = 0.05,
                         server: String = "185.1.2.3") -> TCPFlowEvent {
        var b = TCPFlowBuilder(server: server, clientPort: clientPort, firstFrame: firstFrame)
        b.handshake()
        let ch = b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        let sh = b.add(.server, 0.051 + handshake, [.ack, .psh], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5000)
        let n = 10
        let per = (bytes - 1400) / n
        for k in 0..<n {
            b.add(.server, 0.051 + handshake + seconds * Double(k + 1) / Double(n), [.ack], seq: 1401 + UInt32(k * per), ack: 518,
                  len: per, ttl: 52, id: 0x5001 + UInt32(k))
        }
        return b.flow(payloadServer: 1400 + n * per, tls: tls(ch, sni: "s\(clientPort).example", sh: sh))
    }

    @Test func slowFlowAgainstFastComparablesIsMedium() {
        let fs = runDetector(ThrottlingDetector(), [
            .tcpFlow(Self.transfer(clientPort: 1, firstFrame: 1, bytes: 2_000_000, seconds: 1)),
            .tcpFlow(Self.transfer(clientPort: 2, firstFrame: 100, bytes: 1_500_000, seconds: 1)),
            .tcpFlow(Self.transfer(clientPort: 3, firstFrame: 200, bytes: 100_000, seconds: 20)),
        ])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .medium)
        #expect(fs.first?.flow?.client == "10.0.0.2:3")
    }

    @Test func slowHandshakeAndThroughputIsHigh() {
        let fs = runDetector(ThrottlingDetector(), [
            .tcpFlow(Self.transfer(clientPort: 1, firstFrame: 1, bytes: 2_000_000, seconds: 1)),
            .tcpFlow(Self.transfer(clientPort: 3, firstFrame: 200, bytes: 100_000, seconds: 20, handshake: 4)),
        ])
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.evidence.contains { if case .timing("tls_handshake", _, _, _) = $0 { true } else { false } } == true)
    }

    @Test func prefixOnlyComparableIsLow() {
        let fs = runDetector(ThrottlingDetector(), [
            .tcpFlow(Self.transfer(clientPort: 1, firstFrame: 1, bytes: 2_000_000, seconds: 1, server: "185.1.2.4")),
            .tcpFlow(Self.transfer(clientPort: 3, firstFrame: 200, bytes: 100_000, seconds: 20)),
        ])
        #expect(fs.first?.confidence == .low)
    }

    @Test func idleKeepAliveFlowIsNotSlow() {
        // 100 kB in two bursts 20 s apart: one pause dominates, the flow was idle, not throttled.
        var b = TCPFlowBuilder(clientPort: 3, firstFrame: 200)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 300, ttl: 64, id: 0x1002)
        b.add(.server, 0.1, [.ack], seq: 1, ack: 301, len: 50_000, ttl: 52, id: 0x5000)
        b.add(.server, 20.1, [.ack], seq: 50_001, ack: 301, len: 50_000, ttl: 52, id: 0x5001)
        #expect(runDetector(ThrottlingDetector(), [
            .tcpFlow(Self.transfer(clientPort: 1, firstFrame: 1, bytes: 2_000_000, seconds: 1)),
            .tcpFlow(b.flow()),
        ]).isEmpty)
    }

    @Test func similarFlowsOrNoComparablesAreNothing() {
        #expect(runDetector(ThrottlingDetector(), [
            .tcpFlow(Self.transfer(clientPort: 1, firstFrame: 1, bytes: 2_000_000, seconds: 1)),
            .tcpFlow(Self.transfer(clientPort: 2, firstFrame: 100, bytes: 1_000_000, seconds: 1)),
        ]).isEmpty)
        #expect(runDetector(ThrottlingDetector(), [.tcpFlow(Self.transfer(clientPort: 3, firstFrame: 1, bytes: 100_000, seconds: 20))]).isEmpty)
    }
}
