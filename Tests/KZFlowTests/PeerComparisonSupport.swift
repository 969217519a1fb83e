import Foundation
import KZCapture
import KZFlow
import KZWire

// Support for PeerComparisonTests: our flows (CaptureReader → PacketDecoder → IPDefragmenter → FlowTable, driven as
// KZPipeline's CaptureAnalyzer drives them) and tshark's conversation and follow-stream output, both reduced to the
// same shape so they can be compared.

/// Package root, from this file's path (Tests/KZFlowTests/…).
let peerPackageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// `../shared/corpus` relative to the package root; worktrees one level deeper (/work/wt/NAME) fall back to
/// `../../shared/corpus`. Nil when neither exists.
let peerCorpusRoot: URL? = {
    let up = peerPackageRoot.deletingLastPathComponent()
    for c in [up.appendingPathComponent("shared/corpus"),
              up.deletingLastPathComponent().appendingPathComponent("shared/corpus")]
    where FileManager.default.fileExists(atPath: c.appendingPathComponent("MANIFEST.tsv").path) {
        return c
    }
    return nil
}()

/// One row of the corpus MANIFEST.tsv (only the columns used here).
struct ManifestRow {
    var path: String
    var size: Int
    var tsharkOK: Bool
    var tags: Set<String>
}

func readManifest(_ root: URL) -> [ManifestRow] {
    guard let text = try? String(contentsOf: root.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8) else {
        return []
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    guard !lines.isEmpty else { return [] }
    let header = lines.removeFirst().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    guard let iPath = header.firstIndex(of: "path"), let iSize = header.firstIndex(of: "size_bytes"),
          let iOK = header.firstIndex(of: "tshark_reads_ok"), let iTags = header.firstIndex(of: "tags") else {
        return []
    }
    return lines.compactMap { line in
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count > max(iPath, iSize, iOK, iTags) else { return nil }
        return ManifestRow(path: f[iPath], size: Int(f[iSize]) ?? .max, tsharkOK: f[iOK] == "yes",
                           tags: Set(f[iTags].split(separator: ",").map(String.init)))
    }
}

/// An endpoint as text, `addr:port` without brackets (as tshark prints both IPv4 and IPv6).
func peerEndpoint(_ e: FlowEndpoint) -> String { "\(e.address):\(e.port)" }

/// Unordered endpoint pair, `a < b` as strings; direction 0 is a→b.
struct PeerPair: Hashable, Comparable, CustomStringConvertible {
    var proto: String
    var a: String
    var b: String
    /// Builds the pair and says whether `x` became `a`.
    static func make(_ proto: String, _ x: String, _ y: String) -> (PeerPair, xIsA: Bool) {
        x <= y ? (PeerPair(proto: proto, a: x, b: y), true) : (PeerPair(proto: proto, a: y, b: x), false)
    }
    static func < (l: PeerPair, r: PeerPair) -> Bool { (l.proto, l.a, l.b) < (r.proto, r.a, r.b) }
    var description: String { "\(proto) \(a) <-> \(b)" }
}

/// Packets and frame bytes of one flow, per direction of its `PeerPair` (0 = a→b).
struct PeerCounts: Equatable, CustomStringConvertible {
    var packets = [0, 0]
    var bytes = [0, 0]
    /// tshark prints sizes of 10 kB and more with a unit, truncated ("36626" → "36 kB"): the divisor per direction
    /// (1 for exact byte counts; always 1 on our side).
    var unit = [1, 1]
    var start: Double = 0
    /// Ours only: the flow was closed by an idle timeout (`CloseReason.idle`).
    var closedIdle = false
    static func + (l: PeerCounts, r: PeerCounts) -> PeerCounts {
        PeerCounts(packets: [l.packets[0] + r.packets[0], l.packets[1] + r.packets[1]],
                   bytes: [l.bytes[0] + r.bytes[0], l.bytes[1] + r.bytes[1]],
                   unit: [max(l.unit[0], r.unit[0]), max(l.unit[1], r.unit[1])], start: min(l.start, r.start))
    }
    /// Ours (`self`, exact) against tshark's `o` (possibly truncated to kB/MB).
    func sameTotals(_ o: PeerCounts) -> Bool {
        packets == o.packets && (0..<2).allSatisfy { bytes[$0] / o.unit[$0] == o.bytes[$0] }
    }
    var description: String { "a→b \(packets[0]) pk \(bytes[0]) B, b→a \(packets[1]) pk \(bytes[1]) B" }
}

/// Our side of one capture: TCP/UDP flows per pair (in order of first packet) and, when asked, the delivered stream
/// bytes of each TCP flow per pair direction.
struct OurCapture {
    var flows: [PeerPair: [PeerCounts]] = [:]
    var streams: [PeerPair: [[[UInt8]]]] = [:]
    var tcpFlows = 0
    var error: String?
}

/// Collects flow records and, optionally, stream bytes.
struct PeerSink: FlowEventSink {
    var keepStreams: Bool
    var first: Int64 = 0
    var out = OurCapture()
    /// Stream bytes by flow id, `[forward, reverse]`.
    var pending: [FlowID: [[UInt8]]] = [:]

    mutating func streamData(_ flow: FlowContext, _ chunk: StreamChunk) {
        guard keepStreams else { return }
        pending[flow.id, default: [[], []]][chunk.direction.index].append(contentsOf: chunk.bytes)
    }

    mutating func flowClosed(_ flow: FlowContext, _ r: FlowRecord) {
        let proto: String
        switch r.proto {
        case .tcp: proto = "tcp"
        case .udp: proto = "udp"
        default: return
        }
        let (pair, origIsA) = PeerPair.make(proto, peerEndpoint(r.originator), peerEndpoint(r.responder))
        let f = r.forward, v = r.reverse
        var c = PeerCounts()
        c.packets = origIsA ? [f.packets, v.packets] : [v.packets, f.packets]
        c.bytes = origIsA ? [f.wireBytes, v.wireBytes] : [v.wireBytes, f.wireBytes]
        c.start = Double(r.firstTimestamp.nanoseconds - first) / 1e9
        c.closedIdle = r.closeReason == .idle
        out.flows[pair, default: []].append(c)
        if proto == "tcp" {
            out.tcpFlows += 1
            if keepStreams {
                let s = pending.removeValue(forKey: r.id) ?? [[], []]
                out.streams[pair, default: []].append(origIsA ? s : [s[1], s[0]])
            }
        }
    }
}

/// Runs one capture through our reader, decoder, defragmenter and flow table (default limits).
func runOurs(_ path: String, keepStreams: Bool) -> OurCapture {
    let reader: CaptureReader
    do { reader = try CaptureReader(path: path) } catch {
        var o = OurCapture()
        o.error = "\(error)"
        return o
    }
    let decoder = PacketDecoder()
    var table = FlowTable()
    var defrag = IPDefragmenter()
    var sink = PeerSink(keepStreams: keepStreams)
    var sawFirst = false
    let end = reader.forEachFrame { f in
        if !sawFirst { sink.first = f.timestamp.nanoseconds; sawFirst = true }
        let p = decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                               linkType: f.linkType)
        guard p.ip != nil else { return }
        if p.flags.contains(.fragment) {
            switch defrag.process(p, frame: f.bytes) {
            case .reassembled(let d):
                d.bytes.withUnsafeBytes { b in
                    let q = decoder.decodeDatagram(b, frame: d.lastFrame, timestamp: d.lastTimestamp)
                    if q.status.isOK { table.process(q, frame: b, into: &sink) }
                }
            case .notFragment:
                table.process(p, frame: f.bytes, into: &sink)
            case .dropped, .buffered:
                break
            }
        } else if p.status.isOK || p.flags.contains(.snapTruncated) {
            table.process(p, frame: f.bytes, into: &sink)
        }
    }
    table.finish(into: &sink)
    var o = sink.out
    if case .failed(let e) = end { o.error = "\(e)" }
    return o
}

