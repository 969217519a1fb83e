import ArgumentParser
import KZPipeline
#if canImport(Glibc)
import Glibc
#endif

/// `kzforensics`: which connections in a capture were interfered with, how, on what evidence, and where on the path.
struct KZForensics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kzforensics",
        abstract: "Offline packet-capture forensics for network interference (RST injection, forged DNS, block pages, TLS interception, silent drops, throttling).",
        discussion: """
        Examples:
          kzforensics packets Fixtures/captures/lab/baseline/client.pcap --format jsonl
          kzforensics packets capture.pcapng --filter 'tcp port 443' --format summary
        """,
        subcommands: [AnalyzeCommand.self, PacketsCommand.self, FlowsCommand.self, DNSCommand.self, HTTPCommand.self, TLSCommand.self, CheckCommand.self]
    )
}

/// Maps ArgumentParser's usage-error code (64) to 2, as the issue asks; other codes pass through.
@main
enum Main {
    static func main() {
        MallocTuning.fixMmapThreshold()
        do {
            var command = try KZForensics.parseAsRoot()
            try command.run()
        } catch {
            let code = KZForensics.exitCode(for: error)
            let message = KZForensics.fullMessage(for: error)
            if !message.isEmpty {
                (code == .success ? StdStream.out : StdStream.err).write(message + "\n")
            }
            if code == .validationFailure { exit(2) }
            exit(code.rawValue)
        }
    }
}

/// A fatal problem the CLI reports in one line (no stack trace) with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
