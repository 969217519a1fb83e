import KZCapture
import KZDetect
import KZFlow
import KZProtocols
import KZSignatures
import KZWire
import Foundation
import Synchronization

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
    /// Every DNS transaction, in query order (only when views are collected; the detectors get them as events).
    public var dnsTransactions: [DNSTransactionEvent] = []
    /// Distinct query names (lowercased), for the vantage comparison.
    public var dnsQueryNames: Set<String> = []
    /// One row per flow, for `kzforensics flows`.
    public var flowRows: [FlowRow] = []
    public var httpRows: [HTTPViewRow] = []
    public var tlsRows: [TLSViewRow] = []
}

/// The flow table, handed to the flow-stage thread and back (the thread takes it out, so it is never shared).
private final class FlowTableBox: @unchecked Sendable {
    private var table: FlowTable?
    init(_ t: FlowTable) { table = t }
    func take() -> FlowTable {
        let t = table!
        table = nil
        return t
    }
    func put(_ t: FlowTable) { table = t }
}

/// Runs one capture through decode → defragmentation → flow table → parsers, streaming detector events to `observe`.
public enum CaptureAnalyzer {
    /// `signatures`: when given (and views are not collected), each HTTP response's body-derived block-page signals are
    /// taken as soon as the response completes and the body is dropped (`FlowAppState`).
    public static func run(path: String, options: AnalysisOptions, filter: BPFFilter?,
                           signatures: SignatureDatabase? = nil,
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
        var limits = options.flowLimits
        // Without detectors nothing reads segment records or path packets: keep neither.
        if !options.detect { limits.keepSegmentRecords = false }
        var table = FlowTable(limits: limits)
        var sink = PipelineSink(capture: path, views: options.views, detect: options.detect, signatures: signatures,
                                flowRowHandler: options.flowRowHandler)
        var keeperLimits = PathPacketKeeper.Limits()
        keeperLimits.maxKept = options.maxPathPackets
        let read = ReadStage(reader: reader, filter: filter, keeper: PathPacketKeeper(limits: keeperLimits),
                             keepPaths: options.detect)
        // Flows alone (no parsers, no detectors) on several cores: shards by flow key.
        if options.threads > 1 && !options.detect && !sink.parseApps {
            ShardedFlows.run(path: path, read: read, options: options, limits: limits, shards: options.threads,
                             into: &result)
            return result
        }
        var clock = StageClock()
        let flows = FlowCountBox()
        let progress = options.progress
        let tick: @Sendable (Int, Int) -> Void = { frames, bytes in progress?(path, frames, bytes, flows.value.load(ordering: .relaxed)) }

        /// Hands the sink's queued events to `observe`, in order (after each packet, replayed call or closed flow).
        func drain(_ s: inout PipelineSink) {
            guard !s.events.isEmpty else { return }
            for e in s.events { observe(e) }
            s.events.removeAll(keepingCapacity: true)
        }
        // The flow stage: flow table, reassembly, parsers, detectors (through `observe`), in frame order.
        func flowPacket(_ p: DecodedPacket, _ bytes: UnsafeRawBufferPointer) {
            table.process(p, frame: bytes, into: &sink)
            drain(&sink)
        }
        var clockMarked = false
        if options.threads > 1 {
            // The flow stage (read, decode, defragment, flow table, reassembly) on a second thread; the parsers and the
            // events (to `observe`) here. The flow stage records what it would call the sink with into small batches
            // (`FlowEventBatch`) and this thread replays them in order, so the result equals the one-thread run.
            let full = Handoff<FlowEventBatch>(capacity: FlowEventBatch.inFlight)
            let free = Handoff<FlowEventBatch>(capacity: FlowEventBatch.inFlight)
            for _ in 0..<FlowEventBatch.inFlight { free.put(FlowEventBatch()) }
            let box = FlowTableBox(table)
            table = FlowTable(limits: limits)
            let parseApps = sink.parseApps
            let thread = Thread {
                var table = box.take()
                var rec = FlowEventRecorder(full: full, free: free, parseApps: parseApps)
                read.run(packet: { p, b in table.process(p, frame: b, into: &rec) },
                         note: { name, frame in rec.note(name, frame: frame) }, tick: tick)
                table.finish(into: &rec)
                rec.flush()
                box.put(table)
                full.close()
            }
            thread.stackSize = 8 << 20
            thread.start()
            while let batch = full.take() {
                batch.replay(into: &sink, drain: drain)
                flows.value.store(sink.flowCounts.tcp + sink.flowCounts.udp + sink.flowCounts.other, ordering: .relaxed)
                batch.reset()
                free.put(batch)
            }
            table = box.take()
            clock.mark("read, flows, parsers, events, closing open flows")
            clockMarked = true
        } else {
            read.run(packet: { p, b in
                flowPacket(p, b)
            }, note: { name, frame in sink.note(name, frame: frame) }, tick: { frames, bytes in
                flows.value.store(sink.flowCounts.tcp + sink.flowCounts.udp + sink.flowCounts.other, ordering: .relaxed)
                tick(frames, bytes)
            })
        }
        let end = read.end ?? .complete
        if !clockMarked {
            clock.mark("read, flows, parsers, events")
            table.finish(into: &sink, drain: drain)
            clock.mark("close open flows")
        }
        // The transactions still open, released and handed on a few thousand at a time (same order as all at once).
        var moreDNS = true
        while moreDNS {
            moreDNS = sink.dns.finish(step: 4096)
            sink.takeDNSTransactions()
            drain(&sink)
        }
        result.dnsTransactions = sink.dnsTransactions
        result.dnsQueryNames = sink.dnsQueryNames
        if sink.dns.unsolicitedCount > 0, let f = sink.dns.unsolicited.first {
            sink.note("dns.unsolicited_response", frame: f.frame, count: sink.dns.unsolicitedCount)
        }
        let stats = table.stats
        if stats.evicted > 0 { sink.note("flow.evicted", frame: 0, count: stats.evicted) }
        let keeper = read.keeper
        if keeper.pendingEvicted > 0 { sink.note("path.pending_evicted", frame: 0, count: keeper.pendingEvicted) }
        if keeper.truncated { sink.note("path.keep_cap", frame: 0) }
        let acct = read.acct, first = read.first, last = read.last, filteredOut = read.filteredOut

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
        result.flowRows = sink.flowRows
        result.httpRows = sink.viewHTTP
        result.tlsRows = sink.viewTLS
        clock.mark("DNS tracker finish, result")
        return result
    }
}
