import Foundation
import KZAttribution
import KZCapture
@testable import KZWire

/// Package root, from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// ../shared/corpus relative to the package root (COMMON.md).
/// (Worktrees one level deeper, e.g. /work/wt/NAME, fall back to ../../shared/corpus.)
let corpusRoot: URL = {
    let near = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    if FileManager.default.fileExists(atPath: near.path) { return near }
    let far = packageRoot.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")
    return FileManager.default.fileExists(atPath: far.path) ? far : near
}()
let fixturesRoot: URL = packageRoot.appendingPathComponent("Fixtures/geoip")

/// Reads a capture into decoded packets and their bytes.
func loadCapture(_ path: String) throws -> ([DecodedPacket], FrameBytesTable) {
    let reader = try CaptureReader(path: path)
    let decoder = PacketDecoder()
    var packets: [DecodedPacket] = []
    var bytes = FrameBytesTable()
    reader.forEachFrame { f in
        packets.append(decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                      linkType: f.linkType))
        bytes.frames[f.number] = Array(f.bytes)
    }
    return (packets, bytes)
}

/// Builders for synthetic decoded packets.
enum Synth {
    static func ip(_ s: String) -> IPAddress { IPAddress(s) ?? IPAddress(v4: 0) }

    static func ipSummary(src: String, dst: String, ttl: UInt8, id: UInt32 = 0, proto: IPProtocol) -> IPSummary {
        IPSummary(version: 4, src: ip(src), dst: ip(dst), ttl: ttl, ipID: id, df: false, moreFragments: false,
                  fragmentOffset: 0, isFragment: false, hasFragmentHeader: false, proto: proto, tos: 0,
                  totalLength: 40, headerLength: 20, headerChecksum: .good, hasOptions: false, recordRouteCount: 0,
                  headerOffset: 14, tunnelDepth: 0, flowLabel: 0)
    }

    static func tcp(_ frame: Int, _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, ttl: UInt8,
                    flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, payload: Int = 0, id: UInt32 = 0) -> DecodedPacket {
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(frame) * 1_000_000),
                              capturedLength: 54 + payload, wireLength: 54 + payload, linkType: .ethernet)
        p.ip = ipSummary(src: src, dst: dst, ttl: ttl, id: id, proto: .tcp)
        p.transport = .tcp(TCPSummary(srcPort: sport, dstPort: dport, seq: seq, ack: ack, flags: flags, window: 1000,
                                      headerLength: 20, urgentPointer: 0, options: TCPOptionsSummary(),
                                      checksum: .good))
        p.payloadOffset = 54
        p.payloadLength = payload
        return p
    }

    static func timeExceeded(_ frame: Int, router: String, to client: String, quoting q: DecodedPacket,
                             type: UInt8 = 11) -> DecodedPacket {
        var p = DecodedPacket(frame: frame, timestamp: Timestamp(nanoseconds: Int64(frame) * 1_000_000),
                              capturedLength: 70, wireLength: 70, linkType: .ethernet)
        p.ip = ipSummary(src: router, dst: client, ttl: 250, proto: .icmp)
        let qi = q.ip!
        let qt = q.tcp
        let quoted = QuotedPacket(version: 4, src: qi.src, dst: qi.dst, ttl: 1, ipID: qi.ipID, proto: qi.proto,
                                  totalLength: qi.totalLength, srcPort: q.srcPort, dstPort: q.dstPort,
                                  tcpSeq: qt?.seq, icmpID: q.icmp?.echoID, icmpSeq: q.icmp?.echoSeq)
        p.transport = .icmp(ICMPSummary(isV6: false, type: type, code: 0, checksum: .good, echoID: nil, echoSeq: nil,
                                        quoted: quoted))
        return p
    }
}
