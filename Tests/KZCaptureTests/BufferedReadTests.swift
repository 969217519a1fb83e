import Foundation
import Testing
@testable import KZCapture
import KZWire

/// The native engine reads files through one reused buffer (`FileSource`). Records straddle its refills, some are
/// larger than the buffer, and the file can change under the reader: every frame must come out exactly as a walk over
/// the same bytes in memory gives it, and libpcap must agree.
@Suite struct BufferedReadTests {
    /// What a frame is, for comparison: number, time, lengths, interface and a digest of its bytes.
    struct Seen: Equatable {
        var number: Int, ns: Int64, caplen: Int, wire: Int, iface: Int, digest: UInt64
        init(_ f: CaptureFrame) {
            number = f.number; ns = f.timestamp.nanoseconds; caplen = f.capturedLength; wire = f.wireLength
            iface = f.interfaceID
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in f.bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            digest = h
        }
    }

    struct Random {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((s >> 33) % UInt64(n))
        }
    }

    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }

    /// A record size: mostly small, some near the 256 KiB buffer, a few at the classic 262,144-byte maximum.
    static func size(_ r: inout Random, max: Int) -> Int {
        switch r.next(20) {
        case 0: return max
        case 1, 2: return 200_000 + r.next(max - 200_000)
        case 3: return 0
        default: return 1 + r.next(1600)
        }
    }

    static func classic(records: Int, seed: UInt64) -> [UInt8] {
        var r = Random(s: seed)
        var b = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0] + le32(0) + le32(0) + le32(262_144) + le32(1)
        for i in 0..<records {
            let n = size(&r, max: 262_144)
            b += le32(1_700_000_000 + i) + le32(r.next(1_000_000)) + le32(n) + le32(n + r.next(3))
            b += (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
        }
        return b
    }

    static func block(_ type: Int, _ body: [UInt8]) -> [UInt8] {
        var body = body
        while body.count % 4 != 0 { body.append(0) }
        return le32(type) + le32(12 + body.count) + body + le32(12 + body.count)
    }

    /// pcapng with two interfaces; packet blocks up to 1 MiB (four times the buffer).
    static func pcapng(records: Int, seed: UInt64) -> [UInt8] {
        var r = Random(s: seed)
        var b = block(0x0a0d_0d0a, le32(0x1a2b_3c4d) + [1, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8))
        b += block(1, [1, 0, 0, 0] + le32(0))
        b += block(1, [101, 0, 0, 0] + le32(0) + [9, 0, 1, 0, 9, 0, 0, 0])   // raw IP, nanosecond resolution
        for i in 0..<records {
            let n = size(&r, max: 1 << 20)
            let body = le32(i % 2) + le32(0x6_0000) + le32(i * 977) + le32(n) + le32(n)
                + (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            b += block(6, body)
            if r.next(5) == 0 { b += block(0x8000_0001, [UInt8](repeating: 0xee, count: r.next(3000))) }
        }
        return b
    }

    static func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("kz-buffered-\(getpid())-\(name)")
        try Data(bytes).write(to: u)
        return u
    }

    static func inMemory(_ bytes: [UInt8]) -> ([Seen], CaptureEnd) {
        var seen: [Seen] = []
        let end = bytes.withUnsafeBytes { b in CaptureBytes.forEachFrame(b) { seen.append(Seen($0)) } }
        return (seen, end)
    }

    static func fromFile(_ u: URL, _ engine: CaptureEngine) throws -> ([Seen], CaptureEnd) {
        let reader = try CaptureReader(path: u.path, engine: engine)
        var seen: [Seen] = []
        let end = reader.forEachFrame { seen.append(Seen($0)) }
        return (seen, end)
    }

    @Test(arguments: [("classic", true), ("pcapng", false)])
    func fileFramesEqualMemoryFrames(_ name: String, _ isClassic: Bool) throws {
        let bytes = isClassic ? Self.classic(records: 600, seed: 7) : Self.pcapng(records: 500, seed: 11)
        #expect(bytes.count > 8 * FileSource.chunk, "the file must span many buffer refills (\(bytes.count) bytes)")
        let u = try Self.write(bytes, name)
        defer { try? FileManager.default.removeItem(at: u) }
        let (memory, memoryEnd) = Self.inMemory(bytes)
        let (file, fileEnd) = try Self.fromFile(u, .native)
        #expect(memoryEnd == .complete && fileEnd == .complete)
        #expect(file.count == memory.count && memory.count == (isClassic ? 600 : 500))
        #expect(file == memory)
        #expect(file.contains { $0.caplen >= FileSource.chunk }, "some record fills the whole buffer (pcapng: exceeds it)")
        if isClassic {
            let (lib, libEnd) = try Self.fromFile(u, .libpcap)
            #expect(libEnd == .complete)
            #expect(lib == memory)
        }
    }

    /// Every prefix cut at and around buffer-sized offsets ends with the same frames and the same error as in memory.
    @Test func truncatedFilesEndLikeTruncatedMemory() throws {
        let bytes = Self.classic(records: 60, seed: 3) + []
        var cuts = Set([23, 24, 25, 39, 40, 41])
        for k in 1...12 { for d in [-17, -1, 0, 1, 15] { cuts.insert(k * FileSource.chunk / 2 + d) } }
        for cut in cuts.sorted() where cut < bytes.count {
            let prefix = Array(bytes.prefix(cut))
            let u = try Self.write(prefix, "cut-\(cut)")
            defer { try? FileManager.default.removeItem(at: u) }
            let (memory, memoryEnd) = Self.inMemory(prefix)
            guard cut >= 24 else {
                #expect(throws: CaptureError.self) { try Self.fromFile(u, .native) }
                continue
            }
            let (file, fileEnd) = try Self.fromFile(u, .native)
            #expect(file == memory, "cut \(cut)")
            // The error names the same offset and frame; the path differs.
            if case .failed(let a) = fileEnd, case .failed(let b) = memoryEnd {
                #expect(a.kind == b.kind && a.offset == b.offset && a.frame == b.frame && a.message == b.message,
                        "cut \(cut): \(a) vs \(b)")
            } else {
                #expect(fileEnd == .complete && memoryEnd == .complete, "cut \(cut)")
            }
        }
    }

    /// A file cut short after the reader sized it: reading stops with a named error, the frames before stay whole.
    @Test func fileThatShrinksWhileReadEndsWithAnError() throws {
        let bytes = Self.classic(records: 200, seed: 5)
        let u = try Self.write(bytes, "shrink")
        defer { try? FileManager.default.removeItem(at: u) }
        let reader = try CaptureReader(path: u.path)
        let keep = bytes.count / 2
        #expect(truncate(u.path, off_t(keep)) == 0)
        var seen: [Seen] = []
        let end = reader.forEachFrame { seen.append(Seen($0)) }
        guard case .failed(let e) = end else {
            Issue.record("reading a shrunken file ended \(end)")
            return
        }
        #expect(e.message.contains("shrank"), "\(e)")
        let (whole, _) = Self.inMemory(bytes)
        #expect(!seen.isEmpty && seen.count < whole.count)
        #expect(Array(whole.prefix(seen.count)) == seen)
    }
}
