#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Output lines produced in one order and printed in another, without holding them in memory.
///
/// `kzforensics flows` prints one row per flow in order of first frame, but a flow's row exists only when the flow
/// closes, and flows close in another order (a UDP flow opened in the first second may close at the end). Instead of
/// keeping every row until the capture ends (about 280 bytes per flow plus the array's growth), each formatted line is
/// appended to an unlinked temporary file and only a 24-byte index entry stays in memory; `drain` sorts the index and
/// reads the lines back one by one. Zeek's conn.log avoids the question by writing rows in close
/// order; we keep the first-frame order users of the view already rely on.
///
/// The file lives in `$TMPDIR` (default `/tmp`) and is unlinked as soon as it is created, so it disappears with the
/// process however the process ends. When no temporary file can be created, the spool keeps the lines in memory and
/// says so in `fallbackReason`. Several threads may append at once (the shards of `flows --threads N`; lines with equal
/// keys then keep the order in which their threads took the lock); the caller drains after the run.
public final class LineSpool: @unchecked Sendable {
    /// One spooled line: its sort key and where its bytes are.
    struct Entry {
        var major: Int32
        var length: Int32
        var key: Int64
        var offset: Int64
    }

    private var entries: [Entry] = []
    private var buffer: [UInt8] = []
    private var fd: Int32 = -1
    private var written: Int64 = 0
    /// Lines kept in memory when there is no temporary file.
    private var memory: [UInt8] = []
    private var writeError: Int32 = 0
    /// Why the spool keeps lines in memory (nil when it spools to a file).
    public private(set) var fallbackReason: String?
    private static let flushSize = 1 << 16
    private let appendLock = Mutex(())

    /// Lines appended so far.
    public var count: Int { entries.count }

    public init() {
        let dir = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(dir)/kzforensics-spool.XXXXXX".utf8CString)
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if f >= 0 {
            _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
            fd = f
            buffer.reserveCapacity(Self.flushSize)
        } else {
            fallbackReason = "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))"
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends one line (without its newline). Lines are drained in order of (`major`, `key`), then in append order.
    public func append(_ line: String, major: Int, key: Int) {
        var line = line
        line.withUTF8 { append(bytes: UnsafeRawBufferPointer($0), major: major, key: key) }
    }

    public func append(bytes: UnsafeRawBufferPointer, major: Int, key: Int) {
        appendLock.withLock { _ in appendLocked(bytes: bytes, major: major, key: key) }
    }

    private func appendLocked(bytes: UnsafeRawBufferPointer, major: Int, key: Int) {
        let offset = fd >= 0 ? written + Int64(buffer.count) : Int64(memory.count)
        entries.append(Entry(major: Int32(truncatingIfNeeded: major), length: Int32(truncatingIfNeeded: bytes.count),
                             key: Int64(key), offset: offset))
        if fd >= 0 {
            buffer.append(contentsOf: bytes)
            if buffer.count >= Self.flushSize { flush() }
        } else {
            memory.append(contentsOf: bytes)
        }
    }

    private func flush() {
        guard fd >= 0, !buffer.isEmpty else { return }
        let ok = buffer.withUnsafeBytes { b -> Bool in
            var done = 0
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeError = errno
                    return false
                }
                done += n
            }
            return true
        }
        if ok { written += Int64(buffer.count) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with each line (no newline) in (`major`, `key`, append) order, then empties the spool. Throws when
    /// the temporary file could not be written or read back.
    public func drain(_ body: (UnsafeRawBufferPointer) -> Void) throws(LineSpoolError) {
        flush()
        if writeError != 0 { throw LineSpoolError(description: "temporary file: \(String(cString: strerror(writeError)))") }
        entries.sort { a, b in
            a.major != b.major ? a.major < b.major : a.key != b.key ? a.key < b.key : a.offset < b.offset
        }
        defer {
            entries = []
            memory = []
            if fd >= 0 { _ = ftruncate(fd, 0); _ = lseek(fd, 0, SEEK_SET) }
            written = 0
        }
        if fd < 0 {
            memory.withUnsafeBytes { m in
                for e in entries {
                    body(UnsafeRawBufferPointer(rebasing: m[Int(e.offset)..<(Int(e.offset) + Int(e.length))]))
                }
            }
            return
        }
        // Lines are read back with pread into one reusable buffer: a mapping of the whole file would count toward the
        // process's resident size (the file is ~300 bytes per flow).
        var line = [UInt8](repeating: 0, count: 4096)
        for e in entries {
            let len = Int(e.length)
            if len > line.count { line = [UInt8](repeating: 0, count: len) }
            var done = 0
            while done < len {
                let n = line.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, len - done, off_t(e.offset) + off_t(done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw LineSpoolError(description: "cannot read the temporary file back: \(n < 0 ? String(cString: strerror(errno)) : "short read")")
                }
                done += n
            }
            line.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<len])) }
        }
    }
}

public struct LineSpoolError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
