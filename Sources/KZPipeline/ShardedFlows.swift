import Foundation
import KZCapture
import KZFlow
import KZWire
import Synchronization

/// Flows and reassembly on several cores, for runs that need nothing but flows (`kzforensics flows --threads N`).
///
/// Each shard owns the flows whose key hashes to it (`shard(of:count:)`: every packet of a flow, and every fragment of
/// a datagram once rebuilt, lands in one shard) and has a flow table of its own. The calling thread reads and decodes
/// the capture once and runs shard 0; it copies every other shard's packets into batches for that shard's thread, as
/// the two-thread pipeline does. Reading and decoding cost about 40% as much as flows and reassembly, so shard 0 owns
/// a smaller share of the flows (`share(ofFirstShardOf:)`) and the threads finish together.
///
/// Every shard sweeps idle flows at the packets where one table over all packets would: the reader keeps that table's
/// clock and, at each sweep, tells every shard that does not own the packet (`FlowTable.advanceClock`). Idle flows
/// therefore close at exactly the packets where they close in one table, and each row equals the one-thread row. Deliberate differences, documented for users:
/// - the caps (`FlowLimits.maxFlows` and the global reassembly, retained-byte and segment-record caps) are divided
///   between the shards by their share (the parts add up to the cap), so where a global cap binds (retained bytes on a capture with tens of
///   thousands of open flows), which flows keep bytes to compare overlaps with can differ;
/// - `CaptureResult.flowRows` (kept only without a `flowRowHandler`) come in first-frame order, not close order;
/// - `flowRowHandler` is called from every shard's thread.
enum ShardedFlows {
    /// Shard 0's share of the flows with `n` shards: it also reads and decodes for all, which costs about 0.4 of the
    /// flow work on the 1 GiB reference (0.6 s of 1.5 s), so the shards are balanced when
    /// `0.4 + share = (1 - share) / (n - 1)`.
    static func share(ofFirstShardOf n: Int) -> Double {
        n <= 1 ? 1 : max(0, (1 - 0.4 * Double(n - 1)) / Double(n))
    }

    /// The shard that owns a packet's flow: the flow index's own hash mapped onto the shards' shares (the index uses
    /// the hash's low bits, this its whole range, so each shard's table still spreads over all its buckets). Packets
    /// without a flow key go to shard 0.
    @inline(__always)
    static func shard(of p: DecodedPacket, count n: Int, firstBelow t0: UInt64) -> Int {
        guard let (key, _) = FlowKey.of(p) else { return 0 }
        let h = key.mixedHash >> 32
        if h < t0 { return 0 }
        return 1 + Int(((h - t0) &* UInt64(n - 1)) / ((1 << 32) - t0))
    }

    /// What one shard leaves behind.
    final class Shard: @unchecked Sendable {
        var sink: PipelineSink?
        var stats: FlowTableStats?
        let queue = Handoff<ShardBatch>(capacity: ShardBatch.inFlight)
        let free = Handoff<ShardBatch>(capacity: ShardBatch.inFlight)
        let flowCount = FlowCountBox()
    }

