import CPcap
import KZWire

/// Reads a capture through libpcap's `pcap_next_ex`, opened with nanosecond precision. libpcap accepts one link type
/// per pcapng file; the native walker does not have that limit.
enum LibpcapWalker {
    static func walk(path: String, digits: UInt8, filter: BPFFilter?, filteredOut: inout Int,
                     _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            let msg = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .failed(CaptureError(.libpcap, path: path, frame: 0, msg))
        }
        defer { pcap_close(h) }
        let lt = LinkType(dlt: pcap_datalink(h))
        var hdr: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        var frame = 0
        while true {
            let rc = pcap_next_ex(h, &hdr, &data)
            if rc == 1, let hp = hdr, let dp = data {
                frame += 1
                let caplen = Int(hp.pointee.caplen)
                let ts = Int64(hp.pointee.ts.tv_sec) * 1_000_000_000 + Int64(hp.pointee.ts.tv_usec)
                let f = CaptureFrame(number: frame, timestamp: Timestamp(nanoseconds: ts, digits: digits),
                                     capturedLength: caplen, wireLength: Int(hp.pointee.len), linkType: lt,
                                     interfaceID: 0, bytes: UnsafeRawBufferPointer(start: dp, count: caplen))
                if let filter, !filter.matches(f) { filteredOut += 1; continue }
                body(f)
            } else if rc == -2 {
                return .complete
            } else if rc == 0 {
                continue
            } else {
                let msg = String(cString: pcap_geterr(h))
                return .failed(CaptureError(.libpcap, path: path, frame: frame, msg))
            }
        }
    }
}

/// libpcap's DLT_ number for a LINKTYPE_ value (they differ for raw IP).
func dltForLinkType(_ lt: LinkType) -> Int32 {
    lt.rawValue == 101 ? 12 : Int32(bitPattern: lt.rawValue)
}
