import Foundation

/// Runs `tshark -T fields` once per capture (the expensive part of the differential test: tshark's start-up dominates)
/// and parses its rows.
enum Tshark {
    /// Fields asked of tshark, in column order. Repeated protocol layers (tunnels, the IP header an ICMP error quotes)
    /// give comma-separated occurrences, outermost first; `frame.protocols` says which layer each occurrence belongs to.
    static let fields: [String] = [
        "frame.number", "frame.time_epoch", "frame.cap_len", "frame.len", "frame.protocols",
        "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.ttl", "ipv6.hlim", "ip.id", "ip.flags.df", "ip.frag_offset",
        "ip.flags.mf", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
        "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len",
        "udp.srcport", "udp.dstport", "udp.length",
        "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code", "vlan.id",
        "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "_ws.malformed", "frame.cb_pen",
    ]
    static let column: [String: Int] = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1, $0) })

    /// Preferences: raw sequence numbers, no reassembly of IP fragments or TCP streams (we decode each frame alone),
    /// checksums verified (reported as *.checksum.status 0 bad, 1 good, 2 unverified), no name resolution.
    static let preferences: [String] = [
        "ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE",
        "tcp.relative_sequence_numbers:FALSE", "tcp.analyze_sequence_numbers:FALSE",
        "ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE",
    ]

    static let executable: String? = {
        for p in ["/usr/bin/tshark", "/usr/local/bin/tshark"] where FileManager.default.isExecutableFile(atPath: p) {
            return p
        }
        return nil
    }()

    struct Row: Sendable {
        var values: [String]
        subscript(_ field: String) -> String {
            guard let i = Tshark.column[field], i < values.count else { return "" }
            return values[i]
        }
        /// The `k`-th comma-separated occurrence of `field`, or nil.
        func occurrence(_ field: String, _ k: Int) -> String? {
            let v = self[field]
            guard !v.isEmpty else { return nil }
            let parts = v.split(separator: ",", omittingEmptySubsequences: false)
            return k < parts.count ? String(parts[k]) : nil
        }
        var protocols: [Substring] { self["frame.protocols"].split(separator: ":") }
        var malformed: Bool { !self["_ws.malformed"].isEmpty }
        /// tshark 4.0 lists pcapng Custom Blocks (which carry no packet) as frames of their own.
        var isCustomBlock: Bool { !self["frame.cb_pen"].isEmpty }
    }

    struct Output: Sendable {
        var rows: [Row]
        var stderr: String
        var exitCode: Int32
    }

    /// Runs tshark on `file`, stdout and stderr to temporary files (no pipe deadlock on large outputs).
    static func run(_ file: URL, scratch: URL) -> Output {
        guard let exe = executable else { return Output(rows: [], stderr: "tshark not installed", exitCode: -1) }
        let base = scratch.appendingPathComponent(UUID().uuidString)
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        var args = ["-n", "-r", file.path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
                    "-E", "aggregator=,", "-E", "quote=n"]
        for p in preferences { args += ["-o", p] }
        for f in fields { args += ["-e", f] }
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: exe)
        proc.arguments = args
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            return Output(rows: [], stderr: "cannot create temporary files", exitCode: -1)
        }
        proc.standardOutput = out
        proc.standardError = err
        proc.standardInput = FileHandle.nullDevice
        do { try proc.run() } catch { return Output(rows: [], stderr: "cannot run tshark: \(error)", exitCode: -1) }
        proc.waitUntilExit()
        try? out.close()
        try? err.close()
        let text = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let errText = ((try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { !$0.hasPrefix("Running as user") }.joined(separator: "\n")
        let rows = text.split(separator: "\n", omittingEmptySubsequences: true).map {
            Row(values: $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init))
        }
        return Output(rows: rows, stderr: errText, exitCode: proc.terminationStatus)
    }

    /// Runs tshark over many files, `width` processes at a time. Results in input order.
    static func runAll(_ files: [URL], width: Int = 4) -> [Output] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kz-tshark-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let results = ResultBox(count: files.count)
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: width)
        for (i, f) in files.enumerated() {
            gate.wait()
            group.enter()
            DispatchQueue.global().async {
                results.set(i, run(f, scratch: scratch))
                gate.signal()
                group.leave()
            }
        }
        group.wait()
        return results.all
    }

    final class ResultBox: @unchecked Sendable {
        private var items: [Output?]
        private let lock = NSLock()
        init(count: Int) { items = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ o: Output) { lock.lock(); items[i] = o; lock.unlock() }
        var all: [Output] {
            lock.lock(); defer { lock.unlock() }
            return items.map { $0 ?? Output(rows: [], stderr: "not run", exitCode: -1) }
        }
    }
}
