/// Builds Zeek's conn.log `history` string (scripts/base/protocols/conn/main.zeek, `Conn::Info$history`):
///
/// | letter | meaning |
/// |---|---|
/// | s | a SYN without the ACK bit |
/// | h | a SYN+ACK ("handshake") |
/// | a | a pure ACK |
/// | d | a packet with payload ("data") |
/// | f | a packet with FIN |
/// | r | a packet with RST |
/// | c | a packet with a bad checksum (UDP too) |
/// | g | a content gap |
/// | t | a packet with retransmitted payload |
/// | w | a packet with a zero window advertisement |
/// | i | an inconsistent packet (FIN+RST) |
/// | q | a multi-flag packet (SYN+FIN or SYN+RST) |
/// | ^ | the direction was flipped by the role heuristic |
/// | x | analysis partial (limits exceeded) |
///
/// Upper case when the originator sent it, lower case for the responder. `a`, `d`, `i`, `q` (and `x`, `^`) at most once
/// per direction; `s`, `h`, `f`, `r` again whenever the sequence number differs from the last packet with the same
/// flag; `c`, `g`, `t`, `w` logarithmically (1st, 10th, 100th… occurrence).
///
/// 72 bytes per flow and no heap block for most: the vectors come first (no padding before them), each threshold is
/// kept as its exponent, and the first `inlineLetters` letters (a whole typical history) are stored inline; only longer
/// histories put the rest in `more`. The last SYN, FIN and RST sequence numbers, which only TCP flows use, live in the
/// flow's TCP state (`TCPHistoryMarks`), not in every flow's slot.
@usableFromInline struct ConnHistory: Sendable {
    /// Counters for c, g, t, w per direction (index = kind * 2 + direction).
    var counts = SIMD8<UInt32>(repeating: 0)
    /// The next letter of `counts[i]` is written when it reaches `thresholdPowers[exponents[i]]` (10^k in UInt32
    /// arithmetic, as a threshold multiplied by 10 at each letter would be).
    var exponents = SIMD8<UInt8>(repeating: 0)
    /// The first `inlineLetters` letters, then the rest in `more`; `count` letters in all.
    var first = InlineArray<16, UInt8>(repeating: 0)
    var more: [UInt8] = []
    var count: UInt8 = 0
    static let inlineLetters = 16
    /// Bits of letters already seen once: bit (letter index) + 16 for the responder.
    @usableFromInline var seen: UInt32 = 0
    static let maxLetters = 64
    /// 10^k wrapped to 32 bits, k = 0...32 (from 10^32 on it is 0: 2^32 divides 10^k).
    static let thresholdPowers: [UInt32] = {
        var p: [UInt32] = [1]
        for _ in 0..<32 { p.append(p[p.count - 1] &* 10) }
        return p
    }()

    @usableFromInline enum Once: Int { case a = 0, d, i, q, s, h, f, r, x, flip }
    @usableFromInline enum Scaled: Int { case c = 0, g, t, w }

