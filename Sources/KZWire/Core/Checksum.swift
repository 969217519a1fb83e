/// Internet checksum (RFC 1071) over wide words. The sum is byte-order independent (RFC 1071 §2(B)), so data is summed
/// as little-endian 32-bit halves of 64-bit loads (a loop LLVM vectorises), folded, then byte-swapped into network order.
public enum InternetChecksum {
    /// Ones-complement sum of `bytes`, folded to 16 bits, in network byte order (not complemented).
    @inlinable
    public static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let n = bytes.count
        var acc0: UInt64 = 0, acc1: UInt64 = 0
        var i = 0
        if let base = bytes.baseAddress {
            while i &+ 16 <= n {
                let a = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let b = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self))
                acc0 &+= (a & 0xffff_ffff) &+ (a >> 32)
                acc1 &+= (b & 0xffff_ffff) &+ (b >> 32)
                i &+= 16
            }
            while i &+ 4 <= n {
                acc0 &+= UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                i &+= 4
            }
            while i &+ 2 <= n {
                acc0 &+= UInt64(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
                i &+= 2
            }
            if i < n { acc0 &+= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) }
        }
        var s = acc0 &+ acc1
        s = (s & 0xffff_ffff) &+ (s >> 32)
        s = (s & 0xffff_ffff) &+ (s >> 32)
        var f = UInt32(truncatingIfNeeded: s)
        f = (f & 0xffff) &+ (f >> 16)
        f = (f & 0xffff) &+ (f >> 16)
        return UInt32(UInt16(truncatingIfNeeded: f).byteSwapped)
    }

    /// Folds network-order partial sums and says whether the total verifies (all ones). The one- and two-argument
    /// forms are what the decoder calls per packet: no variadic array is built.
    @inlinable @inline(__always)
    public static func verifies(_ a: UInt32) -> Bool { fold(UInt64(a)) == 0xffff }
    @inlinable @inline(__always)
    public static func verifies(_ a: UInt32, _ b: UInt32) -> Bool { fold(UInt64(a) &+ UInt64(b)) == 0xffff }
    @inlinable @inline(__always)
    static func fold(_ v: UInt64) -> UInt64 {
        var s = v
        while s > 0xffff { s = (s & 0xffff) &+ (s >> 16) }
        return s
    }

    @inlinable
    public static func verifies(_ parts: UInt32...) -> Bool {
        var s: UInt32 = 0
        for p in parts { s &+= p }
        while s > 0xffff { s = (s & 0xffff) &+ (s >> 16) }
        return s == 0xffff
    }

    /// Pseudo-header sum for TCP/UDP/ICMPv6 (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1), network order.
    @inlinable
    public static func pseudoHeader(src: IPAddress, dst: IPAddress, proto: UInt8, length: Int) -> UInt32 {
        // Sums of 32-bit halves (no array literal: this runs once per segment).
        @inline(__always) func words(_ a: IPAddress) -> UInt64 {
            a.isV6 ? (a.high >> 32) &+ (a.high & 0xffff_ffff) &+ (a.low >> 32) &+ (a.low & 0xffff_ffff)
                : UInt64(a.v4Value)
        }
        var s = words(src) &+ words(dst)
        s = (s & 0xffff_ffff) &+ (s >> 32)
        s = (s & 0xffff) &+ (s >> 16)
        s &+= UInt64(proto)
        s &+= UInt64(length >> 16) &+ UInt64(length & 0xffff)
        while s > 0xffff { s = (s & 0xffff) &+ (s >> 16) }
        return UInt32(s)
    }
}
