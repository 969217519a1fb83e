import Foundation
@testable import KZSignatures

/// Package root, found from this file's path (Tests/KZSignaturesTests/TestSupport.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let builtInSignatures = packageRoot.appendingPathComponent("Signatures", isDirectory: true)

/// A temporary signatures directory filled with the given files (relative path → content). Removed by `cleanup()`.
struct TempSignatures {
    let url: URL

    init(_ files: [String: String]) throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kzsig-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (relative, content) in files {
            let file = url.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try Data(content.utf8).write(to: file)
        }
    }

    func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Loads `directories` and returns the thrown error, or nil on success.
func loadError(_ directories: [URL]) -> SignatureLoadError? {
    do {
        _ = try SignatureDatabase.load(directories: directories)
        return nil
    } catch {
        return error
    }
}

let ooniHeader = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes,rev"

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