    /// The letters in order.
    var letters: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(count))
        for i in 0..<Int(count) { out.append(letter(i)) }
        return out
    }

    @inline(__always) func letter(_ i: Int) -> UInt8 { i < Self.inlineLetters ? first[i] : more[i - Self.inlineLetters] }

    var string: String { String(decoding: letters, as: UTF8.self) }

    @inline(__always) mutating func add(_ upper: UInt8, _ orig: Bool) {
        guard Int(count) < Self.maxLetters else { return }
        append(orig ? upper : upper | 0x20)
    }

    @inline(__always) private mutating func append(_ c: UInt8) {
        let n = Int(count)
        if n < Self.inlineLetters {
            first[n] = c
        } else {
            if more.capacity == 0 { more.reserveCapacity(16) }
            more.append(c)
        }
        count &+= 1
    }

    /// Records `upper` once per direction; returns true when it had been seen before.
    @inline(__always) @discardableResult
    mutating func once(_ kind: Once, _ upper: UInt8, _ orig: Bool) -> Bool {
        let bit: UInt32 = 1 << UInt32(kind.rawValue + (orig ? 0 : 16))
        if seen & bit != 0 { return true }
        seen |= bit
        add(upper, orig)
        return false
    }

    /// `^` is written by Zeek without case, once.
    mutating func flipped() {
        let bit: UInt32 = 1 << UInt32(Once.flip.rawValue)
        guard seen & bit == 0 else { return }
        seen |= bit
        let old = letters
        count = 0
        more = []
        append(UInt8(ascii: "^"))
        for c in old { append(c) }
    }

    mutating func scaled(_ kind: Scaled, _ upper: UInt8, _ orig: Bool) {
        let i = kind.rawValue * 2 + (orig ? 0 : 1)
        counts[i] &+= 1
        let e = exponents[i]
        if counts[i] == Self.thresholdPowers[Int(e)] {
            if e < 32 { exponents[i] = e + 1 }
            add(upper, orig)
        }
    }

    /// Zeek's `update_history` for one TCP packet (`rel` = sequence number, `len` = payload length); `marks` are the
    /// flow's last SYN, FIN and RST sequence numbers.
    mutating func tcp(flags: UInt16, seq: UInt32, len: Int, orig: Bool, marks: inout TCPHistoryMarks) {
        let syn = flags & 0x02 != 0, fin = flags & 0x01 != 0, rst = flags & 0x04 != 0, ack = flags & 0x10 != 0
        let bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0)
        if bits > 1 {
            if fin && rst { once(.i, UInt8(ascii: "I"), orig) } else { once(.q, UInt8(ascii: "Q"), orig) }
        } else if bits == 1 {
            if syn {
                let code = ack ? UInt8(ascii: "H") : UInt8(ascii: "S")
                let kind: Once = ack ? .h : .s
                let last = orig ? marks.lastSYN.0 : marks.lastSYN.1
                if once(kind, code, orig) && seq != last { add(code, orig) }
                if orig { marks.lastSYN.0 = seq } else { marks.lastSYN.1 = seq }
            }
            if fin {
                // The FIN's sequence number comes after the data it carries.
                let s = seq &+ UInt32(truncatingIfNeeded: len)
                let last = orig ? marks.lastFIN.0 : marks.lastFIN.1
                if once(.f, UInt8(ascii: "F"), orig) && s != last { add(UInt8(ascii: "F"), orig) }
                if orig { marks.lastFIN.0 = s } else { marks.lastFIN.1 = s }
            }
            if rst {
                let last = orig ? marks.lastRST.0 : marks.lastRST.1
                if once(.r, UInt8(ascii: "R"), orig) && seq != last { add(UInt8(ascii: "R"), orig) }
                if orig { marks.lastRST.0 = seq } else { marks.lastRST.1 = seq }
            }
        } else if len > 0 {
            once(.d, UInt8(ascii: "D"), orig)
        } else if ack {
            once(.a, UInt8(ascii: "A"), orig)
        }
    }

    /// Zeek's RSTOS0 test: `/^?S[^HAFGIQ]*R.*/` on the history.
    var matchesRSTOS0: Bool {
        var i = 0
        let n = Int(count)
        if i < n && letter(i) == UInt8(ascii: "^") { i += 1 }
        guard i < n, letter(i) == UInt8(ascii: "S") else { return false }
        i += 1
        while i < n {
            let c = letter(i)
            if c == UInt8(ascii: "R") { return true }
            switch c {
            case UInt8(ascii: "H"), UInt8(ascii: "A"), UInt8(ascii: "F"), UInt8(ascii: "G"), UInt8(ascii: "I"),
                 UInt8(ascii: "Q"): return false
            default: i += 1
            }
        }
        return false
    }
}

/// The last sequence numbers of a TCP flow's SYN (or SYN+ACK), FIN and RST per direction (originator first), against
/// which `ConnHistory.tcp` decides whether a repeated `s`/`h`, `f` or `r` is written again. Kept in `TCPFlowState`.
@usableFromInline struct TCPHistoryMarks: Sendable {
    var lastSYN: (UInt32, UInt32) = (0, 0)
    var lastFIN: (UInt32, UInt32) = (0, 0)
    var lastRST: (UInt32, UInt32) = (0, 0)
}
