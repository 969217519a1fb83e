import Foundation
import KZCapture
import KZWire

/// Reads and decodes a whole capture in-process, as `kzforensics packets` does.
struct OurDecode {
    var packets: [DecodedPacket] = []
    var accounting = PacketAccounting()
    var end: CaptureEnd = .complete
    /// Set when the file could not even be opened.
    var openError: CaptureError?

    init(_ url: URL, engine: CaptureEngine = .native) {
        let reader: CaptureReader
        do { reader = try CaptureReader(path: url.path, engine: engine) } catch {
            openError = error
            return
        }
        let decoder = PacketDecoder()
        var pk: [DecodedPacket] = []
        var acct = PacketAccounting()
        end = reader.forEachFrame { f in
            let p = decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                   linkType: f.linkType)
            acct.count(p.status)
            pk.append(p)
        }
        packets = pk
        accounting = acct
    }
}

/// What a reader engine delivers for one frame, with the bytes reduced to a hash (FNV-1a 64).
struct FrameFingerprint: Equatable, CustomStringConvertible {
    var number: Int
    var nanoseconds: Int64
    var digits: UInt8
    var capturedLength: Int
    var wireLength: Int
    var linkType: UInt32
    var bytesHash: UInt64

    init(_ f: CaptureFrame) {
        number = f.number
        nanoseconds = f.timestamp.nanoseconds
        digits = f.timestamp.digits
        capturedLength = f.capturedLength
        wireLength = f.wireLength
        linkType = f.linkType.rawValue
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in f.bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        bytesHash = h
    }
    var description: String {
        "#\(number) ts=\(nanoseconds)/\(digits) caplen=\(capturedLength) len=\(wireLength) lt=\(linkType) h=\(bytesHash)"
    }

    static func read(_ url: URL, engine: CaptureEngine) -> (frames: [FrameFingerprint], end: CaptureEnd?, open: CaptureError?) {
        let reader: CaptureReader
        do { reader = try CaptureReader(path: url.path, engine: engine) } catch { return ([], nil, error) }
        var out: [FrameFingerprint] = []
        let end = reader.forEachFrame { out.append(FrameFingerprint($0)) }
        return (out, end, nil)
    }
}

/// Interface Description Blocks of a pcapng file, read independently of KZCapture (pcapng §4.2): (link type, snaplen).
/// Used to predict which files libpcap cannot read as a whole.
enum PcapngInterfaces {
    static func scan(_ url: URL) -> [(linkType: UInt16, snaplen: UInt32, tsresol: UInt8)]? {
        guard let d = try? Data(contentsOf: url), d.count >= 28 else { return nil }
        let b = [UInt8](d)
        func le32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        guard le32(0) == 0x0a0d_0d0a else { return nil }
        var out: [(UInt16, UInt32, UInt8)] = []
        var off = 0
        var swapped = false
        func u32(_ o: Int) -> UInt32 { let v = le32(o); return swapped ? v.byteSwapped : v }
        func u16(_ o: Int) -> UInt16 {
            let v = UInt16(b[o]) | UInt16(b[o + 1]) << 8
            return swapped ? v.byteSwapped : v
        }
        while off + 12 <= b.count {
            if le32(off) == 0x0a0d_0d0a {
                let bom = le32(off + 8)
                if bom == 0x1a2b_3c4d { swapped = false } else if bom == 0x4d3c_2b1a { swapped = true } else { break }
            }
            let total = Int(u32(off + 4))
            guard total >= 12, off + total <= b.count else { break }
            if u32(off) == 1 && total >= 20 {
                var tsresol: UInt8 = 6                                 // if_tsresol (option 9), default 10^-6
                var o = off + 16
                while o + 4 <= off + total - 4 {
                    let code = u16(o), len = Int(u16(o + 2))
                    if code == 0 { break }
                    if code == 9 && len >= 1 && o + 4 < b.count { tsresol = b[o + 4] }
                    o += 4 + ((len + 3) & ~3)
                }
                out.append((u16(off + 8), u32(off + 12), tsresol))
            }
            off += total
        }
        return out
    }
}
