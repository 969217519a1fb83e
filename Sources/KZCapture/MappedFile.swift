#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file (`mmap` + `MADV_SEQUENTIAL`), unmapped on deinit.
public final class MappedFile: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let length: Int

    public init(path: String) throws(CaptureError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CaptureError(.cannotOpen, path: path, String(cString: strerror(errno)).lowercased())
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CaptureError(.cannotOpen, path: path, "cannot stat file") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CaptureError(.cannotOpen, path: path, "not a regular file") }
        length = Int(st.st_size)
        if length == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CaptureError(.cannotOpen, path: path, "mmap failed: " + String(cString: strerror(errno)))
        }
        _ = madvise(p, length, MADV_SEQUENTIAL)
        bytes = UnsafeRawBufferPointer(start: p, count: length)
    }

    deinit {
        if let b = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: b), length) }
    }
}
