import Testing
import KZWire
@testable import KZFlow

@Suite struct FlowTableTests {
    @Test func udpRolesAndDatagrams() throws {
        var w = Wire()
        w.sport = 53
        let sink = run([w.udp(fromClient: true, payload: [1, 2, 3]), w.udp(fromClient: false, payload: [4, 5])])
        let r = try #require(sink.closed.first)
        #expect(r.connState == .SF)
        #expect(r.history == "Dd")
        #expect(r.roleSource == .ports)
        #expect(r.responder.port == 53)
        #expect(sink.datagrams.map(\.0) == [.forward, .reverse])
        #expect(sink.datagrams.map(\.1) == [[1, 2, 3], [4, 5]])
        #expect(r.forward.payloadBytes == 3 && r.reverse.payloadBytes == 2)
    }

    @Test func udpResponseOnlyIsSHRAndFlipped() throws {
        var w = Wire()
        w.sport = 53
        let r = try #require(run([w.udp(fromClient: false, payload: [9])]).closed.first)
        #expect(r.connState == .SHR)
        #expect(r.history == "^d")
        #expect(r.originator.port == 40000)
    }

    @Test func udpBadChecksum() throws {
        var w = Wire()
        w.sport = 53
        let r = try #require(run([w.udp(fromClient: true, payload: [1], checksum: .bad)]).closed.first)
        #expect(r.history == "DC")
        #expect(r.count(of: "udp.bad_checksum") == 1)
    }

    @Test func icmpEchoRequestAndReplyShareAFlow() throws {
        var w = Wire()
        let sink = run([w.icmpEcho(request: true, id: 77, seq: 1), w.icmpEcho(request: false, id: 77, seq: 1),
                        w.icmpEcho(request: true, id: 78, seq: 1)])
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].roleSource == .icmpEcho)
        #expect(sink.closed[0].forward.packets == 1 && sink.closed[0].reverse.packets == 1)
        #expect(sink.icmps.map(\.direction) == [.forward, .reverse, .forward])
    }

    @Test func vlanSeparatesFlows() {
        var a = Wire(), b = Wire()
        b.vlan = 20
        let sink = run([a.udp(fromClient: true, payload: [1]), b.udp(fromClient: true, payload: [1])])
        #expect(sink.closed.count == 2)
        #expect(Set(sink.closed.map(\.vlan)) == [0, 20])
    }

    @Test func udpIdleTimeout() {
        var w = Wire()
        w.sport = 123
        let sink = run([w.udp(fromClient: true, payload: [1]), w.udp(fromClient: true, payload: [1], dt: 30),
                        w.udp(fromClient: true, payload: [1], dt: 61)])
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].closeReason == .idle)
        #expect(sink.closed[0].forward.packets == 2)
        #expect(sink.closed[1].closeReason == .finish)
    }

    /// UDP to port 53 idles out after `dnsTimeout` (10 s, Zeek's dns_session_timeout), other UDP after 60 s.
    @Test func dnsFlowsIdleOutAfterTenSeconds() {
        var w = Wire()
        w.sport = 53
        let sink = run([w.udp(fromClient: true, payload: [1]), w.udp(fromClient: true, payload: [1], dt: 9),
                        w.udp(fromClient: true, payload: [1], dt: 11)])
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].closeReason == .idle)
        #expect(sink.closed[0].forward.packets == 2)
        #expect(sink.closed[1].closeReason == .finish)
    }

    @Test func closedTcpLingersTenSeconds() {
        var w = Wire()
        var late = normalConnection(&w)
        late.append(w.tcp(fromClient: false, [.rst], seq: 9999, dt: 5))      // joins the closed flow
        late.append(w.tcp(fromClient: false, [.ack], seq: 9999, ack: 1, dt: 11))   // a new, mid-stream flow
        let sink = run(late)
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].closeReason == .idle)
        #expect(sink.closed[0].reverse.resets == 1)
        #expect(sink.closed[1].connState == .OTH)
    }

    @Test func halfOpenTimesOutAfterSixtySeconds() {
        var w = Wire()
        let sink = run([w.tcp(fromClient: true, [.syn], seq: 1), w.tcp(fromClient: true, [.syn], seq: 1, dt: 59),
                        w.tcp(fromClient: true, [.syn], seq: 1, dt: 61)])
        #expect(sink.closed.count == 2)
        #expect(sink.closed[0].forward.packets == 2)
    }

    @Test func evictionUnderTheFlowCap() {
        var limits = FlowLimits()
        limits.maxFlows = 10
        var table = FlowTable(limits: limits)
        var sink = RecordingSink()
        for i in 0..<25 {
            var w = Wire()
            w.cport = UInt16(30000 + i)
            w.clock += Double(i)
            table.feed(w.udp(fromClient: true, payload: [UInt8(i)]), &sink)
            #expect(table.activeFlows <= 10)
        }
        #expect(table.stats.evicted == 15)
        // The least recently active flows went first.
        #expect(sink.closed.map(\.originator.port) == (0..<15).map { UInt16(30000 + $0) })
        #expect(sink.closed.allSatisfy { $0.closeReason == .evicted })
        table.finish(into: &sink)
        #expect(sink.closed.count == 25)
        #expect(table.activeFlows == 0)
    }

    @Test func evictionPrefersClosedConnections() {
        var limits = FlowLimits()
        limits.maxFlows = 2
        var table = FlowTable(limits: limits)
        var sink = RecordingSink()
        var a = Wire(), b = Wire(), c = Wire()
        b.cport = 40001; c.cport = 40002
        b.clock -= 1                     // b is older but still open
        table.feed(b.tcp(fromClient: true, [.syn], seq: 1), &sink)
        table.feed(normalConnection(&a), &sink)
        table.feed(c.tcp(fromClient: true, [.syn], seq: 1), &sink)
        #expect(sink.closed.count == 1)
        #expect(sink.closed[0].originator.port == 40000)
        #expect(sink.closed[0].closeReason == .evicted)
    }

    @Test func manyTinyFlowsStayWithinCaps() {
        var limits = FlowLimits()
        limits.maxFlows = 1000
        limits.maxSegmentRecordsTotal = 3000
        var table = FlowTable(limits: limits)
        var sink = NullCountingSink()
        var w = Wire()
        for i in 0..<20_000 {
            w.client = "10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)"
            let c = w.client
            _ = c
            let syn = w.tcp(fromClient: true, [.syn], seq: UInt32(i))
            let synack = w.tcp(fromClient: false, [.syn, .ack], seq: 7, ack: UInt32(i) &+ 1)
            let req = w.tcp(fromClient: true, [.ack, .psh], seq: UInt32(i) &+ 1, ack: 8, payload: [1, 2, 3])
            for t in [syn, synack, req] { t.bytes.withUnsafeBytes { table.process(t.packet, frame: $0, into: &sink) } }
            if table.activeFlows > 1000 || table.stats.segmentRecords > 3000 { sink.violations += 1 }
        }
        table.finish(into: &sink)
        #expect(sink.violations == 0)
        #expect(sink.closed == 20_000)
        #expect(sink.streamBytes == 60_000)
        #expect(table.stats.evicted == 19_000)
        #expect(table.stats.segmentRecords == 0)
        #expect(table.stats.retainedBytes == 0)
    }

    @Test func nonIPAndFragmentsAreLeftAlone() {
        var table = FlowTable()
        var sink = RecordingSink()
        let arp = DecodedPacket(frame: 1, timestamp: Timestamp(nanoseconds: 1), capturedLength: 42, wireLength: 42,
                                linkType: .ethernet)
        table.process(arp, frame: UnsafeRawBufferPointer(start: nil, count: 0), into: &sink)
        var w = Wire()
        var frag = w.udp(fromClient: true, payload: [1])
        frag.packet.flags.insert(.fragment)
        table.feed(frag, &sink)
        #expect(table.stats.nonIP == 1)
        #expect(table.stats.fragments == 1)
        #expect(table.activeFlows == 0)
    }

    @Test func payloadBoundsNeverExceedTheFrame() {
        var w = Wire()
        var t = w.udp(fromClient: true, payload: [1, 2])
        t.packet.payloadOffset = 1
        t.packet.payloadLength = 500
        let sink = run([t])
        #expect(sink.datagrams.first?.1 == [2])
    }
}

