import Foundation
import KZPipeline
import KZReport
import Synchronization
import Testing
import KZTestSupport

/// `LineSpool` gives back every line, byte for byte, in (major, key, append) order, across its write buffer's flushes;
/// the flows view built on it prints the same rows as the collected `flowRows` sorted by first frame.
@Suite struct LineSpoolTests {
    func drained(_ s: LineSpool) throws -> [String] {
        var out: [String] = []
        try s.drain { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    @Test func drainsInKeyThenAppendOrderAcrossFlushes() throws {
        var rng = TestRandom(seed: 0xc13f2eb101)
        let s = LineSpool()
        var expected: [(major: Int, key: Int, seq: Int, line: String)] = []
        // ~20k lines of up to 120 bytes: well past the 64 KiB write buffer, with duplicate keys and empty lines.
        for i in 0..<20_000 {
            let major = Int.random(in: 0..<3, using: &rng)
            let key = Int.random(in: 0..<500, using: &rng)
            let line = String(repeating: "x", count: Int.random(in: 0..<120, using: &rng)) + (i % 7 == 0 ? "" : "#\(i)")
            s.append(line, major: major, key: key)
            expected.append((major, key, i, line))
        }
        #expect(s.count == 20_000)
        expected.sort { ($0.major, $0.key, $0.seq) < ($1.major, $1.key, $1.seq) }
        #expect(try drained(s) == expected.map(\.line))
        // Drained spools are empty and reusable.
        #expect(try drained(s).isEmpty)
        s.append("b", major: 0, key: 2)
        s.append("a", major: 0, key: 1)
        #expect(try drained(s) == ["a", "b"])
    }

    @Test func keepsNonASCIIAndNewlineFreeBytesIntact() throws {
        let s = LineSpool()
        let lines = ["{\"q\":\"ресей.kz\"}", "", "tab\there", String(repeating: "é", count: 70_000)]
        for (i, l) in lines.enumerated() { s.append(l, major: 0, key: i) }
        #expect(try drained(s) == lines)
    }

    @Test func streamedFlowRowsEqualCollectedRows() throws {
        let file = "\(labDir)/http_blockpage/client.pcap"
        var o = AnalysisOptions()
        o.views = .flows
        o.detect = false
        o.threads = 1
        let collected = try #require(try Analyzer.run(paths: [file], options: o).captures.first).flowRows
        let streamed = Mutex<[FlowRow]>([])
        o.flowRowHandler = { path, row in
            #expect(path == file)
            streamed.withLock { $0.append(row) }
        }
        let c = try #require(try Analyzer.run(paths: [file], options: o).captures.first)
        #expect(c.flowRows.isEmpty)
        #expect(!collected.isEmpty)
        #expect(streamed.withLock { $0 } == collected)
    }
}
