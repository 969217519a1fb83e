import Foundation
import Testing
import KZDetect
import KZPipeline

/// Real injection captures from the shared corpus (Tripwire: Airtel and GFW RSTs seen from the server side, with
/// labels in censorship/LABELS.DEV.tsv). Absent corpus: the test records that it did not run.
let corpusRoot = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus").path

func corpusFile(_ rel: String) -> String? {
    let p = "\(corpusRoot)/\(rel)"
    return FileManager.default.fileExists(atPath: p) ? p : nil
}

@Suite struct RealCaptureTests {
    @Test func airtelInjectedResetsAreFound() throws {
        guard let path = corpusFile("censorship/tripwire/testdata__airtel_example.pcap") else {
            print("RealCaptureTests: ../shared/corpus absent; the Airtel check did not run")
            return
        }
        let out = try Analyzer.run(paths: [path], options: AnalysisOptions())
        let rst = out.findings.map(\.finding).filter { $0.detector == "tcp.rst_injection" && $0.confidence >= .medium }
        // LABELS.DEV.tsv: RST/ACK frames 10, 20, 38 spoofed from the client (TTL 49 vs 44, IP ID 0x00f2, window 2048).
        for frame in [10, 20, 38] {
            #expect(rst.contains { $0.frames.contains(frame) }, "injected RST in frame \(frame) not found")
        }
    }

    @Test func gfwResetsFoundAndClientsOwnResetNot() throws {
        guard let path = corpusFile("censorship/tripwire/testdata__test1__test.pcap") else {
            print("RealCaptureTests: ../shared/corpus absent; the GFW check did not run")
            return
        }
        let out = try Analyzer.run(paths: [path], options: AnalysisOptions())
        let rst = out.findings.map(\.finding).filter { $0.detector == "tcp.rst_injection" }
        // Frames 6–8: three identical forged RST/ACK (TTL 70 vs 38); frame 9: a second injector (IP ID 0, TTL 36).
        for frame in [6, 7, 8, 9] {
            #expect(rst.contains { $0.frames.contains(frame) && $0.confidence >= .medium }, "frame \(frame)")
        }
        // Frame 10 is the client's own RST: it may appear only as a baseline, never as the forged packet.
        #expect(!rst.contains { $0.injectedFrame == 10 && $0.confidence > .low })
    }

    @Test func cleanLoopbackRequestStaysClean() throws {
        guard let path = corpusFile("censorship/tripwire/testdata__full_http_request.pcap") else {
            print("RealCaptureTests: ../shared/corpus absent; the negative control did not run")
            return
        }
        let out = try Analyzer.run(paths: [path], options: AnalysisOptions())
        #expect(out.report.findings.filter { $0.confidence != "low" }.isEmpty)
    }
}