/// Counts without keeping anything (for volume tests).
struct NullCountingSink: FlowEventSink {
    var closed = 0
    var streamBytes = 0
    var violations = 0
    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) { streamBytes += chunk.bytes.count }
    mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord) { closed += 1 }
}

@Suite struct BudgetTests {
    @Test func retainedBytesStayWithinTheGlobalBudget() throws {
        var limits = FlowLimits()
        limits.retainedBytesPerDirection = 512
        limits.maxRetainedBytesTotal = 1024
        var table = FlowTable(limits: limits)
        var sink = RecordingSink()
        let body = [UInt8](repeating: 0x61, count: 600)
        for i in 0..<4 {
            var w = Wire()
            w.cport = UInt16(41000 + i)
            table.feed([w.tcp(fromClient: true, [.syn], seq: 10), w.tcp(fromClient: false, [.syn, .ack], seq: 50, ack: 11),
                        w.tcp(fromClient: true, [.ack], seq: 11, ack: 51, payload: body),
                        w.tcp(fromClient: true, [.ack], seq: 11, ack: 51, payload: body)], &sink)
            #expect(table.stats.retainedBytes <= 1024)
        }
        table.finish(into: &sink)
        #expect(table.stats.retainedBytes == 0)
        // Early flows compared their retransmission within their 512-byte ring (the last 512 bytes) and the 64-byte
        // stream head every direction keeps; later ones only within the head.
        #expect(sink.closed[0].forward.retransmittedBytes == 512 + 64)
        #expect(sink.closed[0].forward.uncheckedOverlapBytes == 88 - 64)
        #expect(sink.closed[3].forward.retransmittedBytes == 64)
        #expect(sink.closed[3].forward.uncheckedOverlapBytes == 600 - 64)
    }

