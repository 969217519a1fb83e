import Testing
import Foundation
import KZWire
@testable import KZFlow

#if canImport(Glibc)
import Glibc
#endif

/// A synthetic steady-state load: `flows` concurrent connections, each alternating a 512-byte in-order data segment
/// from the client with a pure ACK from the server. Prints ns/packet for `FlowTable.process` (the loop's own cost of
/// building packets is measured separately and subtracted). `KZFLOW_PERF_PACKETS` sets the count (default 50 000;
/// the report's figure uses 1 000 000 in a release build).
@Suite struct ThroughputTests {
    struct Load {
        var data: [DecodedPacket] = []
        var acks: [DecodedPacket] = []
        var payload = [UInt8](repeating: 0x41, count: 512)
    }

    static func load(flows: Int) -> Load {
        var l = Load()
        for k in 0..<flows {
            var w = Wire()
            w.client = "10.1.\(k >> 8 & 255).\(k & 255)"
            w.cport = UInt16(20000 + k % 30000)
            l.data.append(w.tcp(fromClient: true, [.ack, .psh], seq: 1, ack: 1, payload: l.payload).packet)
            l.acks.append(w.tcp(fromClient: false, [.ack], seq: 1, ack: 1).packet)
        }
        return l
    }

    /// Runs the loop; with `table == nil` only builds the packets (baseline).
    static func loop(_ l: Load, packets n: Int, flows: Int, useTable: Bool, table: inout FlowTable,
                     sink: inout NullCountingSink)
        -> Duration {
        var seqs = [UInt32](repeating: 1, count: flows)
        let clock = ContinuousClock()
        let start = clock.now
        l.payload.withUnsafeBytes { payload in
            let empty = UnsafeRawBufferPointer(start: payload.baseAddress, count: 0)
            var i = 0
            while i < n {
                let k = (i >> 1) % flows
                let isData = i & 1 == 0
                var p = isData ? l.data[k] : l.acks[k]
                guard case .tcp(var t) = p.transport else { return }
                if isData { t.seq = seqs[k] } else { t.ack = seqs[k] }
                p.transport = .tcp(t)
                p.frame = i + 1
                p.timestamp = Timestamp(nanoseconds: 1_700_000_000_000_000_000 + Int64(i) * 1000)
                if useTable {
                    table.process(p, frame: isData ? payload : empty, into: &sink)
                } else {
                    sink.violations &+= p.frame & 1
                }
                if isData { seqs[k] &+= 512 }
                i += 1
            }
        }
        return clock.now - start
    }

    @Test func steadyStateThroughput() {
        let n = Int(getenv("KZFLOW_PERF_PACKETS").flatMap { String(cString: $0) }.flatMap { Int($0) } ?? 50_000)
        let flows = 1000
        let l = Self.load(flows: flows)
        var unused = FlowTable()
        var base = NullCountingSink()
        let baseline = Self.loop(l, packets: n, flows: flows, useTable: false, table: &unused, sink: &base)
        var table = FlowTable()
        var sink = NullCountingSink()
        let elapsed = Self.loop(l, packets: n, flows: flows, useTable: true, table: &table, sink: &sink)
        let retained = table.stats.retainedBytes
        table.finish(into: &sink)
        let ns = { (d: Duration) in Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9 }
        let per = (ns(elapsed) - ns(baseline)) / Double(n)
        print("KZFlow throughput: \(n) packets, \(flows) flows: \(String(format: "%.1f", per)) ns/packet "
              + "(loop total \(String(format: "%.1f", ns(elapsed) / Double(n))) ns, packet building "
              + "\(String(format: "%.1f", ns(baseline) / Double(n))) ns)")
        print("KZFlow sizes: FlowSlot \(MemoryLayout<FlowSlot>.stride) B, SegmentRecord "
              + "\(MemoryLayout<SegmentRecord>.stride) B, FlowKey \(MemoryLayout<FlowKey>.stride) B, peak retained "
              + "\(retained) B")
        #expect(sink.streamBytes == (n + 1) / 2 * 512)
        #expect(sink.closed == flows)
        #expect(table.stats.bufferedBytes == 0)
    }
}
