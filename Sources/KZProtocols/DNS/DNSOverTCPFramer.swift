/// Splits one direction of a reassembled DNS-over-TCP stream into messages using the two-byte length prefix
/// (RFC 1035 §4.2.2, RFC 7766 §8). Works with any segmentation, including one byte per `feed`.
///
/// Memory: at most one pending message (≤ 65,535 bytes + prefix) is buffered if the caller drains `next()` after
/// each `feed`; complete messages not yet drained are held too, so drain regularly.
public struct DNSOverTCPFramer: Sendable {
    /// Bytes not yet returned: complete messages and the current partial one.
    private var buffer: [UInt8] = []
    /// Consumed prefix of `buffer` (compacted lazily).
    private var head = 0
    /// (absolute stream offset where a run of bytes from one frame starts, frame number), in order.
    private var frameRuns: [(start: Int, frame: Int)] = []
    /// Absolute stream offset of `buffer[0]`.
    private var base = 0
    /// Messages returned so far.
    public private(set) var messageCount = 0
    /// Zero-length messages skipped (an anomaly: `dns.tcp_zero_length`).
    public private(set) var zeroLengthCount = 0

    public init() {}

    /// Appends stream bytes that arrived in capture frame `frame`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, frame: Int) {
        guard !bytes.isEmpty else { return }
        let absolute = base + buffer.count
        if frameRuns.last?.frame != frame { frameRuns.append((absolute, frame)) }
        buffer.append(contentsOf: bytes)
    }

    /// Convenience for owned bytes.
    public mutating func feed(_ bytes: [UInt8], frame: Int) {
        bytes.withUnsafeBytes { feed($0, frame: frame) }
    }

    /// The next complete message (without its length prefix) with the frames of its first and last byte
    /// (the prefix counts as part of the message for `firstFrame`), or nil when more bytes are needed.
    public mutating func next() -> (message: [UInt8], firstFrame: Int, lastFrame: Int)? {
        while true {
            let available = buffer.count - head
            guard available >= 2 else { return nil }
            let length = Int(buffer[head]) << 8 | Int(buffer[head + 1])
            if length == 0 {
                zeroLengthCount += 1
                head += 2
                continue
            }
            guard available >= 2 + length else { return nil }
            let startAbs = base + head
            let endAbs = startAbs + 2 + length - 1
            let message = Array(buffer[(head + 2)..<(head + 2 + length)])
            let first = frame(at: startAbs)
            let last = frame(at: endAbs)
            head += 2 + length
            messageCount += 1
            compact()
            return (message, first, last)
        }
    }

    /// Bytes buffered that do not (yet) form a complete message. Non-zero at end of stream means a partial
    /// message (`dns.tcp_partial_message`).
    public var pendingByteCount: Int { buffer.count - head }

    /// The frame number of the stream byte at absolute offset `abs`.
    private func frame(at abs: Int) -> Int {
        // Runs are few; binary search for the last run starting at or before `abs`.
        var lo = 0, hi = frameRuns.count - 1, found = frameRuns.first?.frame ?? 0
        while lo <= hi {
            let mid = (lo + hi) / 2
            if frameRuns[mid].start <= abs { found = frameRuns[mid].frame; lo = mid + 1 } else { hi = mid - 1 }
        }
        return found
    }

    private mutating func compact() {
        guard head > 0, head >= buffer.count / 2 || head == buffer.count else { return }
        buffer.removeFirst(head)
        base += head
        head = 0
        // Drop runs that end before the new base, keeping the run covering `base`.
        var keepFrom = 0
        for (i, run) in frameRuns.enumerated() where run.start <= base { keepFrom = i }
        if keepFrom > 0 { frameRuns.removeFirst(keepFrom) }
    }
}
