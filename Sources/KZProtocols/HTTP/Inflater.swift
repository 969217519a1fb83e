import CZlib

/// Streaming zlib decoder for `Content-Encoding: gzip` / `deflate` bodies (RFC 9110 §8.4.1.2–3, RFC 1950–1952).
///
/// Starts with `inflateInit2(15 + 32)` (automatic gzip or zlib header). Many servers send raw deflate for
/// `deflate`; when the first bytes fail with `Z_DATA_ERROR` before any output, the decoder restarts in raw mode
/// (`windowBits = -15`) and replays what it had seen (up to `replayLimit` bytes). Concatenated gzip members are
/// decoded in turn.
///
/// Reference type because `z_stream` must not move in memory once initialised (zlib checks
/// `state->strm == strm`). Not thread-safe; owned by one `HTTPStreamParser`.
final class Inflater {
    enum Mode { case auto, raw }
    private let stream: UnsafeMutablePointer<z_stream>
    private var initialized = false
    private(set) var mode: Mode = .auto
    private var producedAny = false
    private var replay: [UInt8] = []
    private var replayOverflow = false
    private(set) var streamEnded = false
    /// First error, as text; decoding stops after it.
    private(set) var error: String?
    static let replayLimit = 64 * 1024
    private var out = [UInt8](repeating: 0, count: 32 * 1024)

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if rc == Z_OK { initialized = true } else { error = "inflateInit2 failed (\(rc))" }
    }

    deinit {
        if initialized { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Decodes `input`, handing decoded chunks to `sink`; `sink` returns false to stop decoding (cap reached).
    func feed(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) {
        guard initialized, error == nil, !input.isEmpty else { return }
        if !producedAny && mode == .auto && !replayOverflow {
            if replay.count + input.count <= Self.replayLimit { replay.append(contentsOf: input) } else { replayOverflow = true }
        }
        run(input, sink: sink)
    }

    private func run(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) {
        guard let base = input.baseAddress else { return }
        var consumed = 0
        while consumed < input.count && error == nil {
            if streamEnded {
                // Another gzip member (RFC 1952 §2.2) or trailing junk.
                guard inflateReset(stream) == Z_OK else { error = "inflateReset failed"; return }
                streamEnded = false
            }
            stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self) + consumed)
            stream.pointee.avail_in = uInt(input.count - consumed)
            var keepGoing = true
            repeat {
                let (rc, produced) = out.withUnsafeMutableBytes { o -> (Int32, Int) in
                    stream.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(o.count)
                    let rc = inflate(stream, Z_NO_FLUSH)
                    return (rc, o.count - Int(stream.pointee.avail_out))
                }
                if produced > 0 {
                    producedAny = true
                    replay = []
                    let cont = out.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                    if !cont { error = "decoded size cap reached"; return }
                }
                switch rc {
                case Z_OK:
                    keepGoing = stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
                case Z_BUF_ERROR:
                    keepGoing = false
                case Z_STREAM_END:
                    streamEnded = true
                    keepGoing = false
                default:
                    if rc == Z_DATA_ERROR && !producedAny && mode == .auto && !replayOverflow {
                        // Raw deflate fallback: restart and replay everything seen so far.
                        mode = .raw
                        guard inflateReset2(stream, -15) == Z_OK else { error = "inflateReset2 failed"; return }
                        let saved = replay
                        replay = []
                        saved.withUnsafeBytes { run($0, sink: sink) }
                        return
                    }
                    let msg = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                    error = msg
                    return
                }
            } while keepGoing && error == nil
            consumed = input.count - Int(stream.pointee.avail_in)
            if !streamEnded { break }
        }
    }

    /// Called at end of body: notes a compressed stream that did not reach its end.
    func finish() {
        if error == nil && initialized && !streamEnded && (producedAny || !replay.isEmpty) {
            error = "compressed stream incomplete"
        }
    }
}
