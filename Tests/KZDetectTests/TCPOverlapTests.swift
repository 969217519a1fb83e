import KZDetect
import KZWire
import Testing

@Suite("tcp.overlap_conflict")
struct TCPOverlapTests {
    static func flow(injectedTTL: UInt8) -> TCPFlowEvent {
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 120, ttl: 64, id: 0x1002)
        b.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 300, ttl: injectedTTL, id: 0x0101)      // frame 5
        b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 121, len: 1400, ttl: 52, id: 0x5000)             // frame 6
        let conflict = OverlapConflictEvent(side: .server, firstFrame: 5, secondFrame: 6, seqStart: b.serverISN &+ 1, length: 300)
        return b.flow(overlaps: [conflict])
    }

    @Test func conflictWithOddTTLIsHighAndNamesTheInjectedCopy() {
        let fs = runDetector(OverlapConflictDetector(), [.tcpFlow(Self.flow(injectedTTL: 120))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedFrame == 5)
        #expect(fs.first?.injectedTTL == 120)
        #expect(fs.first?.evidence.contains(.overlapConflict(first: 5, second: 6, seqStart: 3_000_000_001, length: 300)) == true)
        #expect(fs.first?.frames == [2, 5, 6])
    }

    @Test func conflictAloneIsMedium() {
        let fs = runDetector(OverlapConflictDetector(), [.tcpFlow(Self.flow(injectedTTL: 52))])
        #expect(fs.first?.confidence == .medium)
        #expect(fs.first?.injectedFrame == 5)
    }

    @Test func noConflictIsNothing() {
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.server, 0.1, [.ack, .psh], seq: 1, ack: 1, len: 100, ttl: 52, id: 1)
        b.add(.server, 0.3, [.ack, .psh], seq: 1, ack: 1, len: 100, ttl: 52, id: 2)   // identical retransmission
        #expect(runDetector(OverlapConflictDetector(), [.tcpFlow(b.flow())]).isEmpty)
    }
}
