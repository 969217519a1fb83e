import ArgumentParser
import Foundation
import KZDetect
import KZPipeline
import KZReport
import KZCapture
typealias KZCaptureEngine = CaptureEngine

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, jsonl
}

extension Confidence: ExpressibleByArgument {}

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find interference in captures: which connections, how, on what evidence (frames), and where on the path.",
        discussion: """
        Findings use the detector names of the report contract (tcp.rst_injection, dns.injection, tls.interception,
        tls.sni_blocking, http.block_page, ...). Each names its evidence frames (1-based, as Wireshark numbers frames:
        open them with the display filter frame.number == N) and, when it can be located, the hop, router, AS and
        country of the interfering device.
        Exit status: 0 when the analysis ran (findings or not), 1 when no input could be read, 2 for usage errors.
        Examples:
          kzforensics analyze Fixtures/captures/lab/http_rst_inpath/client.pcap
          kzforensics analyze capture.pcapng --format json --out report.json
          kzforensics analyze kt.pcap nursat.pcap --vantage kazakhtelecom,nursat
          kzforensics analyze sweep.pcap --control control-sweep.pcap --asn-table ip2asn-v4.tsv
          kzforensics analyze capture.pcap --extract evidence/ --min-confidence medium
        """
    )

    @Argument(help: "Capture files (pcap or pcapng).") var files: [String]
    @Option(help: "Output: text (for people), json (the report), jsonl (one finding per line).") var format: ReportFormat = .text
    @Option(help: "Write the report to this file instead of standard output.") var out: String?
    @Option(help: "BPF filter expression applied offline before analysis.") var filter: String?
    @Option(parsing: .singleValue, help: "Extra signature directory (repeatable), added after the built-in Signatures/.") var signatures: [String] = []
    @Option(help: "Legacy GeoIP country database (.dat); default: the Debian geoip-database files.") var geoip: String?
    @Option(name: .customLong("asn-db"), help: "Legacy GeoIP ASN database (GeoIPASNum.dat).") var asnDB: String?
    @Option(name: .customLong("asn-table"), help: "Prefix-to-AS table in ip2asn TSV layout.") var asnTable: String?
    @Option(parsing: .singleValue, help: "A control capture (e.g. the control TTL sweep), repeatable.") var control: [String] = []
    @Option(help: "Vantage labels for the captures, comma-separated, in order (e.g. kazakhtelecom,nursat).") var vantage: String?
    @Option(help: "Write each finding's evidence and flow frames to DIR/<finding-id>.pcap.") var extract: String?
    @Option(name: .customLong("min-confidence"), help: "Report only findings at or above: low, medium, high.") var minConfidence: Confidence = .low
    @Option(help: "Record reader: native or libpcap.") var reader: String = "native"
    @Option(help: "1: everything on one thread; 2: reading, decoding and the flow table on a second thread, the parsers on this one, the detectors beside them (default when the machine has 2 cores). The report is the same.") var threads: Int = defaultThreads
    @Flag(help: "No warnings or progress on standard error.") var quiet = false

    func run() throws {
        var o = AnalysisOptions()
        o.filter = filter
        guard let engine = CaptureEngineName(reader) else { throw ValidationError("--reader must be native or libpcap") }
        o.engine = engine
        o.signatureDirectories = signatures
        o.geoipPath = geoip
        o.asnDatabase = asnDB
        o.asnTable = asnTable
        o.controlCaptures = control
        o.vantages = vantage.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
        o.minConfidence = minConfidence
        guard threads >= 1 else { throw ValidationError("--threads must be 1 or more") }
        o.threads = threads
        if !quiet && StdStream.err.isTerminal {
            let start = DispatchTime.now().uptimeNanoseconds
            o.progress = { path, frames, bytes, flows in
                let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let mbps = secs > 0 ? Double(bytes) / 1e6 / secs : 0
                StdStream.err.write("\r\(path): \(frames) frames, \(String(format: "%.0f", mbps)) MB/s, \(flows) flows closed   ")
            }
        }
        if !o.vantages.isEmpty && o.vantages.count != files.count {
            throw ValidationError("--vantage has \(o.vantages.count) labels for \(files.count) captures")
        }
        let outcome: AnalysisOutcome
        do { outcome = try Analyzer.run(paths: files, options: o) } catch {
            StdStream.err.write("kzforensics: \(error)\n")
            throw ExitCode(2)
        }
        var clock = StageClock()
        if o.progress != nil { StdStream.err.write("\r\u{1B}[K") }
        if !quiet { for w in outcome.report.warnings { StdStream.err.write("kzforensics: warning: \(w)\n") } }
        let text: String
        switch format {
        case .text: text = TextReport.render(outcome.report)
        case .json: text = try ReportJSON.encode(outcome.report) + "\n"
        case .jsonl: text = try outcome.report.findings.map { try ReportJSON.encodeLine($0) }.joined(separator: "\n")
                + (outcome.report.findings.isEmpty ? "" : "\n")
        }
        clock.mark("render")
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw CLIError("cannot write \(out)")
            }
        } else {
            StdStream.out.write(text)
        }
        clock.mark("write")
        if let extract {
            try FileManager.default.createDirectory(atPath: extract, withIntermediateDirectories: true)
            let written = try Extractor.extract(findings: outcome.findings, directory: extract, engine: engine)
            if !quiet {
                for w in written { StdStream.err.write("kzforensics: wrote \(w.path) (\(w.frames) frames)\n") }
            }
        }
        if outcome.nothingReadable { throw ExitCode(1) }
    }
}

func CaptureEngineName(_ s: String) -> KZCaptureEngine? { KZCaptureEngine(rawValue: s) }
