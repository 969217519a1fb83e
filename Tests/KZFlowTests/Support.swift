import KZFlow
import KZWire

/// A value of a trivially copyable KZWire summary type whose memberwise initializer is internal to KZWire: zeroed
/// memory, then every field the test needs is set through the public setters.
func zeroed<T>(_: T.Type = T.self) -> T {
    precondition(_isPOD(T.self))
    let p = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
    defer { p.deallocate() }
    p.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
    return p.load(as: T.self)
}

func addr(_ s: String) -> IPAddress { IPAddress(s)! }

/// A synthetic packet: summary plus frame bytes (`payloadOffset` 0 → the payload is the whole "frame").
struct TestPacket {
    var packet: DecodedPacket
    var bytes: [UInt8]
}

func ipSummary(src: String, dst: String, proto: IPProtocol, ttl: UInt8, ipID: UInt32, payload: Int) -> IPSummary {
    var ip = zeroed(IPSummary.self)
    let s = addr(src), d = addr(dst)
    ip.version = s.isV6 ? 6 : 4
    ip.src = s
    ip.dst = d
    ip.ttl = ttl
    ip.ipID = ipID
    ip.df = true
    ip.proto = proto
    ip.headerLength = s.isV6 ? 40 : 20
    ip.totalLength = UInt16(truncatingIfNeeded: Int(ip.headerLength) + 20 + payload)
    ip.headerChecksum = .good
    ip.moreFragments = false
    ip.isFragment = false
    ip.hasFragmentHeader = false
    ip.hasOptions = false
    return ip
}

/// Builds TCP packets of one connection with an auto-incremented frame number and clock.
struct Wire {
    var frame = 0
    var clock: Double = 1_700_000_000
    var client = "10.0.0.1", server = "93.184.216.34"
    var cport: UInt16 = 40000, sport: UInt16 = 80
    var vlan: UInt16 = 0

    mutating func tcp(fromClient: Bool, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, payload: [UInt8] = [],
                      window: UInt16 = 65535, ttl: UInt8 = 64, ipID: UInt32 = 0, wscale: UInt8? = nil,
                      mss: UInt16? = nil, checksum: ChecksumStatus = .good, declared: Int? = nil,
                      dt: Double = 0.001) -> TestPacket {
        frame += 1
        clock += dt
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(clock * 1e9)),
                              capturedLength: payload.count + 54, wireLength: payload.count + 54, linkType: .ethernet)
        let len = declared ?? payload.count
        p.ip = ipSummary(src: fromClient ? client : server, dst: fromClient ? server : client, proto: .tcp, ttl: ttl,
                         ipID: ipID, payload: len)
        var t = zeroed(TCPSummary.self)
        t.srcPort = fromClient ? cport : sport
        t.dstPort = fromClient ? sport : cport
        t.seq = seq
        t.ack = ack
        t.flags = flags
        t.window = window
        t.headerLength = 20
        var o = TCPOptionsSummary()
        o.windowScale = wscale
        o.mss = mss
        t.options = o
        t.checksum = checksum
        p.transport = .tcp(t)
        p.payloadOffset = 0
        p.payloadLength = len
        if vlan != 0 { p.vlanCount = 1; p.vlanIDs.0 = vlan }
        return TestPacket(packet: p, bytes: payload)
    }

    mutating func udp(fromClient: Bool, payload: [UInt8], dt: Double = 0.001, ttl: UInt8 = 64,
                      checksum: ChecksumStatus = .good) -> TestPacket {
        frame += 1
        clock += dt
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(clock * 1e9)),
                              capturedLength: payload.count + 42, wireLength: payload.count + 42, linkType: .ethernet)
        var ip = ipSummary(src: fromClient ? client : server, dst: fromClient ? server : client, proto: .udp,
                           ttl: ttl, ipID: 0, payload: payload.count)
        ip.totalLength = UInt16(ip.headerLength) + 8 + UInt16(payload.count)
        p.ip = ip
        var u = zeroed(UDPSummary.self)
        u.srcPort = fromClient ? cport : sport
        u.dstPort = fromClient ? sport : cport
        u.length = UInt16(8 + payload.count)
        u.checksum = checksum
        p.transport = .udp(u)
        p.payloadLength = payload.count
        if vlan != 0 { p.vlanCount = 1; p.vlanIDs.0 = vlan }
        return TestPacket(packet: p, bytes: payload)
    }

    mutating func icmpEcho(request: Bool, id: UInt16, seq: UInt16, dt: Double = 0.001) -> TestPacket {
        frame += 1
        clock += dt
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(clock * 1e9)),
                              capturedLength: 98, wireLength: 98, linkType: .ethernet)
        p.ip = ipSummary(src: request ? client : server, dst: request ? server : client, proto: .icmp, ttl: 64,
                         ipID: 0, payload: 36)
        var m = zeroed(ICMPSummary.self)
        m.isV6 = false
        m.type = request ? 8 : 0
        m.code = 0
        m.checksum = .good
        m.echoID = id
        m.echoSeq = seq
        m.quoted = nil
        p.transport = .icmp(m)
        p.payloadLength = 0
        return TestPacket(packet: p, bytes: [])
    }
}