/// tshark's view of one capture.
struct TheirCapture {
    var flows: [PeerPair: [PeerCounts]] = [:]
    /// Follow streams: pair, and bytes per pair direction.
    var streams: [(pair: PeerPair, bytes: [[UInt8]])] = []
    var error: String?
}

/// Splits `addr:port` (IPv6 without brackets) into its parts; nil when malformed.
func splitEndpoint(_ s: Substring) -> (String, String)? {
    guard let i = s.lastIndex(of: ":") else { return nil }
    return (String(s[..<i]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), String(s[s.index(after: i)...]))
}

private func hexBytes(_ s: Substring) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count / 2)
    var hi: UInt8?
    for c in s.utf8 {
        let v: UInt8
        switch c {
        case 48...57: v = c - 48
        case 97...102: v = c - 87
        case 65...70: v = c - 55
        default: continue
        }
        if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
    }
    return out
}

/// Parses `tshark -q -z conv,tcp -z conv,udp [-z follow,tcp,raw,N …]` output.
///
/// Conversation rows read `A <-> B  fr(B→A) bytes "bytes"  fr(A→B) bytes "bytes"  total…  start  duration`
/// (tshark's text table prints the `<-` column, frames received by A, first).
func parseTshark(_ text: String) -> TheirCapture {
    var t = TheirCapture()
    var section = ""
    var node0 = "", node1 = ""
    var cur: [[UInt8]] = [[], []]
    var inFollow = false
    func flushFollow() {
        guard inFollow, !node0.hasPrefix(":") else { inFollow = false; return }
        let (pair, n0IsA) = PeerPair.make("tcp", node0, node1)
        t.streams.append((pair, n0IsA ? cur : [cur[1], cur[0]]))
        inFollow = false
    }
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = raw
        if line.hasPrefix("TCP Conversations") { section = "tcp"; continue }
        if line.hasPrefix("UDP Conversations") { section = "udp"; continue }
        if line.hasPrefix("Follow: tcp,raw") { flushFollow(); section = "follow"; inFollow = true; cur = [[], []]; continue }
        if line.hasPrefix("====") {
            if section == "follow" { flushFollow() }
            continue
        }
        switch section {
        case "tcp", "udp":
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 13, f[1] == "<->", let (aa, ap) = splitEndpoint(f[0]),
                  let (ba, bp) = splitEndpoint(f[2]),
                  let inFr = Int(f[3]), let (inBy, inUnit) = parseSize(f[4], f[5]), let outFr = Int(f[6]),
                  let (outBy, outUnit) = parseSize(f[7], f[8]),
                  let start = Double(f[f.count - 2]) else { continue }
            let (pair, aIsA) = PeerPair.make(section, "\(aa):\(ap)", "\(ba):\(bp)")
            var c = PeerCounts()
            c.packets = aIsA ? [outFr, inFr] : [inFr, outFr]
            c.bytes = aIsA ? [outBy, inBy] : [inBy, outBy]
            c.unit = aIsA ? [outUnit, inUnit] : [inUnit, outUnit]
            c.start = start
            t.flows[pair, default: []].append(c)
        case "follow":
            if line.hasPrefix("Node 0: ") { node0 = String(line.dropFirst(8)); continue }
            if line.hasPrefix("Node 1: ") { node1 = String(line.dropFirst(8)); continue }
            if line.hasPrefix("Filter:") || line.isEmpty { continue }
            let chunk = hexBytes(line)
            // tshark writes "[N bytes missing in capture file]" into the followed stream where a gap is (even in
            // raw mode); we deliver no bytes for a gap (`streamGap` says where it was), so the marker is dropped.
            if isGapMarker(chunk) { continue }
            if line.hasPrefix("\t") { cur[1].append(contentsOf: chunk) } else { cur[0].append(contentsOf: chunk) }
        default:
            continue
        }
    }
    for k in t.flows.keys { t.flows[k]?.sort { $0.start < $1.start } }
    return t
}

