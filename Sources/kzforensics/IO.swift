#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to the standard streams by file descriptor (no shared `FILE*` globals under Swift 6 checking).
enum StdStream: Int32 {
    case out = 1, err = 2
    func write(_ s: String) {
        var s = s
        s.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(rawValue, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
    func write(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(rawValue, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
    var isTerminal: Bool { isatty(rawValue) != 0 }
}
