import Foundation
import ArgumentParser
import KZCapture
import KZWire
#if canImport(Glibc)
import Glibc
#endif

enum PacketsFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, summary
}

/// Two stages (read+decode, flows+analysis) use at most two cores.
let defaultThreads = min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))

struct CaptureOptions: ParsableArguments {
    @Argument(help: "Capture files (pcap or pcapng).")
    var files: [String]

    @Option(help: "BPF filter expression applied offline, as tcpdump does (e.g. 'tcp port 80').")
    var filter: String?

    @Option(help: "Record reader: native (buffered walker, default) or libpcap (pcap_next_ex).")
    var reader: String = "native"

    @Option(help: "Threads for the views: 1, or 2 to read and decode beside the flow stage (default: 2 when the machine has 2 cores; same output). `flows` uses N threads as N shards of the flow table (same rows unless a global cap binds). `packets` always uses one.")
    var threads: Int = defaultThreads

    func engine() throws -> CaptureEngine {
        guard let e = CaptureEngine(rawValue: reader) else {
            throw ValidationError("--reader must be native or libpcap")
        }
        return e
    }

    func bpf() throws -> BPFFilter? {
        guard let filter else { return nil }
        do { return try BPFFilter(filter) } catch { throw ValidationError(error.description) }
    }
}

/// Buffered stdout writer (one `fwrite` per 64 KiB instead of per line).
struct OutputBuffer {
    var buf: [UInt8] = []
    init() { buf.reserveCapacity(1 << 16) }
    mutating func line(_ s: String) {
        buf.append(contentsOf: s.utf8)
        buf.append(10)
        if buf.count >= 1 << 16 { flush() }
    }
    mutating func line(bytes: UnsafeRawBufferPointer) {
        buf.append(contentsOf: bytes)
        buf.append(10)
        if buf.count >= 1 << 16 { flush() }
    }
    mutating func flush() {
        StdStream.out.write(bytes: buf)
        buf.removeAll(keepingCapacity: true)
    }
}

struct PacketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packets",
        abstract: "Decode every frame: one line per frame (tcpdump-like text or jsonl), or only the accounting table.",
        discussion: """
        Every frame ends in exactly one accounting category: ok, or a named skip reason such as truncated.tcp,
        malformed.ipv4.header_too_short, unsupported.linktype.147 or unsupported.ethertype.0x88cc.
        Examples:
          kzforensics packets capture.pcap
          kzforensics packets capture.pcapng --format jsonl --filter 'udp port 53'
          kzforensics packets big.pcap --format summary
        """
    )

    @OptionGroup var capture: CaptureOptions
    @Option(help: "text (tcpdump-like), jsonl (one JSON object per frame), or summary (accounting table only).")
    var format: PacketsFormat = .text

    @Flag(help: .hidden)
    var noDecode = false

    func run() throws {
        let engine = try capture.engine()
        let filter = try capture.bpf()
        let decoder = PacketDecoder()
        var out = OutputBuffer()
        var failures = 0
        var totals = PacketAccounting()
        for path in capture.files {
            let reader: CaptureReader
            do { reader = try CaptureReader(path: path, engine: engine) } catch {
                StdStream.err.write("kzforensics: \(error)\n")
                failures += 1
                continue
            }
            var acct = PacketAccounting()
            var filteredOut = 0
            let fmt = format
            if noDecode {
                // Benchmark baseline (bench/run.sh): walk the records only; every frame counts as read.
                var bytes = 0
                let end = reader.forEachFrame(filter: filter, filteredOut: &filteredOut) { f in
                    bytes &+= f.capturedLength
                    acct.count(.ok)
                }
                if case .failed(let e) = end { StdStream.err.write("kzforensics: warning: \(e)\n") }
                printAccounting(path: path, acct, filteredOut: filteredOut, to: .out)
                StdStream.out.write("  captured bytes \(bytes)\n")
                totals.merge(acct)
                continue
            }
            let end = reader.forEachFrame(filter: filter, filteredOut: &filteredOut) { f in
                let p = decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                       linkType: f.linkType)
                acct.count(p.status)
                switch fmt {
                case .text: out.line(PacketLine.text(p))
                case .jsonl: out.line(PacketLine.json(p))
                case .summary: break
                }
            }
            out.flush()
            if case .failed(let e) = end { StdStream.err.write("kzforensics: warning: \(e)\n") }
            if format != .jsonl {
                printAccounting(path: path, acct, filteredOut: filteredOut, to: format == .text ? .err : .out)
            }
            totals.merge(acct)
        }
        if failures == capture.files.count { throw ExitCode(1) }
    }

    func printAccounting(path: String, _ a: PacketAccounting, filteredOut: Int, to stream: StdStream) {
        var s = "\(path): \(a.frames) frames, \(a.decoded) decoded"
        if filteredOut > 0 { s += ", \(filteredOut) not matching the filter" }
        s += "\n"
        for (name, n) in a.skippedByName { s += "  \(name.padding(40)) \(n)\n" }
        stream.write(s)
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
