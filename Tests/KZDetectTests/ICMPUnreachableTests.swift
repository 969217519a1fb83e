import KZDetect
import KZWire
import Testing

@Suite("icmp.unreachable_injection")
struct ICMPUnreachableTests {
    static let client = IPAddress("10.0.0.2")!
    static let server = IPAddress("93.184.216.34")!

    static func icmp(frame: FrameNumber, from: String, ttl: UInt8, type: UInt8 = 3, code: UInt8, proto: UInt8 = 6,
                     dstPort: UInt16 = 443) -> ICMPErrorEvent {
        // QuotedPacket has no public memberwise init: build the quoted bytes (IPv4 header + 8 transport bytes).
        let c = client.v4Value, s = server.v4Value
        var bytes: [UInt8] = [0x45, 0, 0, 60, 0x10, 0x02, 0x40, 0, 1, proto, 0, 0]
        for v in [c, s] { bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
        bytes += [UInt8(51000 >> 8), UInt8(51000 & 0xff), UInt8(dstPort >> 8), UInt8(dstPort & 0xff), 0, 0, 0, 1]
        let q = bytes.withUnsafeBytes { PacketDecoder.decodeQuote($0) }
        return ICMPErrorEvent(capture: "synthetic.pcap", frame: frame, time: Timestamp(nanoseconds: 1_700_000_000_000_000_000),
                              source: IPAddress(from)!, destination: client, ttl: ttl, ipID: 0, isV6: false, type: type,
                              code: code, quoted: q)
    }

    /// The quoted flow: handshake answered by the server (TTL 52).
    static func flow() -> TCPFlowEvent {
        var b = TCPFlowBuilder()
        b.handshake()
        return b.flow(synToSynAck: 0.05)
    }

    /// Another client port to the same server, never answered (only a SYN).
    static func unansweredFlow() -> TCPFlowEvent {
        var b = TCPFlowBuilder(clientPort: 51000, firstFrame: 50)
        b.add(.client, 0, [.syn], seq: 0, ttl: 64, id: 1)
        return b.flow(connState: "S0")
    }

    @Test func claimingTheServerWithOddTTLWhileItAnsweredIsHigh() {
        let fs = runDetector(ICMPUnreachableInjectionDetector(), [.tcpFlow(Self.flow()),
                                                                 .icmpError(Self.icmp(frame: 9, from: "93.184.216.34", ttl: 120, code: 3))])
        #expect(fs.count == 1)
        #expect(fs.first?.confidence == .high)
        #expect(fs.first?.injectedFrame == 9)
        #expect(fs.first?.injectedTTL == 120)
        #expect(fs.first?.peerTTL == 52)
        #expect(fs.first?.evidence.contains { $0.fieldName == "ttl" } == true)
    }

    @Test func adminProhibitedFromRouterWhileServerReachableIsMedium() {
        var other = TCPFlowBuilder(clientPort: 51999, firstFrame: 100)
        other.handshake()
        let fs = runDetector(ICMPUnreachableInjectionDetector(), [.tcpFlow(Self.unansweredFlow()), .tcpFlow(other.flow()),
                                                                 .icmpError(Self.icmp(frame: 51, from: "10.20.30.1", ttl: 253, code: 13))])
        #expect(fs.first?.confidence == .medium)
        #expect(fs.first?.frames == [51, 101])
        #expect(fs.first?.claimedSource == "10.20.30.1")
    }

    @Test func adminProhibitedAloneIsLow() {
        let fs = runDetector(ICMPUnreachableInjectionDetector(), [.tcpFlow(Self.unansweredFlow()),
                                                                 .icmpError(Self.icmp(frame: 51, from: "10.20.30.1", ttl: 253, code: 13))])
        #expect(fs.maxConfidence == .low)
    }

    @Test func ordinaryUnreachablesAreNothing() {
        // Fragmentation needed (PMTU), a UDP port unreachable from the destination (traceroute's last hop), and a
        // host unreachable for a flow nobody answered.
        let events: [AnalysisEvent] = [
            .tcpFlow(Self.flow()),
            .icmpError(Self.icmp(frame: 9, from: "10.20.30.1", ttl: 253, code: 4)),
            .icmpError(Self.icmp(frame: 10, from: "93.184.216.34", ttl: 52, code: 3, proto: 17, dstPort: 33434)),
        ]
        #expect(runDetector(ICMPUnreachableInjectionDetector(), events).isEmpty)
        #expect(runDetector(ICMPUnreachableInjectionDetector(), [.tcpFlow(Self.unansweredFlow()),
                                                                .icmpError(Self.icmp(frame: 51, from: "10.20.30.1", ttl: 253, code: 1))]).isEmpty)
    }

    @Test func missingQuoteIsIgnored() {
        var e = Self.icmp(frame: 9, from: "10.20.30.1", ttl: 253, code: 13)
        e.quoted = nil
        #expect(runDetector(ICMPUnreachableInjectionDetector(), [.tcpFlow(Self.flow()), .icmpError(e)]).isEmpty)
    }
}
