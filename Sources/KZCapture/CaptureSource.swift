#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a walker reads a capture's bytes from. A walker asks for one record (or block) at a time and reads it before
/// asking for the next: the bytes a call returns are valid only until the following call.
protocol CaptureSource {
    /// Size of the whole capture in bytes.
    var count: Int { get }
    /// Bytes `[offset, offset + length)`, which the caller has checked lie inside `count`; nil when they could not be
    /// read (then `failure` says why).
    mutating func bytes(at offset: Int, length: Int) -> UnsafeRawBufferPointer?
    /// Why the last `bytes` call returned nil.
    var failure: String? { get }
}

/// A capture already in memory (fuzzing, tests, `CaptureBytes`).
struct MemorySource: CaptureSource {
    let buffer: UnsafeRawBufferPointer
    var count: Int { buffer.count }
    var failure: String? { nil }

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    @inline(__always)
    func bytes(at offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        buffer.slice(offset..<(offset &+ length))
    }
}

/// A capture file read front to back with `pread` into one reused buffer.
///
/// Reading copies each byte once from the page cache into a 256 KiB buffer that stays in the CPU's L2 cache while the
/// frames in it are decoded. The whole-file `mmap` this replaced took a page fault per page (or fault-around run) and
/// needed an `madvise(MADV_DONTNEED)` every few MiB to keep the resident size bounded; `flows` on the 1 GiB reference
/// ran about 10% faster this way (1 MiB and 4 MiB buffers measured slower than 256 KiB). The buffer grows only for a
/// record larger than it (up to the walker's own limit on a record: 256 KiB classic, 16 MiB pcapng).
final class FileSource: CaptureSource {
    static let chunk = 256 << 10
    let count: Int
    private(set) var failure: String?
    private let fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// File offset of `buffer[0]`, and how many bytes from there the buffer holds.
    private var start = 0
    private var filled = 0

    /// Opens `path` (a regular file).
    init(path: String) throws(CaptureError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CaptureError(.cannotOpen, path: path, String(cString: strerror(errno)).lowercased())
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw CaptureError(.cannotOpen, path: path, "cannot stat file")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw CaptureError(.cannotOpen, path: path, "not a regular file")
        }
        #if canImport(Glibc)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        self.fd = fd
        count = Int(st.st_size)
        capacity = FileSource.chunk
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        close(fd)
    }

    @inline(__always)
    func bytes(at offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        if offset >= start && offset &+ length <= start &+ filled {
            return UnsafeRawBufferPointer(start: buffer + (offset &- start), count: length)
        }
        return refill(at: offset, length: length)
    }

    /// Moves the still-unread tail of the buffer to its front (or drops it when `offset` is elsewhere), then reads
    /// until `length` bytes from `offset` are present, filling as much of the buffer as one read gives.
    private func refill(at offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        var keep = 0
        if offset >= start && offset < start &+ filled {
            keep = start &+ filled &- offset
        }
        if length > capacity {
            let grown = max(length, capacity * 2)
            let b = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 64)
            if keep > 0 { b.copyMemory(from: buffer + (offset &- start), byteCount: keep) }
            buffer.deallocate()
            buffer = b
            capacity = grown
        } else if keep > 0 {
            memmove(buffer, buffer + (offset &- start), keep)
        }
        start = offset
        filled = keep
        while filled < length {
            let want = min(capacity &- filled, count &- (start &+ filled))
            guard want > 0 else { failure = "file ended before its declared size was read"; return nil }
            let r = pread(fd, buffer + filled, want, off_t(start &+ filled))
            if r < 0 {
                if errno == EINTR { continue }
                failure = "read failed: " + String(cString: strerror(errno)).lowercased()
                return nil
            }
            if r == 0 { failure = "file shrank while it was read"; return nil }
            filled &+= r
        }
        return UnsafeRawBufferPointer(start: buffer, count: length)
    }
}

