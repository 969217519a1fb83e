import Foundation
import KZPipeline
import KZReport
import Testing

/// `JSONTextEncoder` must write exactly what Foundation's `JSONEncoder` writes with the report options: the JSON
/// reports and jsonl lines are compared byte for byte on every lab capture's report (findings, paths, evidence of every
/// kind), and on values built to hit each formatting rule.
@Suite struct JSONTextEncoderTests {
    func both<T: Encodable>(_ v: T) throws -> (fast: String, foundation: String, fastLine: String, foundationLine: String) {
        (try ReportJSON.encode(v), try ReportJSON.foundationEncode(v),
         try ReportJSON.encodeLine(v), try ReportJSON.foundationEncode(v, prettyPrinted: false))
    }

    @Test func everyLabReportIsWrittenAsFoundationWritesIt() throws {
        let files = (FileManager.default.enumerator(atPath: labDir)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count >= 40)
        var findings = 0
        for f in files {
            var o = AnalysisOptions()
            o.threads = 1
            let report = try Analyzer.run(paths: ["\(labDir)/\(f)"], options: o).report
            findings += report.findings.count
            let r = try both(report)
            #expect(r.fast == r.foundation, "\(f)")
            #expect(r.fastLine == r.foundationLine, "\(f)")
            for finding in report.findings {
                #expect(try ReportJSON.encodeLine(finding) == ReportJSON.foundationEncode(finding, prettyPrinted: false), "\(f)")
            }
        }
        #expect(findings >= 40)
    }

    struct Edge: Encodable {
        var text = "quote \" backslash \\ slash / nl \n cr \r tab \t bs \u{8} ff \u{c} nul \u{0} us \u{1f} del \u{7f} é € 🇰🇿"
        var empty = ""
        var numbers: [Double] = [0, -0.0, 1, 100, 0.1, 1e-7, 1e16, 1e21, 123456789.125, 5e-324, 1.7976931348623157e308,
                                 -2.5, 9.223372036854776e18]
        var floats: [Float] = [0.1, 3.4e38, 1e-45, 16777216]
        var ints: [Int64] = [Int64.min, -1, 0, Int64.max]
        var uints: [UInt64] = [0, UInt64.max]
        var small: [Int8] = [-128, 127]
        var flags = [true, false]
        var none: Int? = nil
        var some: Int? = 7
        var emptyArray: [Int] = []
        var emptyObject: [String: Int] = [:]
        var nestedEmpty: [[String: [Int]]] = [[:], ["k": []]]
        var byInt: [Int: String] = [10: "b", 2: "c", 1: "a"]
        var keys: [String: Int] = ["b": 1, "B": 2, "a10": 3, "a9": 4, "_": 5, "é": 6, "": 7, "a b": 8]
        var optionals: [Int?] = [1, nil, 3]
    }

    /// Custom `encode(to:)` shapes: explicit nil, a key written twice, nested containers, super encoders.
    struct Custom: Encodable {
        struct K: CodingKey {
            var stringValue: String
            init(_ s: String) { stringValue = s }
            init?(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encodeNil(forKey: K("null"))
            try c.encode(1, forKey: K("twice"))
            try c.encode("second", forKey: K("twice"))
            try c.encodeIfPresent(Optional<Int>.none, forKey: K("absent"))
            var inner = c.nestedContainer(keyedBy: K.self, forKey: K("inner"))
            try inner.encode(2.5, forKey: K("z"))
            try inner.encode([1, 2], forKey: K("a"))
            var list = c.nestedUnkeyedContainer(forKey: K("list"))
            try list.encode("x")
            try list.encodeNil()
            var deeper = list.nestedContainer(keyedBy: K.self)
            try deeper.encode(true, forKey: K("deep"))
            _ = list.nestedUnkeyedContainer()
            try Edge().encode(to: c.superEncoder(forKey: K("edge")))
            try 42.encode(to: c.superEncoder())
        }
    }

    @Test func formattingRulesMatchFoundation() throws {
        let e = try both(Edge())
        #expect(e.fast == e.foundation)
        #expect(e.fastLine == e.foundationLine)
        let c = try both(Custom())
        #expect(c.fast == c.foundation)
        #expect(c.fastLine == c.foundationLine)
        // Top-level scalars and containers.
        for v in [try both("top"), try both(3), try both([String]()), try both([String: String]())] {
            #expect(v.fast == v.foundation)
            #expect(v.fastLine == v.foundationLine)
        }
        // The comparison is not vacuous: the edge value exercises escapes and empty containers.
        #expect(e.fast.contains("\\u0000") && e.fast.contains("[\n\n  ]") && e.fast.contains("\"null\"") == false)
    }

    @Test func nonFiniteNumbersThrowLikeFoundation() {
        #expect(throws: EncodingError.self) { try ReportJSON.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try ReportJSON.foundationEncode([Double.infinity]) }
        #expect(throws: EncodingError.self) { try ReportJSON.encode(["x": Double.infinity]) }
    }
}
