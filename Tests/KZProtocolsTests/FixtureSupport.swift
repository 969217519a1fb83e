import Foundation
@testable import KZProtocols

/// Locates `Fixtures/protocols` and the shared corpus from this file's path.
enum Fixture {
    static let packageRoot: URL = {
        // Tests/KZProtocolsTests/FixtureSupport.swift → package root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()
    static let directory = packageRoot.appendingPathComponent("Fixtures/protocols")
    /// `../shared/corpus` from the package root (from a worktree under /work/wt/<name>, `../../shared/corpus`).
    static let corpus: URL = {
        let candidates = ["../shared/corpus", "../../shared/corpus"].map {
            packageRoot.appendingPathComponent($0).standardizedFileURL
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("MANIFEST.tsv").path) }
            ?? candidates[0]
    }()

    struct Segment: Sendable {
        var frame: Int
        /// true: originator → responder ("c"); false: responder → originator ("s").
        var fromClient: Bool
        var bytes: [UInt8]
    }

    /// `<name>.segments`: "<frame> <c|s> <hex>" per line (written by Fixtures/protocols/extract.py).
    static func segments(_ name: String) -> [Segment] {
        let url = directory.appendingPathComponent(name + ".segments")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let f = Int(parts[0]), let b = Hex.decode(String(parts[2])) else { return nil }
            return Segment(frame: f, fromClient: parts[1] == "c", bytes: b)
        }
    }

    /// `<name>.tshark`: "<kind>\t<frame>\t<value…>" facts from tshark/openssl/python.
    static func facts(_ name: String, kind: String) -> [(frame: Int, fields: [String])] {
        let url = directory.appendingPathComponent(name + ".tshark")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3, parts[0] == kind, let f = Int(parts[1]) else { return nil }
            return (f, Array(parts[2...]))
        }
    }
}

extension Array where Element == UInt8 {
    init(ascii: String) { self = Array(ascii.utf8) }
}
