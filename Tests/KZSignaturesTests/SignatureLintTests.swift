import Foundation
import Testing
@testable import KZSignatures

/// Lints every shipped file under Signatures/ (OONI's validate_csv.py as a test, plus our own files). The loader runs
/// all per-row checks (column count, header, unique ids, known scope, non-empty pattern and source, regexps compile,
/// hex lengths, ISO country codes, CIDR host bits); errors print as file:line.
@Suite struct SignatureLintTests {
    @Test func builtInDirectoryLoadsWithoutErrors() throws {
        do {
            let db = try SignatureDatabase.load(directories: [builtInSignatures])
            #expect(!db.blockPagePatterns.isEmpty)
            #expect(!db.blockPageHashes.isEmpty)
            #expect(!db.blockHosts.isEmpty)
            #expect(!db.poisonedDNS.isEmpty)
            #expect(!db.interceptionCAs.isEmpty)
            #expect(!db.operators.isEmpty)
            #expect(!db.bogons.isEmpty)
            #expect(db.initialTTLs.map(\.ttl) == [32, 64, 128, 255])
        } catch {
            Issue.record("Signatures/ lint failed: \(error.description)")
        }
    }

    @Test func everyKnownFileAndReadmeIsShipped() {
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: builtInSignatures.appendingPathComponent("README.md").path))
        for relative in SignatureDatabase.knownFiles {
            #expect(fm.fileExists(atPath: builtInSignatures.appendingPathComponent(relative).path), "missing \(relative)")
            let folder = String(relative.split(separator: "/")[0])
            #expect(fm.fileExists(atPath: builtInSignatures.appendingPathComponent("\(folder)/README.md").path),
                    "missing \(folder)/README.md")
        }
    }

    @Test func builtInDirectoryIsFoundFromTheSourceTree() {
        let found = SignatureDatabase.builtInDirectory(environment: [:])
        #expect(found?.standardizedFileURL.path == builtInSignatures.standardizedFileURL.path)
        let viaEnv = SignatureDatabase.builtInDirectory(environment: ["KZFORENSICS_SIGNATURES": builtInSignatures.path])
        #expect(viaEnv?.path == builtInSignatures.path)
    }

    /// Provenance: every row has a source, and rows carry the source their id prefix promises.
    @Test func idPrefixesMatchProvenance() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let allowedPrefixes = ["kz.", "ooni.", "cp."]
        for r in db.blockPagePatterns {
            #expect(allowedPrefixes.contains { r.name.hasPrefix($0) }, "\(r.origin): id \(r.name) has no known prefix")
            if r.name.hasPrefix("ooni.") { #expect(r.source == "ooni", "\(r.origin)") }
            if r.name.hasPrefix("cp.") { #expect(r.source == "censored planet", "\(r.origin)") }
            if r.name.hasPrefix("kz.") { #expect(r.source != "ooni" && r.source != "censored planet", "\(r.origin)") }
        }
        for r in db.poisonedDNS {
            #expect(r.name.hasPrefix("ooni.") || r.name.hasPrefix("kz."), "\(r.origin)")
        }
        for id in db.blockPageHashes.map(\.id) + db.blockHosts.map(\.id) + db.interceptionCAs.map(\.id) {
            #expect(id.hasPrefix("kz."), "id \(id) must use the kz. prefix")
        }
        for r in db.operators { #expect(!r.source.isEmpty && r.country == "KZ", "\(r.origin)") }
        for r in db.bogons { #expect(r.source.contains("RFC"), "\(r.origin): bogon source should cite an RFC") }
    }

    /// The rows the brief requires are present with the promised content.
    @Test func requiredRowsArePresent() throws {
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let lab = try #require(db.blockPagePatterns.first { $0.name == "kz.lab_blockpage" })
        #expect(lab.pattern == "Access to this resource is restricted in accordance with the legislation of the Republic of Kazakhstan")
        #expect(lab.patternType == .contains && lab.scope == .inst && lab.expectedCountries == ["KZ"])
        #expect(lab.source == "kzforensics lab (Fixtures/lab/lib/injector.py)")
        let labCA = try #require(db.interceptionCAs.first { $0.id == "kz.lab_qaznet" })
        #expect(labCA.matchOn == .issuerCN && labCA.pattern == "Qaznet Trust Network")
        #expect(db.operatorForASN(9198)?.operator == "JSC Kazakhtelecom")
        #expect(db.operatorForASN(9198)?.brand == "Megaline")
        for asn: UInt32 in [21299, 29355, 41798, 5434] { #expect(db.operatorForASN(asn) != nil, "AS\(asn)") }
        #expect(db.interceptionCAs.contains { $0.matchOn == .certSHA256 })
        #expect(db.interceptionCAs.contains { $0.matchOn == .certSHA1 })
    }

    /// Every prefix of every shipped file either parses or fails with a named CSV error; nothing crashes.
    @Test func truncatedShippedFilesNeverCrashTheReader() throws {
        for relative in SignatureDatabase.knownFiles {
            let text = try String(contentsOf: builtInSignatures.appendingPathComponent(relative), encoding: .utf8)
            let utf8 = Array(text.utf8)
            var failures = 0
            for end in stride(from: 0, through: utf8.count, by: 1) {
                let prefix = String(decoding: utf8[0..<end], as: UTF8.self)
                do {
                    _ = try CSVReader.parse(prefix, file: relative)
                } catch {
                    #expect(error.code == .malformedCSV)
                    #expect(error.line >= 1)
                    failures += 1
                }
            }
            #expect(failures < utf8.count, "\(relative): almost no prefix parsed")
        }
    }
}
