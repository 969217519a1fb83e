import Crypto

/// Collects one message body: hashes raw and decoded bytes, decodes gzip/deflate, keeps a bounded copy.
struct HTTPBodyAccumulator {
    var framing: HTTPBodyFraming
    var declaredLength: Int?
    var contentEncoding: String?
    var coding: HTTPContentCoding
    private var rawHasher = SHA256()
    private var inflater: Inflater?
    private(set) var wireLength = 0
    private var sink: DecodedSink

    /// Decoded-side state, kept apart so it can be moved into the inflater callback without copying `captured`.
    struct DecodedSink {
        var hasher = SHA256()
        var length = 0
        var captured: [UInt8] = []
        var truncated = false
        var capHit = false
        var maxBody: Int
        /// Nil for identity bodies (no decode cap).
        var maxDecoded: Int?

        /// Returns false when the decode cap is reached.
        mutating func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
            var c = chunk
            if let maxDecoded, length + c.count > maxDecoded {
                c = UnsafeRawBufferPointer(rebasing: c[0..<max(0, maxDecoded - length)])
                capHit = true
            }
            length += c.count
            hasher.update(bufferPointer: c)
            if captured.count < maxBody {
                let take = min(maxBody - captured.count, c.count)
                captured.append(contentsOf: c[0..<take])
                if take < c.count { truncated = true }
            } else if !c.isEmpty {
                truncated = true
            }
            return !capHit
        }
    }

    init(framing: HTTPBodyFraming, declaredLength: Int?, contentEncoding: String?, limits: HTTPParserLimits) {
        self.framing = framing
        self.declaredLength = declaredLength
        self.contentEncoding = contentEncoding
        let coding = Self.coding(for: contentEncoding)
        self.coding = coding
        let decodes = coding == .gzip || coding == .deflate
        if decodes { inflater = Inflater() }
        sink = DecodedSink(maxBody: max(0, limits.maxBodyBytes), maxDecoded: decodes ? max(0, limits.maxDecodedBytes) : nil)
    }

    static func coding(for header: String?) -> HTTPContentCoding {
        guard let header else { return .identity }
        let parts = header.split(separator: ",").map { $0.trimmingASCIISpaces().lowercased() }.filter { !$0.isEmpty }
        if parts.isEmpty || parts == ["identity"] { return .identity }
        let meaningful = parts.filter { $0 != "identity" }
        guard meaningful.count == 1 else { return .unsupported }
        switch meaningful[0] {
        case "gzip", "x-gzip": return .gzip
        case "deflate": return .deflate
        default: return .unsupported
        }
    }

    var decodedLength: Int { sink.length }
    var capHit: Bool { sink.capHit }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        wireLength += bytes.count
        if let inflater {
            // Identity bodies decode to their own bytes: one hash serves both digests (see `finish`).
            rawHasher.update(bufferPointer: bytes)
            var s = sink
            sink = DecodedSink(maxBody: 0, maxDecoded: 0)
            inflater.feed(bytes) { s.append($0) }
            sink = s
        } else {
            _ = sink.append(bytes)
        }
    }

    func finish(complete: Bool) -> HTTPBody {
        inflater?.finish()
        let decoded = Hex.string(Array(sink.hasher.finalize()))
        return HTTPBody(framing: framing, declaredLength: declaredLength, wireLength: wireLength,
                        decodedLength: sink.length,
                        sha256: decoded, rawSHA256: inflater == nil ? decoded : Hex.string(Array(rawHasher.finalize())),
                        captured: sink.captured, truncated: sink.truncated, contentEncoding: contentEncoding,
                        coding: coding, decodeError: inflater?.error, complete: complete)
    }
}

extension StringProtocol {
    /// Drops leading and trailing spaces and horizontal tabs (HTTP OWS).
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
