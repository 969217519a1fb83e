import KZDetect
import KZWire
import Testing

/// Every detector of this area over every truncated prefix of the example flows (a capture can end anywhere), with
/// sequence numbers near the 2^32 wrap, and with degenerate input: no crash, frames only from the input, stable output.
@Suite("TCP/IP detectors: truncation and wraparound")
struct TCPRobustnessTests {
    static func all(_ events: [AnalysisEvent]) -> [Finding] {
        runDetector(RSTInjectionDetector(), events) + runDetector(FINInjectionDetector(), events)
            + runDetector(TTLAnomalyDetector(), events) + runDetector(OverlapConflictDetector(), events)
            + runDetector(SYNDropDetector(), events) + runDetector(SNIBlockingDetector(), events)
            + runDetector(HTTPRequestDropDetector(), events) + runDetector(ThrottlingDetector(), events)
            + runDetector(ICMPUnreachableInjectionDetector(), events)
    }

    @Test func everyPrefixOfEveryExampleFlow() {
        let flows = [TCPRSTInjectionTests.tripwireTest1(), TCPFINInjectionTests.forgedBlockPage(realResponse: true),
                     TTLAnomalyTests.flow { _ in }]
        for flow in flows {
            for n in 0...flow.segments.count {
                var f = flow
                f.segments = Array(flow.segments.prefix(n))
                let frames = Set(f.segments.map(\.frame))
                let out = Self.all([.tcpFlow(f)])
                #expect(out.allSatisfy { Set($0.frames).isSubset(of: frames) })
                #expect(out.map(\.summary) == Self.all([.tcpFlow(f)]).map(\.summary))
            }
        }
    }

    @Test func sequenceWraparoundChangesNothing() {
        var near = TCPFlowBuilder()
        near.serverISN = UInt32.max - 700      // server data crosses 2^32
        near.clientISN = UInt32.max - 100      // the ClientHello crosses 2^32
        near.handshake()
        near.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 517, ttl: 64, id: 0x1002)
        near.add(.server, 0.101, [.ack], seq: 1, ack: 518, len: 1400, ttl: 52, id: 0x5000, window: 501)
        near.add(.client, 0.103, [.ack], seq: 518, ack: 1401, ttl: 64, id: 0x1003)
        var genuine = near
        genuine.add(.server, 0.4, [.ack, .rst], seq: 1401, ack: 518, ttl: 52, id: 0x5001, window: 0, timestamps: false)
        #expect(runDetector(RSTInjectionDetector(), [.tcpFlow(genuine.flow(synToSynAck: 0.05))]).isEmpty)
        var stale = near
        stale.add(.server, 0.4, [.ack, .rst], seq: 1, ack: 518, ttl: 52, id: 0x5001, window: 0, timestamps: false)
        let fs = runDetector(RSTInjectionDetector(), [.tcpFlow(stale.flow(synToSynAck: 0.05))])
        #expect(fs.first?.confidence == .medium)
    }

    @Test func degenerateInputIsHandled() {
        // Zero TTLs, zero windows, negative payload length, identical timestamps, a lone FIN/RST flow.
        var b = TCPFlowBuilder()
        b.add(.client, 0, [.fin, .rst, .syn, .ack], seq: 0, ack: 0, len: -5, ttl: 0, id: 0, window: 0)
        b.add(.server, 0, [.fin, .ack], seq: 0, ack: 0, ttl: 0, id: 0, window: 0)
        b.add(.server, 0, [.rst], seq: 0, ttl: 255, id: 0xffff_ffff, window: 0)
        let e = ICMPErrorEvent(capture: "x", frame: 99, time: b.time(0), source: b.server, destination: b.client, ttl: 0,
                               ipID: 0, isV6: true, type: 1, code: 4, quoted: nil)
        let out = Self.all([.tcpFlow(b.flow()), .icmpError(e), .udpFlow(UDPFlowEvent(capture: "x", client: b.client, clientPort: 1,
                                                                                        server: b.server, serverPort: 53, firstFrame: 1,
                                                                                        packetsClient: 1, packetsServer: 0))])
        #expect(out.allSatisfy { !$0.summary.isEmpty })
    }
}