/// Records every event, copying borrowed bytes.
struct RecordingSink: FlowEventSink {
    var opened: [FlowContext] = []
    var stream: [FlowDirection: [UInt8]] = [:]
    var chunks: [(direction: FlowDirection, offset: UInt64, count: Int, frame: FrameNumber)] = []
    var gaps: [StreamGap] = []
    var ends: [(FlowDirection, StreamEndReason)] = []
    var conflicts: [OverlapConflict] = []
    var resets: [ResetEvent] = []
    var segments = 0
    var datagrams: [(FlowDirection, [UInt8])] = []
    var icmps: [ICMPMessage] = []
    var closed: [FlowRecord] = []
    /// Event names in order, for ordering checks.
    var order: [String] = []

    mutating func flowOpened(_ flow: FlowContext, frame: FrameNumber, timestamp: Timestamp) {
        opened.append(flow); order.append("open\(flow.id)")
    }
    mutating func tcpSegment(_ flow: FlowContext, _ segment: SegmentRecord) { segments += 1 }
    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) {
        stream[chunk.direction, default: []].append(contentsOf: chunk.bytes)
        chunks.append((chunk.direction, chunk.offset, chunk.bytes.count, chunk.frame))
    }
    mutating func streamGap(_ flow: FlowContext, _ gap: StreamGap) {
        gaps.append(gap)
        // Mark missing bytes so stream content checks see where the gap was.
        stream[gap.direction, default: []].append(contentsOf: [UInt8](repeating: UInt8(ascii: "?"), count: gap.length))
    }
    mutating func streamEnd(_ flow: FlowContext, direction: FlowDirection, offset: UInt64, reason: StreamEndReason) {
        ends.append((direction, reason))
    }
    mutating func overlapConflict(_ flow: FlowContext, _ conflict: OverlapConflict) { conflicts.append(conflict) }
    mutating func tcpReset(_ flow: FlowContext, _ reset: ResetEvent) { resets.append(reset) }
    mutating func datagram(_ flow: FlowContext, _ datagram: Datagram) {
        datagrams.append((datagram.direction, Array(datagram.payload)))
    }
    mutating func icmp(_ flow: FlowContext, _ message: ICMPMessage) { icmps.append(message) }
    mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord) {
        closed.append(record); order.append("close\(flow.id)")
    }

    func text(_ d: FlowDirection) -> String { String(decoding: stream[d] ?? [], as: UTF8.self) }
}

extension FlowTable {
    mutating func feed(_ t: TestPacket, _ sink: inout RecordingSink) {
        t.bytes.withUnsafeBytes { process(t.packet, frame: $0, into: &sink) }
    }
    mutating func feed(_ ts: [TestPacket], _ sink: inout RecordingSink) {
        for t in ts { feed(t, &sink) }
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Runs packets through a fresh table and finishes it; returns the sink.
func run(_ packets: [TestPacket], limits: FlowLimits = FlowLimits()) -> RecordingSink {
    var table = FlowTable(limits: limits)
    var sink = RecordingSink()
    table.feed(packets, &sink)
    table.finish(into: &sink)
    return sink
}

/// A full client/server exchange: handshake, request, response, FIN/FIN.
func normalConnection(_ w: inout Wire, request: String = "GET / HTTP/1.1\r\n\r\n",
                      response: String = "HTTP/1.1 200 OK\r\n\r\nhello") -> [TestPacket] {
    let c: UInt32 = 1000, s: UInt32 = 5000
    let rq = bytes(request), rs = bytes(response)
    var out: [TestPacket] = []
    out.append(w.tcp(fromClient: true, [.syn], seq: c))
    out.append(w.tcp(fromClient: false, [.syn, .ack], seq: s, ack: c + 1))
    out.append(w.tcp(fromClient: true, [.ack], seq: c + 1, ack: s + 1))
    out.append(w.tcp(fromClient: true, [.ack, .psh], seq: c + 1, ack: s + 1, payload: rq))
    out.append(w.tcp(fromClient: false, [.ack, .psh], seq: s + 1, ack: c + 1 + UInt32(rq.count), payload: rs))
    out.append(w.tcp(fromClient: true, [.ack, .fin], seq: c + 1 + UInt32(rq.count), ack: s + 1 + UInt32(rs.count)))
    out.append(w.tcp(fromClient: false, [.ack, .fin], seq: s + 1 + UInt32(rs.count),
                     ack: c + 2 + UInt32(rq.count)))
    out.append(w.tcp(fromClient: true, [.ack], seq: c + 2 + UInt32(rq.count), ack: s + 2 + UInt32(rs.count)))
    return out
}