/// Whether a follow chunk is exactly tshark's gap marker (raw mode: `[N bytes missing in capture file]` and a NUL).
func isGapMarker(_ chunk: [UInt8]) -> Bool {
    let s = String(decoding: chunk.last == 0 ? chunk.dropLast() : chunk[...], as: UTF8.self)
    guard s.hasPrefix("["), s.hasSuffix(" bytes missing in capture file]") else { return false }
    return Int(s.dropFirst().prefix { $0 != " " }) != nil
}

/// Parses a tshark size column: a number then `bytes`, `kB` or `MB` (truncated). Returns value and divisor.
func parseSize(_ n: Substring, _ unit: Substring) -> (Int, Int)? {
    guard let v = Int(n) else { return nil }
    switch unit {
    case "bytes": return (v, 1)
    case "kB": return (v, 1000)
    case "MB": return (v, 1_000_000)
    default: return nil
    }
}

/// A running tshark whose standard output goes to a temporary file.
final class TsharkRun {
    let process = Process()
    let outURL: URL
    init?(tshark: String, path: String, followStreams: Int) {
        outURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("kz-peer-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).txt")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              let h = try? FileHandle(forWritingTo: outURL) else { return nil }
        process.executableURL = URL(fileURLWithPath: tshark)
        var args = ["-n", "-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"]
        for n in 0..<followStreams { args += ["-z", "follow,tcp,raw,\(n)"] }
        process.arguments = args
        process.standardOutput = h
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        try? h.close()
    }
    func wait() -> TheirCapture {
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: outURL) }
        guard let d = try? Data(contentsOf: outURL) else {
            var t = TheirCapture()
            t.error = "no tshark output"
            return t
        }
        var t = parseTshark(String(decoding: d, as: UTF8.self))
        if process.terminationStatus != 0 { t.error = "tshark exit \(process.terminationStatus)" }
        return t
    }
}

func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
