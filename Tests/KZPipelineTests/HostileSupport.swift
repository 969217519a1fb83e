import Foundation
import KZPipeline
import KZReport
import KZTestSupport

// Helpers for the hostile-input tests (issue 9): deterministic randomness, capture builders, record walkers.

/// The shared corpus, `../shared/corpus` from the package root (worktrees one level deeper fall back to
/// `../../shared/corpus`); nil when absent.
let hostileCorpusDir: String? = {
    let fm = FileManager.default
    for rel in ["../shared/corpus", "../../shared/corpus"] {
        let p = packageRoot.appendingPathComponent(rel).standardizedFileURL.path
        if fm.fileExists(atPath: p + "/MANIFEST.tsv") { return p }
    }
    return nil
}()

/// Corpus captures (paths relative to the corpus) smaller than `maxBytes`, sorted, thinned to every k-th so about
/// `count` remain. nil when the corpus is absent.
func corpusSample(under maxBytes: Int, about count: Int) throws -> (dir: String, files: [String])? {
    guard let corpus = hostileCorpusDir else { return nil }
    let manifest = try String(contentsOfFile: corpus + "/MANIFEST.tsv", encoding: .utf8)
    var files: [String] = []
    for line in manifest.split(separator: "\n").dropFirst() {
        let c = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard c.count > 8, let size = Int(c[6]), size < maxBytes else { continue }
        files.append(String(c[0]))
    }
    files.sort()
    let sample = stride(from: 0, to: files.count, by: max(1, files.count / count)).map { files[$0] }
    return (corpus, sample)
}

/// A scratch directory for mutants, removed by the caller.
func hostileTempDir(_ tag: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("kz-hostile-\(tag)-\(getpid())")
    try? FileManager.default.removeItem(at: d)
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

/// Classic pcap (little-endian, microseconds, Ethernet) built in memory.
struct PcapFile {
    var bytes: [UInt8] = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(262_144) + le32(1)
    /// Appends a record; `caplen`/`wire` override the honest lengths (to make them lie).
    mutating func add(_ frame: [UInt8], sec: UInt32 = 1_700_000_000, usec: UInt32 = 0, caplen: UInt32? = nil,
                      wire: UInt32? = nil) {
        bytes += le32(sec) + le32(usec) + le32(caplen ?? UInt32(frame.count)) + le32(wire ?? UInt32(frame.count)) + frame
    }
}

/// pcapng (little-endian) built in memory: SHB + one Ethernet IDB, then Enhanced Packet Blocks.
struct PcapngFile {
    var bytes: [UInt8] = []
    init() {
        bytes += PcapngFile.block(0x0a0d_0d0a, le32(0x1a2b_3c4d) + le16(1) + le16(0) + [UInt8](repeating: 0xff, count: 8))
        bytes += PcapngFile.block(1, le16(1) + le16(0) + le32(65535))
    }
    static func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        var b = body
        while b.count % 4 != 0 { b.append(0) }
        let total = UInt32(12 + b.count)
        return le32(type) + le32(total) + b + le32(total)
    }
    mutating func addPacket(_ frame: [UInt8], ts: UInt64 = 1_700_000_000_000_000) {
        bytes += PcapngFile.block(6, le32(0) + le32(UInt32(ts >> 32)) + le32(UInt32(ts & 0xffff_ffff))
                                    + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame)
    }
}

/// Ethernet + IPv4 + UDP/TCP frames with correct IP header checksums.
enum Frames {
    static let client: [UInt8] = [10, 0, 0, 1], server: [UInt8] = [10, 0, 0, 2]

    /// `options` (a multiple of 4 bytes) lengthen the header; `fragment` is the flags/offset field (default DF).
    static func ipv4(_ proto: UInt8, src: [UInt8], dst: [UInt8], payload: [UInt8], ttl: UInt8 = 64, id: UInt16 = 1,
                     options: [UInt8] = [], fragment: UInt16 = 0x4000) -> [UInt8] {
        let hl = 20 + options.count
        var h: [UInt8] = [0x40 | UInt8(hl / 4), 0] + be16(UInt16(hl + payload.count)) + be16(id) + be16(fragment)
            + [ttl, proto, 0, 0] + src + dst + options
        var sum: UInt32 = 0
        for i in stride(from: 0, to: hl, by: 2) { sum += UInt32(h[i]) << 8 | UInt32(h[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let c = ~UInt16(sum)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        let eth: [UInt8] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]
        return eth + h + payload
    }

    static func udp(src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, _ payload: [UInt8]) -> [UInt8] {
        ipv4(17, src: src, dst: dst, payload: be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload)
    }

    /// flags: 0x02 SYN, 0x10 ACK, 0x12 SYN-ACK, 0x18 PSH-ACK, 0x11 FIN-ACK, 0x04 RST.
    static func tcp(src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt8,
                    _ payload: [UInt8] = [], id: UInt16 = 1) -> [UInt8] {
        ipv4(6, src: src, dst: dst, payload: be16(sport) + be16(dport) + be32(seq) + be32(ack)
                + [0x50, flags] + be16(65535) + [0, 0, 0, 0] + payload, id: id)
    }
}

/// Offsets at which a classic pcap or pcapng file can end cleanly (after the header / after each record or block),
/// and the number of packet records before each; nil for anything else.
func cleanEnds(_ b: [UInt8]) -> [Int: Int]? {
    guard b.count >= 24 else { return nil }
    func u32(_ o: Int, _ big: Bool) -> Int {
        big ? Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            : Int(b[o + 3]) << 24 | Int(b[o + 2]) << 16 | Int(b[o + 1]) << 8 | Int(b[o])
    }
    let magic = u32(0, false)
    var ends: [Int: Int] = [:]
    switch magic {
    case 0xa1b2_c3d4, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1:
        let big = magic == 0xd4c3_b2a1 || magic == 0x4d3c_b2a1
        var off = 24, n = 0
        ends[off] = 0
        while off + 16 <= b.count {
            let cap = u32(off + 8, big)
            guard cap <= 262_144, off + 16 + cap <= b.count else { break }
            off += 16 + cap
            n += 1
            ends[off] = n
        }
        return ends
    case 0x0a0d_0d0a:
        var off = 0, n = 0, big = false
        while off + 12 <= b.count {
            if u32(off, false) == 0x0a0d_0d0a { big = u32(off + 8, false) == 0x4d3c_2b1a }
            let type = u32(off, big), total = u32(off + 4, big)
            guard total >= 12, total % 4 == 0, off + total <= b.count else { break }
            if type == 6 || type == 2 || type == 3 { n += 1 }
            off += total
            ends[off] = n
        }
        return ends
    default:
        return nil
    }
}

extension CaptureInfo {
    /// decoded + every skipped reason == frames.
    var balanced: Bool { accounting.decoded + accounting.skipped.values.reduce(0, +) == accounting.frames }
}
