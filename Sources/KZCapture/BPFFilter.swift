import CPcap
import KZWire

/// A BPF filter expression compiled by libpcap (`pcap_compile` on a dead handle per link type) and run offline with
/// `pcap_offline_filter`, as `tcpdump -r FILE EXPR` does. Programs are compiled lazily for each link type seen.
public final class BPFFilter {
    public let expression: String
    private var programs: [UInt32: UnsafeMutablePointer<bpf_program>] = [:]
    private var failed: [UInt32: String] = [:]

    /// Compiles once for Ethernet to report syntax errors early.
    public init(_ expression: String, validateFor linkType: LinkType = .ethernet) throws(CaptureError) {
        self.expression = expression
        if let err = compile(linkType) {
            throw CaptureError(.filter, path: "--filter", "cannot compile filter '\(expression)': \(err)")
        }
    }

    deinit {
        for (_, p) in programs {
            pcap_freecode(p)
            p.deallocate()
        }
    }

    /// Returns an error message, or nil when the program for `lt` is ready.
    private func compile(_ lt: LinkType) -> String? {
        if programs[lt.rawValue] != nil { return nil }
        if let e = failed[lt.rawValue] { return e }
        guard let dead = pcap_open_dead(dltForLinkType(lt), Int32(maxRecordLength)) else { return "pcap_open_dead failed" }
        defer { pcap_close(dead) }
        let prog = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        prog.initialize(to: bpf_program())
        if pcap_compile(dead, prog, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let e = String(cString: pcap_geterr(dead))
            prog.deallocate()
            failed[lt.rawValue] = e
            return e
        }
        programs[lt.rawValue] = prog
        return nil
    }

    /// Whether the frame passes. A link type the expression cannot compile for matches nothing.
    public func matches(_ f: CaptureFrame) -> Bool {
        if compile(f.linkType) != nil { return false }
        guard let prog = programs[f.linkType.rawValue], let base = f.bytes.baseAddress else { return false }
        var hdr = pcap_pkthdr()
        hdr.caplen = UInt32(f.capturedLength)
        hdr.len = UInt32(f.wireLength)
        return pcap_offline_filter(prog, &hdr, base.assumingMemoryBound(to: UInt8.self)) != 0
    }
}
