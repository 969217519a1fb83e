import KZDetect
import KZWire
import Testing

@Suite("ip.ttl_anomaly")
struct TTLAnomalyTests {
    /// Client-side HTTP flow; the server (TTL 52) answers at 0.101. `extra` adds packets before the real answer.
    static func flow(_ extra: (inout TCPFlowBuilder) -> Void, realAnswer: Bool = true) -> TCPFlowEvent {
        var b = TCPFlowBuilder(serverPort: 80)
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 120, ttl: 64, id: 0x1002)
        extra(&b)
        if realAnswer {
            b.add(.server, 0.101, [.ack, .psh], seq: 1, ack: 121, len: 1400, ttl: 52, id: 0x5000, window: 501)
            b.add(.client, 0.102, [.ack], seq: 121, ack: 1401, ttl: 64, id: 0x1003)
        }
        return b.flow(synToSynAck: 0.05)
    }

    @Test func forgedDataRacingTheRealAnswerIsHigh() {
        let f = Self.flow { $0.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 200, ttl: 120, id: 0x0101, df: false, window: 8192, timestamps: false) }
        let fs = runDetector(TTLAnomalyDetector(), [.tcpFlow(f)])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedFrame == 5)
        #expect(fs.first?.injectedTTL == 120)
        #expect(fs.first?.peerTTL == 52)
        #expect(fs.first?.claimedSource == "93.184.216.34")
        #expect(fs.first.map { $0.frames.contains(6) } == true)   // the real copy
    }

    @Test func otherInitialTTLWithoutRaceIsMedium() {
        let f = Self.flow({ $0.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 200, ttl: 120, id: 0x0101, window: 8192) }, realAnswer: false)
        let fs = runDetector(TTLAnomalyDetector(), [.tcpFlow(f)])
        #expect(fs.first?.confidence == .medium)
    }

    @Test func sameBucketDistanceGapIsLow() {
        let f = Self.flow({ $0.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 200, ttl: 58, id: 0x0101) }, realAnswer: false)
        let fs = runDetector(TTLAnomalyDetector(), [.tcpFlow(f)])
        #expect(fs.first?.confidence == .low)
        #expect(fs.first?.evidence.contains { $0.fieldName == "ttl" } == true)
    }

    @Test func ttlCopiedFromTheTriggerIsNamed() {
        let f = Self.flow({ $0.add(.server, 0.056, [.ack, .psh], seq: 1, ack: 121, len: 200, ttl: 63, id: 0x0101) }, realAnswer: false)
        let fs = runDetector(TTLAnomalyDetector(), [.tcpFlow(f)])
        #expect(fs.count == 1)
        #expect(fs.first?.evidence.contains { if case .note(let n) = $0 { n.contains("copy the TTL") } else { false } } == true)
    }

    @Test func withinToleranceIsNothing() {
        let f = Self.flow({ $0.add(.server, 0.056, [.ack], seq: 1, ack: 121, ttl: 50, id: 0x0101) }, realAnswer: true)
        #expect(runDetector(TTLAnomalyDetector(), [.tcpFlow(f)]).isEmpty)
    }

    @Test func persistentRouteChangeIsNothing() {
        var b = TCPFlowBuilder()
        b.handshake()
        b.add(.client, 0.051, [.ack, .psh], seq: 1, ack: 1, len: 100, ttl: 64, id: 0x1002)
        for k in 0..<12 {
            b.add(.server, 1.0 + Double(k) * 0.01, [.ack], seq: 1 + UInt32(k) * 1000, ack: 101, len: 1000, ttl: 47, id: 0x6000 + UInt32(k))
        }
        #expect(runDetector(TTLAnomalyDetector(), [.tcpFlow(b.flow())]).isEmpty)
    }

    @Test func resetsAndFINsAreLeftToTheInjectionDetectors() {
        let f = Self.flow({ b in
            b.add(.server, 0.056, [.ack, .rst], seq: 1, ack: 121, ttl: 120, id: 0x0101, timestamps: false)
            b.add(.server, 0.057, [.ack, .fin], seq: 1, ack: 121, ttl: 120, id: 0x0102, timestamps: false)
        }, realAnswer: true)
        #expect(runDetector(TTLAnomalyDetector(), [.tcpFlow(f)]).isEmpty)
        #expect(!runDetector(RSTInjectionDetector(), [.tcpFlow(f)]).isEmpty)
    }

    @Test func localSideTTLLimitedProbesAreNothing() {
        // The client's handshake TTL is exactly 64 (capture on the client): its TTL-5 data is a deliberate probe.
        let f = Self.flow({ $0.add(.client, 0.06, [.ack, .psh], seq: 121, ack: 1, len: 50, ttl: 5, id: 0x1003) }, realAnswer: false)
        #expect(runDetector(TTLAnomalyDetector(), [.tcpFlow(f)]).isEmpty)
    }

    @Test func normalBrowsingIsNothing() {
        #expect(runDetector(TTLAnomalyDetector(), [.tcpFlow(Self.flow { _ in })]).isEmpty)
    }
}
