import Foundation
import Testing
@testable import KZSignatures

/// `--signatures DIR`: user directories overlay the built-in one in order.
@Suite struct OverlayTests {
    @Test func userRowReplacesBuiltInRowWithTheSameIDAndAddsNewOnes() throws {
        let user = try TempSignatures([
            "http/blockpage-patterns.csv": """
            \(ooniHeader)
            kz.lab_blockpage,inst,,body,contains,<title>Доступ ограничен</title>,5,KZ,my lab notes,,,2
            user.kt_1,isp,,header.location,prefix,http://blocked.example.kz/,5,KZ,my own capture 2026-11-01,,,1
            """,
        ])
        defer { user.cleanup() }
        let base = try SignatureDatabase.load(directories: [builtInSignatures])
        let db = try SignatureDatabase.load(directories: [builtInSignatures, user.url])
        #expect(db.blockPagePatterns.count == base.blockPagePatterns.count + 1)
        #expect(db.directories == [builtInSignatures, user.url])

        // The replaced row matches its new pattern, with the new rev and origin.
        let old = db.matchBlockPage(body: bytes("Access to this resource is restricted in accordance with the legislation of the Republic of Kazakhstan"), headers: [], status: 200)
        #expect(old.isEmpty)
        let new = db.matchBlockPage(body: bytes("<title>Доступ ограничен</title>"), headers: [], status: 200)
        #expect(new.map(\.citation) == ["kz.lab_blockpage@2"])
        #expect(new.first?.origin.file == user.path("http/blockpage-patterns.csv"))
        #expect(new.first?.origin.line == 2)
        let added = db.matchBlockPage(body: [], headers: [("Location", "http://blocked.example.kz/x")], status: 302)
        #expect(added.map(\.id) == ["user.kt_1"])
        // Files the user did not provide keep their built-in rows.
        #expect(db.interceptionCAs == base.interceptionCAs)
        #expect(db.operatorForASN(9198) == base.operatorForASN(9198))
    }

    @Test func laterDirectoriesWin() throws {
        let a = try TempSignatures(["asn/kz-operators.csv": "asn,name,operator,brand,country,source,notes\n9198,X,Operator A,,KZ,a,\n"])
        let b = try TempSignatures(["asn/kz-operators.csv": "asn,name,operator,brand,country,source,notes\nAS9198,X,Operator B,,KZ,b,\n64512,P,Private,,KZ,b,\n"])
        defer { a.cleanup(); b.cleanup() }
        let ab = try SignatureDatabase.load(directories: [builtInSignatures, a.url, b.url])
        #expect(ab.operatorForASN(9198)?.operator == "Operator B")
        #expect(ab.operatorForASN(64512)?.operator == "Private")
        let ba = try SignatureDatabase.load(directories: [builtInSignatures, b.url, a.url])
        #expect(ba.operatorForASN(9198)?.operator == "Operator A")
    }

    @Test func bogonAndTTLOverlayByValue() throws {
        let user = try TempSignatures([
            "asn/bogons.csv": "prefix,label,source\n10.0.0.0/8,lab-network,our lab\n10.9.0.0/16,lab-censor,our lab\n",
            "ttl/initial-ttls.csv": "ttl,os_families,source,notes\n60,odd middlebox,our lab,\n",
        ])
        defer { user.cleanup() }
        let db = try SignatureDatabase.load(directories: [builtInSignatures, user.url])
        #expect(db.bogonLabel(for: "10.1.1.1") == "lab-network")
        #expect(db.bogonLabel(for: "10.9.1.1") == "lab-censor")
        #expect(db.bogonLabel(for: "172.16.0.1") == "private")
        #expect(db.initialTTLs.map(\.ttl) == [32, 60, 64, 128, 255])
        #expect(db.initialTTL(forObserved: 58) == 60)
    }

    @Test func userRowMayChangePatternTypeToRegexp() throws {
        let user = try TempSignatures([
            "http/blockpage-patterns.csv": "\(ooniHeader)\nkz.lab_blockpage,inst,,body,regexp,<title>Access (restricted|denied)</title>,5,KZ,lab,,,2\n",
        ])
        defer { user.cleanup() }
        let db = try SignatureDatabase.load(directories: [builtInSignatures, user.url])
        #expect(db.matchBlockPage(body: bytes("<title>Access denied</title>"), headers: [], status: nil).map(\.citation)
                == ["kz.lab_blockpage@2"])
    }

    @Test func anIDCannotMoveToAnotherKind() throws {
        let user = try TempSignatures([
            "http/block-hosts.csv": "id,rev,host,match,scope,country,source,notes\nkz.lab_blockpage,1,a.kz,exact,nat,KZ,x,\n",
        ])
        defer { user.cleanup() }
        let error = loadError([builtInSignatures, user.url])
        #expect(error?.code == .duplicateID)
        #expect(error?.file == user.path("http/block-hosts.csv"))
        #expect(error?.line == 2)
    }

    @Test func aBadUserFileStopsLoadingWithItsLocation() throws {
        let user = try TempSignatures([
            "tls/interception-cas.csv": "id,rev,match_on,pattern,product,scope,country,source,notes\nuser.ca,1,cert_sha256,1234,p,nat,KZ,x,\n",
        ])
        defer { user.cleanup() }
        let error = loadError([builtInSignatures, user.url])
        #expect(error?.description.hasPrefix("\(user.path("tls/interception-cas.csv")):2: ") == true)
    }
}
