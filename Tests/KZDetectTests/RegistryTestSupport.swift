import Foundation
import KZSignatures
import KZWire
@testable import KZDetect

// Shared helpers for the content-detector tests (dns.injection, http.block_page, tls.interception, registry).

/// Package root, from this file's path (Tests/KZDetectTests/RegistryTestSupport.swift).
let detectPackageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func addr(_ s: String) -> IPAddress {
    guard let a = IPAddress(s) else { preconditionFailure("bad test address \(s)") }
    return a
}

func at(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: Int64((seconds * 1e9).rounded())) }

/// Runs one detector over events and returns its sorted findings.
func runDetector(_ detector: any Detector, _ events: [AnalysisEvent], signatures: SignatureDatabase? = nil) -> [Finding] {
    var runner = DetectorRunner(detectors: [detector], context: DetectorContext(signatures: signatures))
    for e in events { runner.observe(e) }
    return runner.finish()
}

/// A signatures directory written to a temporary folder from (relative path → CSV body without header) and loaded.
func makeSignatures(_ rows: [String: [String]]) throws -> SignatureDatabase {
    let headers: [String: String] = [
        "http/blockpage-patterns.csv": "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes,rev",
        "http/blockpage-sha256.csv": "id,rev,sha256,normalization,scope,expected_countries,source,exp_url,notes",
        "http/block-hosts.csv": "id,rev,host,match,scope,country,source,notes",
        "dns/poisoned-answers.csv": "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes,rev",
        "tls/interception-cas.csv": "id,rev,match_on,pattern,product,scope,country,source,notes",
    ]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kzdetect-\(UUID().uuidString)",
                                                                             isDirectory: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for (relative, lines) in rows {
        guard let header = headers[relative] else { preconditionFailure("unknown file \(relative)") }
        let file = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(([header] + lines).joined(separator: "\n").appending("\n").utf8).write(to: file)
    }
    return try SignatureDatabase.load(directories: [dir])
}

/// The repository's own Signatures/ directory.
func builtInSignatures() throws -> SignatureDatabase {
    try SignatureDatabase.load(directories: [detectPackageRoot.appendingPathComponent("Signatures", isDirectory: true)])
}

extension Finding {
    /// Signature citations (`id@rev`) in the evidence.
    var citations: [String] {
        evidence.compactMap { if case .signatureMatch(let id, let rev, _, _, _) = $0 { "\(id)@\(rev)" } else { nil } }
    }
    /// Fields of value-mismatch evidence.
    var mismatchFields: [String] {
        evidence.compactMap { if case .valueMismatch(let field, _, _, _, _) = $0 { field } else { nil } }
    }
}

/// A TCP segment with defaults.
func segment(_ frame: FrameNumber, _ side: Side, flags: TCPFlags = [.ack], ttl: UInt8 = 64, seq: UInt32 = 0,
             payload: Int = 0, time: Double? = nil) -> SegmentEvent {
    SegmentEvent(frame: frame, time: at(time ?? Double(frame) * 0.01), side: side, seq: seq, ack: 0, flags: flags,
                 window: 64240, ttl: ttl, ipID: 0, df: true, payloadLength: payload)
}

/// A TCP flow 10.0.0.2:40000 → server:port with a handshake in frames 1–3 (server TTL `serverTTL`).
func tcpFlow(server: String = "93.184.216.34", port: UInt16 = 80, serverTTL: UInt8 = 52, extra: [SegmentEvent] = [],
             requests: [HTTPRequestEvent] = [], responses: [HTTPResponseEvent] = [],
             overlaps: [OverlapConflictEvent] = [], tls: TLSEvent? = nil, capture: String = "test.pcap") -> TCPFlowEvent {
    let segs = [segment(1, .client, flags: [.syn]), segment(2, .server, flags: [.syn, .ack], ttl: serverTTL),
                segment(3, .client)] + extra
    return TCPFlowEvent(capture: capture, client: addr("10.0.0.2"), clientPort: 40000, server: addr(server),
                        serverPort: port, firstTime: at(0.01), lastTime: at(1), connState: "SF", history: "ShADadFf",
                        segments: segs, payloadBytesClient: 100, payloadBytesServer: 1000, overlapConflicts: overlaps,
                        httpRequests: requests, httpResponses: responses, tls: tls)
}
