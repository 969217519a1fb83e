import Testing
import KZWire
@testable import KZFlow

/// conn_state and history against Zeek's definitions (scripts/base/protocols/conn/main.zeek).
@Suite struct TCPStateTests {
    func one(_ packets: [TestPacket], limits: FlowLimits = FlowLimits()) -> FlowRecord? {
        let sink = run(packets, limits: limits)
        #expect(sink.closed.count == 1)
        return sink.closed.first
    }

    @Test func normalConnectionIsSF() throws {
        var w = Wire()
        let r = try #require(one(normalConnection(&w)))
        #expect(r.connState == .SF)
        #expect(r.history == "ShADdFf")
        #expect(r.roleSource == .syn)
        #expect(r.originator.description == "10.0.0.1:40000")
        #expect(r.responder.description == "93.184.216.34:80")
        #expect(r.forward.packets == 5 && r.reverse.packets == 3)
        #expect(r.forward.payloadBytes == 18 && r.reverse.payloadBytes == 24)
        #expect(r.handshake.synFrame == 1 && r.handshake.synAckFrame == 2 && r.handshake.ackFrame == 3)
        #expect(r.anomalies.isEmpty)
    }

    @Test func attemptWithoutReplyIsS0AndSynRetransmitsAreOneLetter() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 7), w.tcp(fromClient: true, [.syn], seq: 7, dt: 1),
                                  w.tcp(fromClient: true, [.syn], seq: 7, dt: 2)]))
        #expect(r.connState == .S0)
        #expect(r.history == "S")
        #expect(r.forward.packets == 3)
        #expect(r.forward.segments.count == 3)
    }

    @Test func synWithNewSequenceNumberIsRecordedAgain() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 7), w.tcp(fromClient: true, [.syn], seq: 900)]))
        #expect(r.history == "SS")
        #expect(r.count(of: "tcp.syn_seq_jump") == 1)
    }

    @Test func rejectedAttemptIsREJ() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 7),
                                  w.tcp(fromClient: false, [.rst, .ack], seq: 0, ack: 8)]))
        #expect(r.connState == .REJ)
        #expect(r.history == "Sr")
    }

    func established(_ w: inout Wire) -> [TestPacket] {
        [w.tcp(fromClient: true, [.syn], seq: 100), w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101),
         w.tcp(fromClient: true, [.ack], seq: 101, ack: 501)]
    }

    @Test func originatorAbortIsRSTO() throws {
        var w = Wire()
        let r = try #require(one(established(&w) + [w.tcp(fromClient: true, [.rst, .ack], seq: 101, ack: 501)]))
        #expect(r.connState == .RSTO)
        #expect(r.history == "ShAR")
    }

    @Test func responderResetIsRSTR() throws {
        var w = Wire()
        let r = try #require(one(established(&w) + [w.tcp(fromClient: false, [.rst], seq: 501)]))
        #expect(r.connState == .RSTR)
        #expect(r.history == "ShAr")
    }

    @Test func synThenResetIsRSTOS0() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 7), w.tcp(fromClient: true, [.rst], seq: 8)]))
        #expect(r.connState == .RSTOS0)
        #expect(r.history == "SR")
    }

    @Test func synAckThenResetIsRSTRH() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101),
                                  w.tcp(fromClient: false, [.rst], seq: 501)]))
        #expect(r.connState == .RSTRH)
        #expect(r.history == "^hr")
        #expect(r.roleSource == .synAck)
        #expect(r.originator.description == "10.0.0.1:40000")
        #expect(r.count(of: "tcp.unsolicited_syn_ack") == 1)
    }

    @Test func synThenFinIsSH() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 7),
                                  w.tcp(fromClient: true, [.fin, .ack], seq: 8, ack: 0)]))
        #expect(r.connState == .SH)
        #expect(r.history == "SF")
    }

    @Test func synAckThenFinIsSHR() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101),
                                  w.tcp(fromClient: false, [.fin, .ack], seq: 501, ack: 101)]))
        #expect(r.connState == .SHR)
        #expect(r.history == "^hf")
    }

    @Test func midstreamIsOTHWithRolesFromPorts() throws {
        var w = Wire()
        // First packet from the server: its port 80 makes it the responder.
        let r = try #require(one([w.tcp(fromClient: false, [.ack, .psh], seq: 9000, ack: 100, payload: bytes("hi")),
                                  w.tcp(fromClient: true, [.ack], seq: 100, ack: 9002)]))
        #expect(r.connState == .OTH)
        #expect(r.roleSource == .ports)
        #expect(r.originator.port == 40000)
        #expect(r.history == "^dA")
    }

    @Test func firstPacketDecidesWhenPortsDoNotTell() throws {
        var w = Wire()
        w.cport = 50000; w.sport = 50001
        let r = try #require(one([w.tcp(fromClient: false, [.ack], seq: 1, ack: 1)]))
        #expect(r.roleSource == .firstPacket)
        #expect(r.originator.port == 50001)
        #expect(!r.history.hasPrefix("^"))
    }

    @Test func establishedWithoutCloseIsS1() throws {
        var w = Wire()
        let r = try #require(one(established(&w) + [w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501,
                                                          payload: bytes("x"))]))
        #expect(r.connState == .S1)
        #expect(r.history == "ShAD")
    }

    @Test func halfClosesAreS2AndS3() throws {
        var w = Wire()
        let s2 = try #require(one(established(&w) + [w.tcp(fromClient: true, [.fin, .ack], seq: 101, ack: 501)]))
        #expect(s2.connState == .S2)
        var w2 = Wire()
        let s3 = try #require(one(established(&w2) + [w2.tcp(fromClient: false, [.fin, .ack], seq: 501, ack: 101)]))
        #expect(s3.connState == .S3)
    }

    @Test func finThenResetFromPeerStaysSF() throws {
        var w = Wire()
        let r = try #require(one(established(&w) + [
            w.tcp(fromClient: true, [.fin, .ack], seq: 101, ack: 501),
            w.tcp(fromClient: false, [.fin, .ack], seq: 501, ack: 102),
            w.tcp(fromClient: true, [.rst], seq: 102),
        ]))
        // Both closed before the RST: Zeek keeps CLOSED on a RST after a FIN exchange.
        #expect(r.connState == .SF)
        #expect(r.history == "ShAFfR")
    }

    @Test func simultaneousOpen() throws {
        var w = Wire()
        let r = try #require(one([
            w.tcp(fromClient: true, [.syn], seq: 100),
            w.tcp(fromClient: false, [.syn], seq: 500),
            w.tcp(fromClient: true, [.syn, .ack], seq: 100, ack: 501),
            w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101),
            w.tcp(fromClient: true, [.ack, .psh], seq: 101, ack: 501, payload: bytes("a")),
        ]))
        #expect(r.count(of: "tcp.simultaneous_open") == 1)
        #expect(r.connState == .S1)
        #expect(r.history == "SsHhD")
    }

    @Test func synWithDataIsDelivered() throws {
        var w = Wire()
        let sink = run([w.tcp(fromClient: true, [.syn], seq: 100, payload: bytes("tfo")),
                        w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 104),
                        w.tcp(fromClient: true, [.ack, .psh], seq: 104, ack: 501, payload: bytes("!"))])
        let r = try #require(sink.closed.first)
        #expect(r.count(of: "tcp.syn_with_data") == 1)
        #expect(sink.text(.forward) == "tfo!")
        #expect(sink.gaps.isEmpty)
    }

    @Test func portReuseStartsANewFlow() throws {
        var w = Wire()
        var packets = normalConnection(&w)
        packets.append(w.tcp(fromClient: true, [.syn], seq: 777_777, dt: 2))
        let sink = run(packets)
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].closeReason == .portReuse)
        #expect(sink.closed[0].connState == .SF)
        #expect(sink.closed[1].connState == .S0)
        #expect(sink.closed[1].id == 2)
        #expect(sink.order == ["open1", "close1", "open2", "close2"])
    }

    @Test func sameSynAfterCloseIsARetransmissionNotReuse() throws {
        var w = Wire()
        var packets = normalConnection(&w)
        packets.append(w.tcp(fromClient: true, [.syn], seq: 1000, dt: 0.5))
        let sink = run(packets)
        #expect(sink.closed.count == 1)
        #expect(sink.closed[0].count(of: "tcp.packet_after_close") == 1)
    }

    @Test func handshakeTiming() throws {
        var w = Wire()
        let r = try #require(one([w.tcp(fromClient: true, [.syn], seq: 1),
                                  w.tcp(fromClient: false, [.syn, .ack], seq: 9, ack: 2, dt: 0.050),
                                  w.tcp(fromClient: true, [.ack], seq: 2, ack: 10, dt: 0.010)]))
        let a = try #require(r.handshake.synToSynAck), b = try #require(r.handshake.synAckToAck)
        #expect(abs(a - 0.050) < 1e-6)
        #expect(abs(b - 0.010) < 1e-6)
    }

    @Test func scaledHistoryLettersAndFlagLetters() throws {
        var w = Wire()
        var packets = established(&w)
        let data = bytes("0123456789")
        packets.append(w.tcp(fromClient: true, [.ack], seq: 101, ack: 501, payload: data))
        for _ in 0..<10 { packets.append(w.tcp(fromClient: true, [.ack], seq: 101, ack: 501, payload: data)) }
        packets.append(w.tcp(fromClient: false, [.ack], seq: 501, ack: 111, window: 0))
        packets.append(w.tcp(fromClient: true, [.ack], seq: 111, ack: 501, checksum: .bad))
        packets.append(w.tcp(fromClient: false, [.fin, .rst], seq: 501))
        let r = try #require(one(packets))
        // D, then T at the 1st and 10th retransmission, a and w (zero window), C, i.
        #expect(r.history == "ShADTTawCi")
        #expect(r.forward.retransmittedSegments == 10)
        #expect(r.forward.retransmittedBytes == 100)
        #expect(r.reverse.zeroWindows == 1)
        #expect(r.count(of: "tcp.bad_checksum") == 1)
        #expect(r.count(of: "tcp.fin_rst") == 1)
    }

    @Test func resetEvidence() throws {
        var w = Wire()
        var packets = [w.tcp(fromClient: true, [.syn], seq: 100, wscale: 7),
                       w.tcp(fromClient: false, [.syn, .ack], seq: 500, ack: 101, wscale: 8),
                       w.tcp(fromClient: true, [.ack], seq: 101, ack: 501, window: 100)]
        // Client advertises 100 << 7 = 12800 bytes: a RST 10000 ahead is inside, 20000 ahead is outside.
        packets.append(w.tcp(fromClient: false, [.rst], seq: 501 + 10_000, ttl: 40))
        packets.append(w.tcp(fromClient: false, [.rst], seq: 501 + 20_000, ttl: 40))
        packets.append(w.tcp(fromClient: false, [.ack, .psh], seq: 501, ack: 101, payload: bytes("real")))
        let sink = run(packets)
        #expect(sink.resets.count == 2)
        #expect(sink.resets[0].inWindow == true)
        #expect(sink.resets[0].seqOffset == 10_000)
        #expect(sink.resets[0].segment.ttl == 40)
        #expect(sink.resets[1].inWindow == false)
        let r = try #require(sink.closed.first)
        #expect(r.count(of: "tcp.rst_out_of_window") == 1)
        #expect(r.count(of: "stream.data_after_reset") == 1)
        #expect(r.forward.windowScale == 7 && r.reverse.windowScale == 8)
        #expect(sink.text(.reverse) == "real")
    }
}
