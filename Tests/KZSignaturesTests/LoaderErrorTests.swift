import Foundation
import Testing
@testable import KZSignatures

/// Malformed files give a SignatureLoadError naming the file and the line of the bad record.
@Suite struct LoaderErrorTests {
    let goodRow = "kz.t_1,isp,,body,contains,blocked,5,KZ,test,,,1"

    func expectError(_ files: [String: String], code: SignatureLoadError.Code, file relative: String, line: Int,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempSignatures(files)
        defer { dir.cleanup() }
        let error = loadError([dir.url])
        #expect(error?.code == code, "got \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.file == dir.path(relative), sourceLocation: sourceLocation)
        #expect(error?.line == line, "got \(String(describing: error))", sourceLocation: sourceLocation)
        if let error {
            #expect(error.description.hasPrefix("\(dir.path(relative)):\(line): ") || line == 0,
                    sourceLocation: sourceLocation)
        }
    }

    @Test func columnCount() throws {
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\n\(goodRow)\nkz.t_2,isp,,body,contains,x,5,KZ,test,,\n"],
                        code: .columnCount, file: "http/blockpage-patterns.csv", line: 3)
    }

    @Test func headerMustBeVerbatim() throws {
        let reordered = "name,other_names,scope,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes,rev"
        try expectError(["http/blockpage-patterns.csv": "\(reordered)\n\(goodRow)\n"],
                        code: .badHeader, file: "http/blockpage-patterns.csv", line: 1)
        try expectError(["http/blockpage-patterns.csv": ""], code: .badHeader, file: "http/blockpage-patterns.csv", line: 1)
    }

    @Test func unknownScope() throws {
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\n\(goodRow)\nkz.t_2,gov,,body,contains,x,5,KZ,test,,,1\n"],
                        code: .invalidField, file: "http/blockpage-patterns.csv", line: 3)
    }

    @Test func emptyPatternAndEmptySource() throws {
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\nkz.t_2,isp,,body,contains,,5,KZ,test,,,1\n"],
                        code: .emptyField, file: "http/blockpage-patterns.csv", line: 2)
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,KZ,,,,1\n"],
                        code: .emptyField, file: "http/blockpage-patterns.csv", line: 2)
        try expectError(["asn/bogons.csv": "prefix,label,source\n10.0.0.0/8,private,\n"],
                        code: .emptyField, file: "asn/bogons.csv", line: 2)
    }

    @Test func regexpMustCompile() throws {
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\n\(goodRow)\n\n\"kz.t_2\",isp,,body,regexp,(unclosed,5,,test,,,1\n"],
                        code: .badRegexp, file: "http/blockpage-patterns.csv", line: 4)
    }

    @Test func badLocationPatternTypeRevAndConfidence() throws {
        let file = "http/blockpage-patterns.csv"
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,cookie,contains,x,5,,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,header.,contains,x,5,,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,suffix,x,5,,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,,test,,,0\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,high,,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,status,full,4x1,5,,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz t,isp,,body,contains,x,5,,test,,,1\n"], code: .invalidField, file: file, line: 2)
    }

    @Test func countryCodes() throws {
        let file = "http/blockpage-patterns.csv"
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,XK,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,\"KZ,\",test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,\"KZ, RU\",test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError([file: "\(ooniHeader)\nkz.t_2,isp,,body,contains,x,5,kz,test,,,1\n"], code: .invalidField, file: file, line: 2)
        try expectError(["http/block-hosts.csv": "id,rev,host,match,scope,country,source,notes\nkz.h,1,a.kz,exact,nat,KAZ,test,\n"],
                        code: .invalidField, file: "http/block-hosts.csv", line: 2)
    }

    @Test func hashLengthsAndNormalization() throws {
        let shaHeader = "id,rev,sha256,normalization,scope,expected_countries,source,exp_url,notes"
        let short = String(repeating: "a", count: 63)
        try expectError(["http/blockpage-sha256.csv": "\(shaHeader)\nkz.s,1,\(short),none,isp,,test,,\n"],
                        code: .invalidField, file: "http/blockpage-sha256.csv", line: 2)
        let good = String(repeating: "a", count: 64)
        try expectError(["http/blockpage-sha256.csv": "\(shaHeader)\nkz.s,1,\(good),lowercase,isp,,test,,\n"],
                        code: .invalidField, file: "http/blockpage-sha256.csv", line: 2)
        let caHeader = "id,rev,match_on,pattern,product,scope,country,source,notes"
        try expectError(["tls/interception-cas.csv": "\(caHeader)\nkz.c,1,cert_sha1,\(good),p,nat,KZ,test,\n"],
                        code: .invalidField, file: "tls/interception-cas.csv", line: 2)
        try expectError(["tls/interception-cas.csv": "\(caHeader)\nkz.c,1,cert_sha256,zz\(String(repeating: "a", count: 62)),p,nat,KZ,test,\n"],
                        code: .invalidField, file: "tls/interception-cas.csv", line: 2)
        try expectError(["tls/interception-cas.csv": "\(caHeader)\nkz.c,1,issuer_dn_contains,CN,p,nat,KZ,test,\n"],
                        code: .invalidField, file: "tls/interception-cas.csv", line: 2)
        try expectError(["tls/interception-cas.csv": "\(caHeader)\nkz.c,1,subject_cn,X,p,nat,KZ,test,\n"],
                        code: .invalidField, file: "tls/interception-cas.csv", line: 2)
    }

    @Test func duplicateIDsWithinAFileAndAcrossFiles() throws {
        try expectError(["http/blockpage-patterns.csv": "\(ooniHeader)\n\(goodRow)\n\(goodRow)\n"],
                        code: .duplicateID, file: "http/blockpage-patterns.csv", line: 3)
        // The same id in two kinds of one directory: the later file (by path order) is reported.
        try expectError([
            "http/blockpage-patterns.csv": "\(ooniHeader)\n\(goodRow)\n",
            "http/block-hosts.csv": "id,rev,host,match,scope,country,source,notes\nkz.t_1,1,a.kz,exact,nat,KZ,test,\n",
        ], code: .duplicateID, file: "http/blockpage-patterns.csv", line: 2)
        try expectError(["asn/kz-operators.csv": "asn,name,operator,brand,country,source,notes\n9198,A,B,,KZ,s,\nAS9198,A,B,,KZ,s,\n"],
                        code: .duplicateID, file: "asn/kz-operators.csv", line: 3)
        try expectError(["asn/bogons.csv": "prefix,label,source\n10.0.0.0/8,a,RFC 1918\n10.0.0.0/8,b,RFC 1918\n"],
                        code: .duplicateID, file: "asn/bogons.csv", line: 3)
    }

    @Test func prefixesASNsTTLsAndHosts() throws {
        let b = "prefix,label,source\n"
        try expectError(["asn/bogons.csv": b + "10.0.0.1/8,private,RFC 1918\n"], code: .invalidField, file: "asn/bogons.csv", line: 2)
        try expectError(["asn/bogons.csv": b + "10.0.0.0/33,private,RFC 1918\n"], code: .invalidField, file: "asn/bogons.csv", line: 2)
        try expectError(["asn/bogons.csv": b + "2001:db8::1/32,doc,RFC 3849\n"], code: .invalidField, file: "asn/bogons.csv", line: 2)
        try expectError(["asn/bogons.csv": b + "10.0.0.0,private,RFC 1918\n"], code: .invalidField, file: "asn/bogons.csv", line: 2)
        try expectError(["asn/kz-operators.csv": "asn,name,operator,brand,country,source,notes\nAS-x,A,B,,KZ,s,\n"],
                        code: .invalidField, file: "asn/kz-operators.csv", line: 2)
        try expectError(["ttl/initial-ttls.csv": "ttl,os_families,source,notes\n256,x,s,\n"],
                        code: .invalidField, file: "ttl/initial-ttls.csv", line: 2)
        let h = "id,rev,host,match,scope,country,source,notes\n"
        try expectError(["http/block-hosts.csv": h + "kz.h,1,10.0.0.1,suffix,nat,KZ,s,\n"], code: .invalidField, file: "http/block-hosts.csv", line: 2)
        try expectError(["http/block-hosts.csv": h + "kz.h,1,http://a.kz/,exact,nat,KZ,s,\n"], code: .invalidField, file: "http/block-hosts.csv", line: 2)
        try expectError(["http/block-hosts.csv": h + "kz.h,1,a.kz,prefix,nat,KZ,s,\n"], code: .invalidField, file: "http/block-hosts.csv", line: 2)
    }

    @Test func malformedCSVInsideADirectory() throws {
        try expectError(["dns/poisoned-answers.csv": "\(ooniHeader)\nooni.x,nat,,dns,full,\"1.2.3.4,5,CN,ooni,,,1\n"],
                        code: .malformedCSV, file: "dns/poisoned-answers.csv", line: 2)
    }

    @Test func unknownFileAndMissingDirectory() throws {
        try expectError(["http/blockpage-pattern.csv": "\(ooniHeader)\n"], code: .unknownFile,
                        file: "http/blockpage-pattern.csv", line: 0)
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("kzsig-missing-\(UUID().uuidString)")
        let error = loadError([missing])
        #expect(error?.code == .directoryMissing)
        #expect(error?.file == missing.path)
    }

    @Test func invalidUTF8IsReported() throws {
        let dir = try TempSignatures([:])
        defer { dir.cleanup() }
        let file = dir.url.appendingPathComponent("asn/bogons.csv")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([0x70, 0xff, 0xfe, 0x0a]).write(to: file)
        let error = loadError([dir.url])
        #expect(error?.code == .unreadable)
        #expect(error?.file == file.path)
    }
}
