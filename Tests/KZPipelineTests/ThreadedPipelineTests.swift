import Foundation
import KZPipeline
import KZReport
import Testing

/// `--threads 2` runs reading, decoding and the flow table on a second thread, replays its batches of sink calls into the
/// parsers (`FlowEventBatch`) and runs the detectors on a third; the report must be byte-identical to one thread.
@Suite struct ThreadedPipelineTests {
    func report(_ paths: [String], threads: Int, views: Bool = false) throws -> String {
        var o = AnalysisOptions()
        o.threads = threads
        o.collectViews = views
        let out = try Analyzer.run(paths: paths, options: o)
        var text = try ReportJSON.encode(out.report)
        if views {
            for c in out.captures {
                text += c.flowRows.map { "\($0.id) \($0.key) \($0.history) \($0.connState)" }.joined(separator: "\n")
                text += "\(c.httpRows.count) \(c.tlsRows.count) \(c.dnsTransactions.count) \(c.pathPackets.count)"
            }
        }
        return text
    }

    @Test func everyLabCaptureGivesTheSameReportOnTwoThreads() throws {
        let files = (FileManager.default.enumerator(atPath: labDir)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count >= 40)
        for f in files {
            let path = "\(labDir)/\(f)"
            #expect(try report([path], threads: 2, views: true) == report([path], threads: 1, views: true), "\(f)")
        }
    }

    /// Real captures of every kind: the censorship set, fragments, tunnels, damaged files (the error must be the same
    /// too, and so must every frame's accounting).
    @Test func corpusSampleGivesTheSameReportOnTwoThreads() throws {
        guard let (corpus, sample) = try corpusSample(under: 3_000_000, about: 60) else {
            print("threaded pipeline: ../shared/corpus not found; corpus comparison NOT run (lab comparison still ran)")
            return
        }
        #expect(sample.count >= 50)
        for f in sample {
            let path = "\(corpus)/\(f)"
            #expect(try report([path], threads: 2) == report([path], threads: 1), "\(f)")
        }
    }
}
