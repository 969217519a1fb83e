import CPcap
import KZWire

/// Writes a classic pcap file with nanosecond timestamps through libpcap's dump API (`pcap_dump_open`), so evidence
/// extracts open in Wireshark and tcpdump exactly as the original frames.
public final class PcapWriter {
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    public let linkType: LinkType
    public private(set) var written = 0

    public init(path: String, linkType: LinkType) throws(CaptureError) {
        guard let d = pcap_open_dead_with_tstamp_precision(dltForLinkType(linkType), Int32(maxRecordLength),
                                                            UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw CaptureError(.libpcap, path: path, "pcap_open_dead failed")
        }
        guard let w = pcap_dump_open(d, path) else {
            let e = String(cString: pcap_geterr(d))
            pcap_close(d)
            throw CaptureError(.cannotOpen, path: path, e)
        }
        dead = d
        dumper = w
        self.linkType = linkType
    }

    public func write(_ f: CaptureFrame) {
        var hdr = pcap_pkthdr()
        hdr.ts.tv_sec = Int(f.timestamp.nanoseconds / 1_000_000_000)
        hdr.ts.tv_usec = Int(f.timestamp.nanoseconds % 1_000_000_000)
        hdr.caplen = UInt32(f.capturedLength)
        hdr.len = UInt32(f.wireLength)
        guard let base = f.bytes.baseAddress else { return }
        UnsafeMutableRawPointer(dumper).withMemoryRebound(to: UInt8.self, capacity: 1) { user in
            pcap_dump(user, &hdr, base.assumingMemoryBound(to: UInt8.self))
        }
        written += 1
    }

    public func close() {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }
}
