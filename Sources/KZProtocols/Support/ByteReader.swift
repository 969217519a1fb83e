/// A bounds-checked cursor over borrowed bytes. Every read returns nil instead of reading past the end;
/// `read…` methods move the cursor, `peek…`/`get…` methods do not.
/// The reader borrows its bytes: it must not outlive the buffer it was created from.
@usableFromInline
struct ByteReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset: Int
    @usableFromInline let end: Int

    @inlinable init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = min(end ?? bytes.count, bytes.count)
    }

    @inlinable var remaining: Int { max(0, end &- offset) }
    @inlinable var isAtEnd: Bool { offset >= end }

    @inlinable func get8(at i: Int) -> UInt8? {
        guard i >= 0, i < end else { return nil }
        return bytes[i]
    }
    @inlinable func get16(at i: Int) -> UInt16? {
        guard i >= 0, i &+ 2 <= end else { return nil }
        return UInt16(bytes[i]) << 8 | UInt16(bytes[i &+ 1])
    }
    @inlinable func get24(at i: Int) -> Int? {
        guard i >= 0, i &+ 3 <= end else { return nil }
        return Int(bytes[i]) << 16 | Int(bytes[i &+ 1]) << 8 | Int(bytes[i &+ 2])
    }
    @inlinable func get32(at i: Int) -> UInt32? {
        guard i >= 0, i &+ 4 <= end else { return nil }
        return UInt32(bytes[i]) << 24 | UInt32(bytes[i &+ 1]) << 16 | UInt32(bytes[i &+ 2]) << 8 | UInt32(bytes[i &+ 3])
    }
    @inlinable mutating func read8() -> UInt8? {
        guard let v = get8(at: offset) else { return nil }
        offset &+= 1
        return v
    }
    @inlinable mutating func read16() -> UInt16? {
        guard let v = get16(at: offset) else { return nil }
        offset &+= 2
        return v
    }
    @inlinable mutating func read24() -> Int? {
        guard let v = get24(at: offset) else { return nil }
        offset &+= 3
        return v
    }
    @inlinable mutating func read32() -> UInt32? {
        guard let v = get32(at: offset) else { return nil }
        offset &+= 4
        return v
    }
    /// Copies `count` bytes and moves past them; nil (cursor unmoved) when fewer remain.
    @inlinable mutating func readBytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= remaining else { return nil }
        let out = Array(bytes[offset..<(offset &+ count)])
        offset &+= count
        return out
    }
    /// A sub-reader over the next `count` bytes (same absolute offsets); moves past them.
    @inlinable mutating func sub(_ count: Int) -> ByteReader? {
        guard count >= 0, count <= remaining else { return nil }
        let r = ByteReader(bytes, offset: offset, end: offset &+ count)
        offset &+= count
        return r
    }
    @inlinable mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        offset &+= count
        return true
    }
}

extension Array where Element == UInt8 {
    /// Runs `body` on the array's bytes as an `UnsafeRawBufferPointer`.
    @inlinable func withRaw<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try self.withUnsafeBytes(body)
    }
}
