import KZWire

/// Walks pcapng blocks (draft-ietf-opsawg-pcapng §4): Section Header, Interface Description (with `if_tsresol` and
/// `if_tsoffset`), Enhanced, Simple and obsolete Packet blocks. Several sections, byte orders, interfaces and link types
/// per file are supported; other blocks are skipped by their length.
enum PcapngWalker {
    struct Interface {
        var linkType: LinkType
        var snaplen: Int
        /// Timestamp units per second as (base, exponent): 10^6 by default.
        var unitsPerSecond: UInt64 = 1_000_000
        var digits: UInt8 = 6
        var offsetSeconds: Int64 = 0
    }

    static let maxBlock = 16 * 1024 * 1024

    /// Link types of all interfaces (for the capture summary); stops quietly at damage.
    static func scanInterfaces<S: CaptureSource>(_ s: inout S) -> [Interface] {
        var out: [Interface] = []
        _ = walkBlocks(&s, path: "", onInterface: { out.append($0) }, deliver: false, body: { _ in })
        return out
    }

    static func scanInterfaces(_ b: UnsafeRawBufferPointer) -> [Interface] {
        var source = MemorySource(b)
        return scanInterfaces(&source)
    }

    static func walk(_ b: UnsafeRawBufferPointer, path: String, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        var source = MemorySource(b)
        return walk(&source, path: path, body)
    }

    static func walk<S: CaptureSource>(_ s: inout S, path: String, _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        walkBlocks(&s, path: path, onInterface: { _ in }, deliver: true, body: body)
    }

