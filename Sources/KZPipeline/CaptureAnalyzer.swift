import KZCapture
import KZDetect
import KZFlow
import KZProtocols
import KZWire

/// What one capture yielded besides findings.
public struct CaptureResult: Sendable {
    public var path: String
    public var format: String
    public var linkTypes: [String]
    public var accounting = PacketAccounting()
    public var firstTs: Timestamp?
    public var lastTs: Timestamp?
    /// nil when read to the end; the error otherwise (frames before it were analysed).
    public var error: CaptureError?
    /// The file could not be opened or is not a capture: nothing was analysed.
    public var unreadable = false
    public var filteredOut = 0
    public var flows = (tcp: 0, udp: 0, other: 0)
    public var anomalies: [String: (count: Int, first: FrameNumber)] = [:]
    /// Decoded packets kept for path analysis (TTL sweeps, traceroutes), chosen by `PathPacketKeeper` and capped by
    /// `AnalysisOptions.maxPathPackets`.
    public var pathPackets: [DecodedPacket] = []
    public var pathPacketsTruncated = false
    /// Undecided connections the keeper evicted to stay within its caps.
    public var pathPendingEvicted = 0
    /// Leading bytes (≤ 4 KiB) of kept frames that carry payload, ICMP or IP options (for sweeps that judge responses
    /// by content, record-route and quoted headers), within a 32 MiB budget.
    public var payloads: [FrameNumber: [UInt8]] = [:]
    public var dnsTransactions: [DNSTransactionEvent] = []
    public var flowRecords: [FlowRecord] = []
    public var httpRows: [HTTPViewRow] = []
    public var tlsRows: [TLSViewRow] = []
}

/// Runs one capture through decode → defragmentation → flow table → parsers, streaming detector events to `observe`.
public enum CaptureAnalyzer {
    public static func run(path: String, options: AnalysisOptions, filter: BPFFilter?,
                           observe: (AnalysisEvent) -> Void) -> CaptureResult {
        let reader: CaptureReader
        do {
            reader = try CaptureReader(path: path, engine: options.engine)
        } catch {
            var r = CaptureResult(path: path, format: "unknown", linkTypes: [])
            r.error = error
            r.unreadable = true
            return r
        }
        var result = CaptureResult(path: path, format: reader.format.rawValue,
                                   linkTypes: Array(Set(reader.linkTypes.map(\.description))).sorted())
        let decoder = PacketDecoder()
        var table = FlowTable(limits: options.flowLimits)
        var defrag = IPDefragmenter()
        var sink = PipelineSink(capture: path, collectViews: options.collectViews)
        var acct = PacketAccounting()
        var first: Timestamp?
        var last: Timestamp?
        var keeperLimits = PathPacketKeeper.Limits()
        keeperLimits.maxKept = options.maxPathPackets
        var keeper = PathPacketKeeper(limits: keeperLimits)
        var filteredOut = 0
        var bytesRead = 0
        let progress = options.progress

        let end = reader.forEachFrame(filter: filter, filteredOut: &filteredOut) { f in
            let p = decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                   linkType: f.linkType)
            acct.count(p.status)
            bytesRead &+= f.capturedLength &+ 16
            if let progress, acct.frames & 0x3ffff == 0 {
                progress(path, acct.frames, bytesRead, sink.flowCounts.tcp + sink.flowCounts.udp + sink.flowCounts.other)
            }
            if first == nil { first = f.timestamp }
            last = f.timestamp
            guard p.ip != nil else { return }
            keeper.offer(p, bytes: f.bytes)
            if p.flags.contains(.fragment) {
                switch defrag.process(p, frame: f.bytes) {
                case .reassembled(let d):
                    for c in d.conflicts { sink.note("ip.fragment_overlap_conflict", frame: c.secondFrame) }
                    d.bytes.withUnsafeBytes { b in
                        let q = decoder.decodeDatagram(b, frame: d.lastFrame, timestamp: d.lastTimestamp)
                        if q.status.isOK { table.process(q, frame: b, into: &sink) }
                    }
                case .dropped(let reason):
                    sink.note(reason, frame: p.frame)
                case .notFragment:
                    table.process(p, frame: f.bytes, into: &sink)
                case .buffered:
                    break
                }
            } else if p.status.isOK || p.flags.contains(.snapTruncated) {
                table.process(p, frame: f.bytes, into: &sink)
            }
            if !sink.events.isEmpty {
                for e in sink.events { observe(e) }
                sink.events.removeAll(keepingCapacity: true)
            }
        }
        table.finish(into: &sink)
        defrag.finish()
        for d in defrag.takeDiscarded() { sink.note(d.reason, frame: d.fragmentFrames.first ?? 0) }
        for e in sink.events { observe(e) }
        sink.events.removeAll()
        result.dnsTransactions = sink.dns.finish()
        for t in result.dnsTransactions { observe(.dnsTransaction(t)) }
        if sink.dns.unsolicitedCount > 0, let f = sink.dns.unsolicited.first {
            sink.note("dns.unsolicited_response", frame: f.frame, count: sink.dns.unsolicitedCount)
        }
        let stats = table.stats
        if stats.evicted > 0 { sink.note("flow.evicted", frame: 0, count: stats.evicted) }
        keeper.finish()
        if keeper.pendingEvicted > 0 { sink.note("path.pending_evicted", frame: 0, count: keeper.pendingEvicted) }
        if keeper.truncated { sink.note("path.keep_cap", frame: 0) }

        if case .failed(let e) = end { result.error = e }
        result.accounting = acct
        result.firstTs = first
        result.lastTs = last
        result.filteredOut = filteredOut
        result.flows = sink.flowCounts
        result.anomalies = sink.anomalyCounts
        result.pathPackets = keeper.kept
        result.pathPacketsTruncated = keeper.truncated
        result.pathPendingEvicted = keeper.pendingEvicted
        result.payloads = keeper.payloads
        if options.collectViews {
            result.flowRecords = sink.flowRecords
            result.httpRows = sink.viewHTTP
            result.tlsRows = sink.viewTLS
        }
        return result
    }
}