    /// Runs `n` shards over the capture `read` reads, and merges their results into `result`.
    static func run(path: String, read: ReadStage, options: AnalysisOptions, limits: FlowLimits, shards n: Int,
                    into result: inout CaptureResult) {
        let share0 = share(ofFirstShardOf: n)
        let t0 = UInt64(share0 * 4_294_967_296)
        func shardLimits(_ k: Int) -> FlowLimits {
            var l = limits
            l.maxFlows = part(limits.maxFlows, k)
            l.maxBufferedBytesTotal = part(limits.maxBufferedBytesTotal, k)
            l.maxRetainedBytesTotal = part(limits.maxRetainedBytesTotal, k)
            l.maxSegmentRecordsTotal = part(limits.maxSegmentRecordsTotal, k)
            return l
        }
        /// Shard `k`'s part of a cap `v`: shard 0 its share, the others the rest evenly; the parts add up to `v`
        /// (each at least 1).
        func part(_ v: Int, _ k: Int) -> Int {
            guard v >= n else { return max(1, v) }
            let first = min(v - (n - 1), max(1, Int((Double(v) * share0).rounded())))
            if k == 0 { return first }
            let rest = v - first
            return rest / (n - 1) + (k - 1 < rest % (n - 1) ? 1 : 0)
        }
        let shards = (0..<n).map { _ in Shard() }
        let progress = options.progress

        // Shards 1..<n: a thread each, consuming batches in capture order.
        let done = DispatchGroup()
        for k in 1..<n {
            let shard = shards[k]
            for _ in 0..<ShardBatch.inFlight { shard.free.put(ShardBatch()) }
            let shardLimits = shardLimits(k)
            done.enter()
            let thread = Thread {
                var table = FlowTable(limits: shardLimits)
                var sink = PipelineSink(capture: path, views: options.views, detect: false,
                                        flowRowHandler: options.flowRowHandler)
                while let batch = shard.queue.take() {
                    batch.arena.withUnsafeBytes { arena in
                        batch.packets.withUnsafeBufferPointer { packets in
                            for e in batch.entries {
                                if e.clock != .min {
                                    table.advanceClock(to: Timestamp(nanoseconds: e.clock), into: &sink)
                                }
                                guard e.packet >= 0 else { continue }
                                let bytes = UnsafeRawBufferPointer(
                                    rebasing: arena[Int(e.offset)..<(Int(e.offset) + Int(e.length))])
                                table.process(packets[Int(e.packet)], frame: bytes, into: &sink)
                            }
                        }
                    }
                    shard.flowCount.value.store(sink.flowCounts.tcp + sink.flowCounts.udp + sink.flowCounts.other,
                                                ordering: .relaxed)
                    batch.reset()
                    shard.free.put(batch)
                }
                table.finish(into: &sink)
                sink.events.removeAll()
                shard.stats = table.stats
                shard.sink = sink
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }

        // Shard 0 and the reader, on this thread.
        var table = FlowTable(limits: shardLimits(0))
        var sink = PipelineSink(capture: path, views: options.views, detect: false, flowRowHandler: options.flowRowHandler)
        var batches: [ShardBatch?] = Array(repeating: nil, count: n)
        for k in 1..<n { batches[k] = shards[k].free.take() }
        /// Hands shard `k` a clock (`Int64.min`: none) and optionally a packet, switching to a fresh batch when full.
        func send(_ k: Int, clock: Int64, _ p: DecodedPacket?, _ bytes: UnsafeRawBufferPointer) {
            guard let b = batches[k] else { return }
            if b.add(clock: clock, p, bytes) { return }
            shards[k].queue.put(b)
            let next = shards[k].free.take() ?? ShardBatch()
            _ = next.add(clock: clock, p, bytes)
            batches[k] = next
        }
        // The clock one table over every packet would have: its latest time and its next sweep.
        var now = Int64.min, nextSweep = Int64.min
        read.run(packet: { p, bytes in
            let ts = p.timestamp.nanoseconds
            if ts > now { now = ts }
            let sweep = now >= nextSweep
            if sweep { nextSweep = now &+ 1_000_000_000 }
            let k = shard(of: p, count: n, firstBelow: t0)
            if sweep { for j in 1..<n where j != k { send(j, clock: now, nil, bytes) } }
            // A sweep happens only at a packet that moves the clock (ts == now), so the shard owning that packet
            // sweeps by itself; the others are told. Between sweeps a shard's clock may lag the capture's, but
            // nothing but the sweep reads it.
            if k == 0 {
                table.process(p, frame: bytes, into: &sink)
            } else {
                if sweep { table.advanceClock(to: Timestamp(nanoseconds: now), into: &sink) }
                send(k, clock: .min, p, bytes)
            }
        }, note: { name, frame in
            sink.note(name, frame: frame)
        }, tick: { frames, bytes in
            shards[0].flowCount.value.store(sink.flowCounts.tcp + sink.flowCounts.udp + sink.flowCounts.other,
                                            ordering: .relaxed)
            progress?(path, frames, bytes, shards.reduce(0) { $0 + $1.flowCount.value.load(ordering: .relaxed) })
        })
        for k in 1..<n {
            if let b = batches[k] { shards[k].queue.put(b) }
            shards[k].queue.close()
        }
        table.finish(into: &sink)
        sink.events.removeAll()
        done.wait()
        shards[0].stats = table.stats
        shards[0].sink = sink

        if case .failed(let e) = read.end ?? .complete { result.error = e }
        result.accounting = read.acct
        result.firstTs = read.first
        result.lastTs = read.last
        result.filteredOut = read.filteredOut
        var counts = (tcp: 0, udp: 0, other: 0)
        var anomalies: [String: (count: Int, first: FrameNumber)] = [:]
        var rows: [FlowRow] = []
        var evicted = 0
        for s in shards {
            evicted += s.stats?.evicted ?? 0
            guard let sink = s.sink else { continue }
            counts.tcp += sink.flowCounts.tcp
            counts.udp += sink.flowCounts.udp
            counts.other += sink.flowCounts.other
            rows += sink.flowRows
            for (name, e) in sink.anomalyCounts {
                if let a = anomalies[name] { anomalies[name] = (a.count + e.count, min(a.first, e.first)) }
                else { anomalies[name] = e }
            }
        }
        if evicted > 0 {
            let e = anomalies["flow.evicted"]
            anomalies["flow.evicted"] = ((e?.count ?? 0) + evicted, 0)
        }
        rows.sort { $0.firstFrame < $1.firstFrame }
        result.flows = counts
        result.anomalies = anomalies
        result.flowRows = rows
    }
}

/// Packets for one flow shard, copied out of the reader's buffer, with the capture clock to advance to before each.
final class ShardBatch {
    struct Entry {
        /// Advance the shard's clock to this time first (`Int64.min`: no change).
        var clock: Int64
        /// Index in `packets`, or -1 for a clock-only entry.
        var packet: Int32
        var offset: Int32
        var length: Int32
    }
    /// Batches circulating per shard (filled by the reader, emptied by the shard, returned). Small batches (256 KiB of
    /// frames, 384 decoded packets of 288 bytes) reach the shard while their bytes are still in the shared cache: on
    /// the 1 GiB reference, batches of 1 MiB and 2,048 packets made `flows --threads 2` no faster than one thread
    /// (1.85 s against 1.78 s; 2.81 s of CPU against 1.77 s), these take it to 1.35 s against 1.63–1.76 s. Six cost
    /// about 2 MiB per shard.
    static let inFlight = 6
    static let maxEntries = 384
    static let arenaBytes = 256 << 10
    var entries: [Entry] = []
    var packets: [DecodedPacket] = []
    var arena: [UInt8] = []

    init() {
        entries.reserveCapacity(Self.maxEntries)
        packets.reserveCapacity(Self.maxEntries)
        arena.reserveCapacity(Self.arenaBytes)
    }

    /// Appends an entry unless the batch is full (then false, nothing added). A packet larger than the arena goes
    /// alone into an empty batch.
    func add(clock: Int64, _ p: DecodedPacket?, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = p == nil ? 0 : bytes.count
        if !entries.isEmpty && (entries.count >= Self.maxEntries || arena.count + n > Self.arenaBytes) { return false }
        if let p {
            entries.append(Entry(clock: clock, packet: Int32(packets.count), offset: Int32(arena.count),
                                 length: Int32(n)))
            packets.append(p)
            arena.append(contentsOf: bytes)
        } else {
            entries.append(Entry(clock: clock, packet: -1, offset: 0, length: 0))
        }
        return true
    }

    func reset() {
        entries.removeAll(keepingCapacity: true)
        packets.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }
}
