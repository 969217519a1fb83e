import Foundation

/// The shared real-capture corpus (`../shared/corpus` next to the package root; MANIFEST.tsv lists the captures).
///
/// The package root is found from `#filePath` (this file is `<root>/Tests/KZCaptureTests/Corpus.swift`). The corpus is
/// looked up as `<root>/../shared/corpus`; a helper's git worktree sits one level deeper (`/work/wt/<name>`), so each
/// ancestor's `shared/corpus` is tried in turn, and `KZ_CORPUS` (a directory) overrides the search.
enum Corpus {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: URL? = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["KZ_CORPUS"], !env.isEmpty {
            return fm.fileExists(atPath: env + "/MANIFEST.tsv") ? URL(fileURLWithPath: env) : nil
        }
        var dir = packageRoot.deletingLastPathComponent()
        for _ in 0..<4 {
            let c = dir.appendingPathComponent("shared/corpus")
            if fm.fileExists(atPath: c.appendingPathComponent("MANIFEST.tsv").path) { return c.standardizedFileURL }
            let up = dir.deletingLastPathComponent()
            if up.path == dir.path { break }
            dir = up
        }
        return nil
    }()

    /// One MANIFEST.tsv row, by column name.
    struct Entry: Sendable {
        var path: String
        var columns: [String: String]
        var fileFormat: String { columns["file_format"] ?? "" }
        var linkType: String { columns["link_type"] ?? "" }
        var tsharkReadsOK: Bool { columns["tshark_reads_ok"] == "yes" }
        var tags: Set<String> { Set((columns["tags"] ?? "").split(separator: ",").map(String.init)) }
    }

    /// Every capture MANIFEST.tsv lists, in manifest order. Empty when the corpus is absent.
    static let entries: [Entry] = {
        guard let dir = directory,
              let text = try? String(contentsOf: dir.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8) else {
            return []
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        guard !lines.isEmpty else { return [] }
        let header = lines.removeFirst()
        return lines.compactMap { row in
            guard let path = row.first, !path.isEmpty else { return nil }
            var cols: [String: String] = [:]
            for (i, name) in header.enumerated() where i < row.count { cols[name] = row[i] }
            return Entry(path: path, columns: cols)
        }
    }()

    static func url(_ e: Entry) -> URL { directory!.appendingPathComponent(e.path) }
}
