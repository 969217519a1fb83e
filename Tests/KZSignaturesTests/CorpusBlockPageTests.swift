import Foundation
import Testing
@testable import KZSignatures

/// Checks the shipped rows that were derived from a real capture against that capture in the shared corpus
/// (`../shared/corpus`, found from the package root). Uses a minimal classic-pcap / Linux SLL / IPv4 / TCP walker
/// written for this test only, so KZSignatures keeps no dependency on the capture stages.
@Suite struct CorpusBlockPageTests {
    /// `../shared/corpus` from the package root; from a helper worktree (`/work/wt/<name>`) that is one level higher.
    static let corpus: URL = {
        let candidates = [packageRoot.deletingLastPathComponent(), packageRoot.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("shared/corpus", isDirectory: true) }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
    }()

    /// TCP payloads sent by `server` from port 80, grouped per client port, as (seq, bytes).
    static func serverPayloads(pcap: [UInt8], server: [UInt8]) -> [UInt16: [(UInt32, [UInt8])]] {
        func le32(_ o: Int) -> Int { Int(pcap[o]) | Int(pcap[o + 1]) << 8 | Int(pcap[o + 2]) << 16 | Int(pcap[o + 3]) << 24 }
        func be16(_ p: ArraySlice<UInt8>, _ o: Int) -> Int { Int(p[p.startIndex + o]) << 8 | Int(p[p.startIndex + o + 1]) }
        var out: [UInt16: [(UInt32, [UInt8])]] = [:]
        guard pcap.count >= 24, le32(0) == 0xa1b2c3d4, le32(20) == 113 else { return out }   // LE µs, Linux SLL
        var offset = 24
        while offset + 16 <= pcap.count {
            let caplen = le32(offset + 8)
            let start = offset + 16
            offset = start + caplen
            guard offset <= pcap.count, caplen > 16 + 20 else { continue }
            let frame = pcap[start..<start + caplen]
            guard be16(frame, 14) == 0x0800 else { continue }                   // SLL protocol: IPv4
            let ip = frame.dropFirst(16)
            let ihl = Int(ip[ip.startIndex] & 0x0f) * 4
            let total = be16(ip, 2)
            guard ip[ip.startIndex + 9] == 6, ihl >= 20, total <= ip.count, Array(ip[(ip.startIndex + 12)..<(ip.startIndex + 16)]) == server
            else { continue }
            let tcp = ip[(ip.startIndex + ihl)..<(ip.startIndex + total)]
            guard tcp.count >= 20, be16(tcp, 0) == 80 else { continue }
            let dataOffset = Int(tcp[tcp.startIndex + 12] >> 4) * 4
            guard dataOffset <= tcp.count else { continue }
            let seq = UInt32(be16(tcp, 4)) << 16 | UInt32(be16(tcp, 6))
            let payload = Array(tcp.dropFirst(dataOffset))
            if !payload.isEmpty { out[UInt16(be16(tcp, 2)), default: []].append((seq, payload)) }
        }
        return out
    }

    /// Reassembles in-order payload (duplicates dropped) and returns (headers, body) of the first HTTP response.
    static func firstResponse(_ segments: [(UInt32, [UInt8])]) -> (head: String, body: [UInt8])? {
        var stream: [UInt8] = []
        var next: UInt32?
        for (seq, data) in segments.sorted(by: { $0.0 < $1.0 }) {
            if let n = next, seq != n { if seq < n { continue } else { break } }
            stream += data
            next = seq &+ UInt32(data.count)
        }
        guard stream.starts(with: Array("HTTP/".utf8)),
              let end = stream.indices.first(where: { stream[$0...].starts(with: [13, 10, 13, 10]) }) else { return nil }
        let head = String(decoding: stream[..<end], as: UTF8.self)
        var body = Array(stream[(end + 4)...])
        if let line = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
           let length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)), length <= body.count {
            body = Array(body[0..<length])
        }
        return (head, body)
    }

    @Test func fortiGatePageFromCenTraceMatchesItsRows() throws {
        let file = Self.corpus.appendingPathComponent("censorship/centrace/91.199.201.114_www.bitcomet.com_www.bitcomet.com.pcap")
        guard let data = FileManager.default.contents(atPath: file.path) else {
            print("CorpusBlockPageTests: \(file.path) not present; corpus check NOT run")
            return
        }
        let streams = Self.serverPayloads(pcap: Array(data), server: [91, 199, 201, 114])
        let responses = streams.keys.sorted().compactMap { Self.firstResponse(streams[$0] ?? []) }
        let blocked = try #require(responses.first { $0.head.hasPrefix("HTTP/1.1 403") })
        #expect(blocked.body.count == 2633)
        let headers: [(name: String, value: String)] = blocked.head.split(separator: "\r\n").dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        let db = try SignatureDatabase.load(directories: [builtInSignatures])
        let matches = db.matchBlockPage(body: blocked.body, headers: headers, status: 403)
        #expect(matches.map(\.citation) == ["kz.http_1@1", "kz.sha_1@1", "kz.sha_2@1"])
        // The control capture (example.com as Host) gets the real site and matches nothing.
        let control = Self.corpus.appendingPathComponent("censorship/centrace/91.199.201.114_www.bitcomet.com_example.com.pcap")
        if let controlData = FileManager.default.contents(atPath: control.path) {
            let cs = Self.serverPayloads(pcap: Array(controlData), server: [91, 199, 201, 114])
            let okResponses = cs.keys.sorted().compactMap { Self.firstResponse(cs[$0] ?? []) }
            #expect(!okResponses.isEmpty)
            for r in okResponses {
                #expect(db.matchBlockPage(body: r.body, headers: [], status: 200).filter { !$0.isFalsePositiveMarker }.isEmpty,
                        "\(r.head.prefix(40))")
            }
        }
    }
}
