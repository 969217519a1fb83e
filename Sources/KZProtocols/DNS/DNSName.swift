/// Domain-name decoding with message compression (RFC 1035 §3.1, §4.1.4), hardened for hostile input.
///
/// Rules enforced (each violation ends the name with a named anomaly and a partial result):
/// - a compression pointer must point strictly before the start of the label run it was read from
///   (so every jump goes further back and decoding always terminates); a pointer at or after its own
///   position is `dns.name_forward_pointer`, one into the run already being read is `dns.name_pointer_loop`;
/// - at most `maxJumps` pointers per name (`dns.name_pointer_loop`);
/// - the wire length of the name is at most 255 octets (`dns.name_too_long`);
/// - label types 0x40 and 0x80 (RFC 6891 §5, RFC 2673) are not decoded (`dns.name_bad_label_type`);
/// - running off the data is `dns.name_truncated`.
///
/// Names are returned in presentation form in their original case, without the trailing dot; the root is ".".
/// Label bytes outside printable ASCII, and `.` and `\` inside a label, are escaped as `\DDD` / `\.` / `\\`.
public enum DNSName {
    /// Maximum compression pointers followed for one name.
    public static let maxJumps = 64
    /// Maximum wire length of a name (RFC 1035 §3.1).
    public static let maxWireLength = 255

    /// Result of reading one name.
    struct Read {
        var name: String
        /// Offset just past the name at its original position (after the first pointer if any);
        /// nil when that position is unknown because the name failed before a terminator or pointer.
        var next: Int?
        var ok: Bool
    }

    /// Longest presentation form `read` can produce: at most 127 labels and 253 label octets in 255 wire octets, each
    /// octet at most four characters (`\DDD`), plus the dots between labels.
    static let maxPresentationLength = 253 * 4 + 127

    static func read(_ b: UnsafeRawBufferPointer, at start: Int, anomalies: inout [DNSAnomaly]) -> Read {
        // The presentation form is written straight into one stack buffer (one String at the end, none per label).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxPresentationLength) { out in
            read(b, at: start, anomalies: &anomalies, into: out)
        }
    }

    private static func read(_ b: UnsafeRawBufferPointer, at start: Int, anomalies: inout [DNSAnomaly],
                             into out: UnsafeMutableBufferPointer<UInt8>) -> Read {
        var pos = start
        var next: Int? = nil
        var runStart = start
        var jumps = 0
        var wireLength = 0
        var written = 0
        func finish(_ ok: Bool) -> Read {
            let name = written == 0 ? "." : String(decoding: UnsafeBufferPointer(rebasing: out[0..<written]), as: UTF8.self)
            return Read(name: name, next: next, ok: ok)
        }
        while true {
            guard pos >= 0, pos < b.count else {
                anomalies.append(DNSAnomaly("dns.name_truncated", "name at \(start) runs past the data", offset: start))
                return finish(false)
            }
            let len = Int(b[pos])
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    wireLength += 1
                    if next == nil { next = pos + 1 }
                    return finish(true)
                }
                guard pos + 1 + len <= b.count else {
                    anomalies.append(DNSAnomaly("dns.name_truncated", "label at \(pos) runs past the data", offset: start))
                    return finish(false)
                }
                wireLength += len + 1
                if wireLength + 1 > maxWireLength {
                    anomalies.append(DNSAnomaly("dns.name_too_long", "name at \(start) exceeds \(maxWireLength) octets", offset: start))
                    return finish(false)
                }
                if written > 0 { out[written] = UInt8(ascii: "."); written += 1 }
                written = appendEscapedLabel(UnsafeRawBufferPointer(rebasing: b[(pos + 1)..<(pos + 1 + len)]),
                                             to: out, at: written)
                pos += 1 + len
            case 0xC0:
                guard pos + 1 < b.count else {
                    anomalies.append(DNSAnomaly("dns.name_truncated", "pointer at \(pos) cut", offset: start))
                    return finish(false)
                }
                let target = (len & 0x3F) << 8 | Int(b[pos + 1])
                if next == nil { next = pos + 2 }
                if target == pos {
                    anomalies.append(DNSAnomaly("dns.name_pointer_loop", "pointer at \(pos) points to itself", offset: start))
                    return finish(false)
                }
                if target > pos {
                    anomalies.append(DNSAnomaly("dns.name_forward_pointer", "pointer at \(pos) to \(target)", offset: start))
                    return finish(false)
                }
                if target >= runStart {
                    anomalies.append(DNSAnomaly("dns.name_pointer_loop", "pointer at \(pos) back into its own run at \(target)", offset: start))
                    return finish(false)
                }
                jumps += 1
                if jumps > maxJumps {
                    anomalies.append(DNSAnomaly("dns.name_pointer_loop", "more than \(maxJumps) pointers", offset: start))
                    return finish(false)
                }
                runStart = target
                pos = target
            default:
                anomalies.append(DNSAnomaly("dns.name_bad_label_type", "label type 0x\(String(len & 0xC0, radix: 16)) at \(pos)", offset: start))
                return finish(false)
            }
        }
    }

    /// Presentation-form escaping of one label (RFC 1035 §5.1, RFC 4343 §2.1): writes `label` into `out` from `start`
    /// with `.` and `\` as `\.` and `\\`, octets outside 0x21...0x7E as `\DDD`; returns the end. `out` has room for
    /// four characters per octet.
    static func appendEscapedLabel(_ label: UnsafeRawBufferPointer, to out: UnsafeMutableBufferPointer<UInt8>,
                                   at start: Int) -> Int {
        var w = start
        for c in label {
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "\\") {
                out[w] = UInt8(ascii: "\\"); out[w + 1] = c; w += 2
            } else if c > 0x20 && c < 0x7f {
                out[w] = c; w += 1
            } else {
                out[w] = UInt8(ascii: "\\")
                out[w + 1] = UInt8(ascii: "0") + c / 100
                out[w + 2] = UInt8(ascii: "0") + c / 10 % 10
                out[w + 3] = UInt8(ascii: "0") + c % 10
                w += 4
            }
        }
        return w
    }

    /// Escapes a TXT character-string for display (`"` and `\` escaped, non-printables as `\DDD`).
    public static func escapeText(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        for c in bytes {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                out.append(UInt8(ascii: "\\")); out.append(c)
            } else if c >= 0x20 && c < 0x7f {
                out.append(c)
            } else {
                out.append(UInt8(ascii: "\\"))
                out.append(contentsOf: Array(format3(c).utf8))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func format3(_ c: UInt8) -> String {
        let s = String(c)
        return String(repeating: "0", count: 3 - s.count) + s
    }
}