    private static func walkBlocks<S: CaptureSource>(_ s: inout S, path: String, onInterface: (Interface) -> Void,
                                                     deliver: Bool, body: (CaptureFrame) -> Void) -> CaptureEnd {
        let n = s.count
        var off = 0
        var frame = 0
        var swapped = false
        var interfaces: [Interface] = []
        var sawSection = false
        func fail(_ k: CaptureError.Kind, _ at: Int, _ msg: String) -> CaptureEnd {
            .failed(CaptureError(k, path: path, offset: at, frame: frame, msg))
        }
        func unreadable(_ at: Int) -> CaptureEnd { fail(.truncated, at, s.failure ?? "cannot read") }

        while off < n {
            guard off + 12 <= n else { return fail(.truncated, off, "truncated block header (\(n - off) bytes left)") }
            guard var b = s.bytes(at: off, length: 12) else { return unreadable(off) }
            let type = b.le32(0)
            if type == 0x0a0d_0d0a {
                guard off + 28 <= n else { return fail(.truncated, off, "truncated section header block") }
                guard let shb = s.bytes(at: off, length: 28) else { return unreadable(off) }
                b = shb
                let bom = b.le32(8)
                if bom == 0x1a2b_3c4d { swapped = false } else if bom == 0x4d3c_2b1a { swapped = true } else {
                    return fail(.corrupt, off + 8, "bad byte-order magic in section header")
                }
                let major = swapped ? b.be16(12) : b.le16(12)
                guard major == 1 else { return fail(.unsupportedVersion, off + 12, "unsupported pcapng version \(major)") }
                interfaces.removeAll(keepingCapacity: true)
                sawSection = true
            } else if !sawSection {
                return fail(.corrupt, off, "pcapng block before the first section header")
            }
            let total = Int(swapped ? b.be32(4) : b.le32(4))
            guard total >= 12, total % 4 == 0 else {
                return fail(.corrupt, off + 4, "block total length \(total) is not a multiple of 4 of at least 12")
            }
            guard total <= maxBlock else { return fail(.corrupt, off + 4, "block total length \(total) is too large") }
            guard off + total <= n else {
                return fail(.truncated, off, "truncated block: \(total) bytes declared, \(n - off) present")
            }
            // The whole block, read once; every offset below is relative to its start.
            guard let blk = s.bytes(at: off, length: total) else { return unreadable(off) }
            b = blk
            @inline(__always) func u32(_ o: Int) -> UInt32 { swapped ? b.be32(o) : b.le32(o) }
            @inline(__always) func u16(_ o: Int) -> UInt16 { swapped ? b.be16(o) : b.le16(o) }
            guard Int(u32(total - 4)) == total else {
                return fail(.corrupt, off + total - 4, "block trailer length does not match header length \(total)")
            }
            let bodyStart = 8
            let bodyEnd = total - 4
            switch u32(0) {
            case 1:   // Interface Description Block
                guard bodyEnd - bodyStart >= 8 else { return fail(.corrupt, off, "interface description block too short") }
                var iface = Interface(linkType: LinkType(rawValue: UInt32(u16(bodyStart))), snaplen: Int(u32(bodyStart + 4)))
                var o = bodyStart + 8
                while o + 4 <= bodyEnd {
                    let code = u16(o), len = Int(u16(o + 2))
                    if code == 0 { break }
                    guard o + 4 + len <= bodyEnd else { break }
                    if code == 9 && len >= 1 {
                        let r = b[o + 4]
                        let exp = Int(r & 0x7f)
                        if r & 0x80 == 0 {
                            if exp <= 18 {
                                var u: UInt64 = 1
                                for _ in 0..<exp { u *= 10 }
                                iface.unitsPerSecond = u
                                iface.digits = UInt8(min(exp, 9))
                            }
                        } else if exp <= 63 {
                            iface.unitsPerSecond = UInt64(1) << UInt64(exp)
                            iface.digits = 9
                        }
                    } else if code == 14 && len == 8 {
                        let lo = UInt64(u32(o + 4)), hi = UInt64(u32(o + 8))
                        iface.offsetSeconds = Int64(bitPattern: swapped ? (lo << 32 | hi) : (hi << 32 | lo))
                    }
                    o += 4 + ((len + 3) & ~3)
                }
                interfaces.append(iface)
                onInterface(iface)
            case 6, 2:  // Enhanced Packet Block; obsolete Packet Block
                guard deliver else { break }
                let enhanced = u32(0) == 6
                guard bodyEnd - bodyStart >= 20 else { return fail(.corrupt, off, "packet block too short") }
                let ifID = enhanced ? Int(u32(bodyStart)) : Int(u16(bodyStart))
                guard ifID < interfaces.count else {
                    return fail(.corrupt, off + bodyStart, "packet for undefined interface \(ifID)")
                }
                let iface = interfaces[ifID]
                let tsRaw = UInt64(u32(bodyStart + 4)) << 32 | UInt64(u32(bodyStart + 8))
                let caplen = Int(u32(bodyStart + 12))
                let wire = Int(u32(bodyStart + 16))
                let data = bodyStart + 20
                guard caplen <= bodyEnd - data else {
                    return fail(.corrupt, off + bodyStart + 12, "packet captured length \(caplen) exceeds its block")
                }
                frame += 1
                body(CaptureFrame(number: frame, timestamp: timestamp(tsRaw, iface), capturedLength: caplen,
                                  wireLength: wire, linkType: iface.linkType, interfaceID: ifID,
                                  bytes: b.slice(data..<(data + caplen))))
            case 3:   // Simple Packet Block: interface 0, no timestamp
                guard deliver else { break }
                guard bodyEnd - bodyStart >= 4 else { return fail(.corrupt, off, "simple packet block too short") }
                guard !interfaces.isEmpty else { return fail(.corrupt, off, "simple packet block without an interface") }
                let wire = Int(u32(bodyStart))
                let data = bodyStart + 4
                var caplen = min(wire, bodyEnd - data)
                if interfaces[0].snaplen > 0 { caplen = min(caplen, interfaces[0].snaplen) }
                frame += 1
                body(CaptureFrame(number: frame, timestamp: Timestamp(nanoseconds: 0, digits: interfaces[0].digits),
                                  capturedLength: caplen, wireLength: wire, linkType: interfaces[0].linkType,
                                  interfaceID: 0, bytes: b.slice(data..<(data + caplen))))
            default:
                break
            }
            off += total
        }
        return .complete
    }

    @inline(__always)
    static func timestamp(_ raw: UInt64, _ i: Interface) -> Timestamp {
        let ups = i.unitsPerSecond
        let sec = raw / ups
        let frac = raw % ups
        let ns: UInt64
        if ups == 1_000_000 { ns = frac &* 1000 }
        else if ups == 1_000_000_000 { ns = frac }
        else { ns = UInt64((Double(frac) / Double(ups) * 1e9).rounded(.down)) }
        let total = (Int64(truncatingIfNeeded: sec) &+ i.offsetSeconds) &* 1_000_000_000 &+ Int64(truncatingIfNeeded: ns)
        return Timestamp(nanoseconds: total, digits: i.digits)
    }
}
