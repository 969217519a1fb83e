import CPcap
import KZWire

/// File format of a capture.
public enum CaptureFormat: String, Sendable, Codable {
    case pcap, pcapng
}

/// Which implementation reads records. `native` reads the file front to back into a reused buffer (classic pcap and pcapng, several link types per
/// pcapng file); `libpcap` uses `pcap_next_ex` (one link type per file, as libpcap allows). Both give the same frames.
public enum CaptureEngine: String, Sendable, CaseIterable {
    case native, libpcap
}

/// Opens a capture file and delivers its frames in order. Reading a damaged file stops at the damage with a
/// `CaptureError` naming the file, byte offset and last frame; frames before it are delivered normally.
public final class CaptureReader {
    public let path: String
    public let format: CaptureFormat
    public let engine: CaptureEngine
    /// Link types seen in the file's headers (classic: one; pcapng: one per interface, in interface order).
    public private(set) var linkTypes: [LinkType]
    public let fileSize: Int
    /// The file, for the native engine (nil for libpcap, which opens it itself).
    private let source: FileSource?
    /// Fractional digits of the first interface (used by the libpcap engine, which always yields nanoseconds).
    private let firstDigits: UInt8

    public init(path: String, engine: CaptureEngine = .native) throws(CaptureError) {
        self.path = path
        self.engine = engine
        let file = try FileSource(path: path)
        fileSize = file.count
        guard file.count >= 4 else {
            throw CaptureError(.notACapture, path: path, offset: 0,
                               file.count == 0 ? "empty file, not a capture" : "file too short to be a capture")
        }
        guard let head = file.bytes(at: 0, length: min(file.count, 24)) else {
            throw CaptureError(.cannotOpen, path: path, offset: 0, file.failure ?? "cannot read the file")
        }
        let magic = head.le32(0)
        switch magic {
        case 0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0xa1b2_cd34, 0x34cd_b2a1:
            format = .pcap
            let h = try ClassicPcapHeader(head, path: path)
            linkTypes = [h.linkType]
            firstDigits = h.nanosecond ? 9 : 6
        case 0x0a0d_0d0a:
            format = .pcapng
            var scan = file
            let ifaces = PcapngWalker.scanInterfaces(&scan)
            linkTypes = ifaces.map(\.linkType)
            firstDigits = ifaces.first?.digits ?? 6
        default:
            throw CaptureError(.notACapture, path: path, offset: 0,
                               "not a pcap or pcapng file (magic 0x\(String(magic, radix: 16)))")
        }
        source = engine == .native ? file : nil
    }

    /// Calls `body` for every frame. `filter` (a compiled BPF program per link type) drops frames before `body`;
    /// dropped frames still count in frame numbering, as in Wireshark. Returns how reading ended.
    @discardableResult
    public func forEachFrame(filter: BPFFilter? = nil, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        var filtered = 0
        return forEachFrame(filter: filter, filteredOut: &filtered, body)
    }

    public func forEachFrame(filter: BPFFilter?, filteredOut: inout Int, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        switch engine {
        case .native:
            guard var src = source else { return .complete }
            var dropped = 0
            let end: CaptureEnd
            if format == .pcap {
                end = ClassicPcapWalker.walk(&src, path: path) { f in
                    if let filter, !filter.matches(f) { dropped += 1; return }
                    body(f)
                }
            } else {
                end = PcapngWalker.walk(&src, path: path) { f in
                    if let filter, !filter.matches(f) { dropped += 1; return }
                    body(f)
                }
            }
            filteredOut = dropped
            return end
        case .libpcap:
            return LibpcapWalker.walk(path: path, digits: firstDigits, filter: filter, filteredOut: &filteredOut, body)
        }
    }
}

/// Classic libpcap file header (pcap-savefile(5)).
struct ClassicPcapHeader {
    var swapped: Bool
    var nanosecond: Bool
    var kuznetzov: Bool
    var snaplen: UInt32
    var linkType: LinkType