    /// After the last packet nothing compares with delivered bytes: `finish` first lets go of every ring and span
    /// (`releaseDeliveredState`), then closes the flows as before: buffered bytes behind a hole still come out after
    /// the gap, and the records keep what the comparisons counted while packets arrived.
    @Test func finishLetsGoOfRingsAndSpansFirst() throws {
        var table = FlowTable()
        var sink = RecordingSink()
        var w = Wire()
        let body = [UInt8](repeating: 0x62, count: 300)
        table.feed([w.tcp(fromClient: true, [.syn], seq: 10), w.tcp(fromClient: false, [.syn, .ack], seq: 50, ack: 11),
                    w.tcp(fromClient: true, [.ack], seq: 11, ack: 51, payload: body),
                    w.tcp(fromClient: true, [.ack], seq: 11, ack: 51, payload: body),        // retransmitted: checked
                    w.tcp(fromClient: true, [.ack], seq: 411, ack: 51, payload: [0x63, 0x64])], &sink) // behind a hole
        #expect(table.stats.retainedBytes > 0)
        #expect(table.budget.spans.chunksInUse > 0)
        #expect(table.stats.bufferedBytes == 2)
        table.releaseDeliveredState()
        #expect(table.stats.retainedBytes == 0)
        #expect(table.budget.spans.chunksInUse == 0)
        table.finish(into: &sink)
        #expect(table.stats.retainedBytes == 0 && table.stats.bufferedBytes == 0)
        #expect(sink.gaps.count == 1 && sink.gaps.first?.length == 100)
        #expect(sink.stream[.forward] == body + [UInt8](repeating: UInt8(ascii: "?"), count: 100) + [0x63, 0x64])
        #expect(sink.closed.count == 1)
        #expect(sink.closed[0].forward.retransmittedBytes == 300)
        #expect(sink.closed[0].forward.uncheckedOverlapBytes == 0)
    }

    /// `keepSegmentRecords = false` (the `flows` view) drops only the segment records: every other field of every
    /// record, and every event, is what the default run produces.
    @Test func segmentRecordsOffChangesNothingElse() throws {
        var w = Wire()
        let packets = normalConnection(&w) + normalConnection(&w, request: "POST / HTTP/1.1\r\n\r\nbody")
        let with = run(packets)
        var limits = FlowLimits()
        limits.keepSegmentRecords = false
        let without = run(packets, limits: limits)
        #expect(!with.closed.isEmpty && with.closed.count == without.closed.count)
        #expect(with.closed.allSatisfy { !$0.forward.segments.isEmpty && !$0.reverse.segments.isEmpty })
        #expect(without.closed.allSatisfy { $0.forward.segments.isEmpty && $0.reverse.segments.isEmpty })
        for (a, b) in zip(with.closed, without.closed) {
            var a = a
            a.directions[0].segments = []
            a.directions[1].segments = []
            #expect(a == b)
        }
        #expect(with.order == without.order)
    }

    /// TCP state lives out of the slot and is reused: flows that close and make room for new ones (UDP among them)
    /// must each get a record equal to the one they get alone in a fresh table, except for flow ids.
    @Test func reusedTCPStateLeaksNothingBetweenFlows() throws {
        var all: [TestPacket] = []
        var alone: [[TestPacket]] = []
        for i in 0..<12 {
            var w = Wire()
            w.cport = UInt16(41000 + i)
            w.clock += Double(i) * 30          // each closed connection idles out before the next ones
            var ps: [TestPacket]
            switch i % 3 {
            case 0: ps = normalConnection(&w, response: "HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "z", count: i * 100))
            case 1:
                ps = [w.tcp(fromClient: true, [.syn], seq: 7), w.tcp(fromClient: false, [.rst, .ack], seq: 0, ack: 8)]
            default:
                ps = [w.udp(fromClient: true, payload: bytes("q\(i)")), w.udp(fromClient: false, payload: bytes("a"))]
            }
            alone.append(ps)
            all += ps
        }
        // Renumber frames so the combined run and the lone runs see the same frame numbers.
        var frame = 0
        for k in all.indices { frame += 1; all[k].packet.frame = frame }
        frame = 0
        for j in alone.indices { for k in alone[j].indices { frame += 1; alone[j][k].packet.frame = frame } }
        var limits = FlowLimits()
        limits.tcpClosedTimeout = 5
        limits.udpTimeout = 5
        let together = run(all, limits: limits).closed
        let separate = alone.flatMap { run($0, limits: limits).closed }
        #expect(together.count == 12 && separate.count == 12)
        for (a, b) in zip(together.sorted { $0.firstFrame < $1.firstFrame }, separate) {
            var a = a, b = b
            a.id = 0; b.id = 0
            a.closeReason = .finish; b.closeReason = .finish
            #expect(a == b)
        }
    }
}
