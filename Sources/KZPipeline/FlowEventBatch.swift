import KZFlow
import KZWire

/// What the flow stage hands the parser stage under `--threads 2`: the flow table's calls to the `PipelineSink`
/// methods that do work (stream data, datagrams, ICMP, closed flows) and the read stage's anomalies, in the order they
/// happened, with the borrowed bytes of stream chunks and datagrams copied into one arena.
///
/// Replaying a batch into a `PipelineSink` makes the same calls with the same values as the flow table would have
/// made on one thread, so the sink emits the same events in the same order and the report is identical.
final class FlowEventBatch: @unchecked Sendable {
    enum Item {
        /// A stream chunk whose bytes are `arena[offset..<offset+length]` (its `bytes` field is empty here).
        case stream(FlowContext, StreamChunk, offset: Int, length: Int)
        case datagram(FlowContext, Datagram, offset: Int, length: Int)
        case icmp(FlowContext, ICMPMessage)
        indirect case closed(FlowContext, FlowRecord)
        case note(String, FrameNumber, count: Int)
    }

    /// Small batches, so the parser thread reads the copied bytes while they are still in the shared cache (the
    /// lesson of `ShardBatch`: 2 MiB batches made the second core slower than none).
    static let arenaBytes = 256 << 10
    static let maxItems = 512
    /// Batches in existence (filling, queued, replaying): each holds its arena and items once touched. 4 instead of 8:
    /// 3 MiB less at the 2-thread peak on the 1 GiB reference, wall time within this machine's noise.
    static let inFlight = 4

    var items: [Item] = []
    var arena: [UInt8] = []
    /// Bytes the closed flows' records hold on the heap (estimated: `recordBytes`), counted against `arenaBytes` with
    /// the arena: when every open flow closes at the end of the capture, 512 records with their segments made each of
    /// the batches in flight weigh far more than its arena (the 2-thread run's peak on the 1 GiB reference).
    var recordBytes = 0

    init() {
        items.reserveCapacity(Self.maxItems)
        arena.reserveCapacity(Self.arenaBytes)
    }

    var isFull: Bool { items.count >= Self.maxItems || arena.count + recordBytes >= Self.arenaBytes }

    /// What a closed flow's record holds on the heap, roughly: its boxed fields and direction summaries, its segment
    /// records, overlap conflicts and gaps. Only decides when a batch is handed on.
    static func heapBytes(_ r: FlowRecord) -> Int {
        var n = 640 + r.history.utf8.count + 32 * r.anomalies.count
        for d in r.directions { n += MemoryLayout<SegmentRecord>.stride * d.segments.count }
        for c in r.overlapConflicts { n += 96 + c.firstBytes.count + c.secondBytes.count }
        n += 48 * r.gaps.count
        return n
    }

    /// Copies `bytes` into the arena and returns where they went.
    func copy(_ bytes: UnsafeRawBufferPointer) -> (offset: Int, length: Int) {
        let offset = arena.count
        arena.append(contentsOf: bytes)
        return (offset, bytes.count)
    }

    func reset() {
        items.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        recordBytes = 0
    }

    /// Makes the recorded calls on `sink`, calling `drain` after each so queued events move on in order.
    func replay(into sink: inout PipelineSink, drain: (inout PipelineSink) -> Void) {
        arena.withUnsafeBytes { arena in
            for item in items {
                switch item {
                case .stream(let flow, var chunk, let offset, let length):
                    chunk.bytes = UnsafeRawBufferPointer(rebasing: arena[offset..<(offset + length)])
                    sink.streamData(flow, chunk)
                case .datagram(let flow, var d, let offset, let length):
                    d.payload = UnsafeRawBufferPointer(rebasing: arena[offset..<(offset + length)])
                    sink.datagram(flow, d)
                case .icmp(let flow, let m):
                    sink.icmp(flow, m)
                case .closed(let flow, let r):
                    sink.flowClosed(flow, r)
                case .note(let name, let frame, let count):
                    sink.note(name, frame: frame, count: count)
                }
                drain(&sink)
            }
        }
    }
}

/// The flow stage's sink under `--threads 2`: records what `PipelineSink` would be called with into batches and hands
/// full ones to the parser stage (`full`), taking empty ones back from `free`.
struct FlowEventRecorder: FlowEventSink {
    let full: Handoff<FlowEventBatch>
    let free: Handoff<FlowEventBatch>
    /// Whether the parsers run at all (`PipelineSink.parseApps`): without them only closed flows and ICMP matter.
    let parseApps: Bool
    var batch: FlowEventBatch

    init(full: Handoff<FlowEventBatch>, free: Handoff<FlowEventBatch>, parseApps: Bool) {
        self.full = full
        self.free = free
        self.parseApps = parseApps
        batch = free.take() ?? FlowEventBatch()
    }

    private mutating func added() {
        if batch.isFull { flush() }
    }

    /// Hands the current batch on (when it holds anything) and starts another.
    mutating func flush() {
        guard !batch.items.isEmpty else { return }
        full.put(batch)
        batch = free.take() ?? FlowEventBatch()
    }

    mutating func note(_ name: String, frame: FrameNumber, count: Int = 1) {
        batch.items.append(.note(name, frame, count: count))
        added()
    }

    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) {
        guard parseApps else { return }
        let (offset, length) = batch.copy(chunk.bytes)
        var c = chunk
        c.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        batch.items.append(.stream(flow, c, offset: offset, length: length))
        added()
    }

    mutating func datagram(_ flow: FlowContext, _ d: Datagram) {
        guard parseApps else { return }
        let (offset, length) = batch.copy(d.payload)
        var c = d
        c.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        batch.items.append(.datagram(flow, c, offset: offset, length: length))
        added()
    }

    mutating func icmp(_ flow: FlowContext, _ message: ICMPMessage) {
        batch.items.append(.icmp(flow, message))
        added()
    }

    mutating func flowClosed(_ flow: FlowContext, _ record: FlowRecord) {
        batch.items.append(.closed(flow, record))
        batch.recordBytes += FlowEventBatch.heapBytes(record)
        added()
    }
}