    init(_ b: UnsafeRawBufferPointer, path: String) throws(CaptureError) {
        guard b.count >= 24 else {
            throw CaptureError(.truncated, path: path, offset: b.count, "truncated pcap file header (\(b.count) of 24 bytes)")
        }
        let m = b.le32(0)
        swapped = m == 0xd4c3_b2a1 || m == 0x4d3c_b2a1 || m == 0x34cd_b2a1
        nanosecond = m == 0xa1b2_3c4d || m == 0x4d3c_b2a1
        kuznetzov = m == 0xa1b2_cd34 || m == 0x34cd_b2a1
        let major = swapped ? b.be16(4) : b.le16(4)
        let minor = swapped ? b.be16(6) : b.le16(6)
        guard major == 2 && minor <= 4 else {      // libpcap sf-pcap.c accepts 2.0 through 2.4
            throw CaptureError(.unsupportedVersion, path: path, offset: 4, "unsupported pcap version \(major).\(minor)")
        }
        snaplen = swapped ? b.be32(16) : b.le32(16)
        let lt = swapped ? b.be32(20) : b.le32(20)
        linkType = LinkType(rawValue: lt & 0xffff)
    }
}

/// The libpcap limit on a record's captured length (pcap-common.c `max_snaplen_for_dlt`).
let maxRecordLength = 262_144

/// Walks classic pcap records, as libpcap's sf-pcap.c reads them.
enum ClassicPcapWalker {
    static func walk(_ b: UnsafeRawBufferPointer, path: String, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        var source = MemorySource(b)
        return walk(&source, path: path, body)
    }

    static func walk<S: CaptureSource>(_ s: inout S, path: String, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        let n = s.count
        guard let fileHeader = s.bytes(at: 0, length: min(n, 24)) else {
            return .failed(CaptureError(.truncated, path: path, offset: 0, s.failure ?? "cannot read the file header"))
        }
        let h: ClassicPcapHeader
        do { h = try ClassicPcapHeader(fileHeader, path: path) } catch { return .failed(error) }
        let snap = (h.snaplen == 0 || h.snaplen > UInt32(maxRecordLength)) ? maxRecordLength : Int(h.snaplen)
        let recHeader = h.kuznetzov ? 24 : 16
        let digits: UInt8 = h.nanosecond ? 9 : 6
        let fracScale: Int64 = h.nanosecond ? 1 : 1000
        var off = 24
        var frame = 0
        let swapped = h.swapped
        func unreadable(_ at: Int) -> CaptureEnd {
            .failed(CaptureError(.truncated, path: path, offset: at, frame: frame, s.failure ?? "cannot read"))
        }
        while off < n {
            guard off &+ recHeader <= n else {
                return .failed(CaptureError(.truncated, path: path, offset: off, frame: frame,
                                            "truncated record header (\(n - off) of \(recHeader) bytes)"))
            }
            guard let rh = s.bytes(at: off, length: recHeader) else { return unreadable(off) }
            let sec = swapped ? rh.be32(0) : rh.le32(0)
            // libpcap's savefile header declares the fraction as a signed 32-bit field; out-of-range values are kept
            // as libpcap yields them (tcpdump's timestamp_invalid_* tests).
            let frac = Int32(bitPattern: swapped ? rh.be32(4) : rh.le32(4))
            let caplen = Int(swapped ? rh.be32(8) : rh.le32(8))
            let wire = Int(swapped ? rh.be32(12) : rh.le32(12))
            guard caplen <= maxRecordLength else {
                return .failed(CaptureError(.corrupt, path: path, offset: off, frame: frame,
                                            "record captured length \(caplen) exceeds the maximum \(maxRecordLength)"))
            }
            let data = off &+ recHeader
            guard data &+ caplen <= n else {
                return .failed(CaptureError(.truncated, path: path, offset: off, frame: frame,
                                            "truncated record: \(caplen) captured bytes declared, \(n - data) present"))
            }
            let deliver = min(caplen, snap)
            guard let bytes = s.bytes(at: data, length: deliver) else { return unreadable(data) }
            frame &+= 1
            let ts = Int64(sec) &* 1_000_000_000 &+ Int64(frac) &* fracScale
            body(CaptureFrame(number: frame, timestamp: Timestamp(nanoseconds: ts, digits: digits),
                              capturedLength: deliver, wireLength: wire, linkType: h.linkType, interfaceID: 0,
                              bytes: bytes))
            off = data &+ caplen
        }
        return .complete
    }
}
