import KZCapture
import KZDetect
import KZWire

/// Writes, for each finding, a small pcap of its evidence frames plus the frames of its flow (`--extract DIR`), named
/// by finding id (`F0001.pcap`), with libpcap's dump API, so exactly the evidence opens in Wireshark.
public enum Extractor {
    public struct Written: Sendable {
        public var id: String
        public var path: String
        public var frames: Int
    }

    public static func extract(findings: [(id: String, finding: Finding)], directory: String,
                               engine: CaptureEngine = .native) throws -> [Written] {
        var byCapture: [String: [(id: String, finding: Finding)]] = [:]
        for f in findings { byCapture[f.finding.capture, default: []].append(f) }
        var out: [Written] = []
        let decoder = PacketDecoder()
        for (capture, list) in byCapture.sorted(by: { $0.key < $1.key }) {
            let reader = try CaptureReader(path: capture, engine: engine)
            var writers: [String: PcapWriter] = [:]
            var counts: [String: Int] = [:]
            let wanted = list.map { item -> (String, Set<FrameNumber>, (String, String)?) in
                let f = item.finding
                let ends = f.flow.map { ($0.client, $0.server) }
                return (item.id, Set(f.frames), ends)
            }
            var failure: CaptureError?
            reader.forEachFrame { frame in
                let p = decoder.decode(frame.bytes, frame: frame.number, timestamp: frame.timestamp,
                                       wireLength: frame.wireLength, linkType: frame.linkType)
                var a: String?, b: String?
                if let ip = p.ip, let sp = p.srcPort, let dp = p.dstPort {
                    a = ip.src.withPort(sp)
                    b = ip.dst.withPort(dp)
                }
                for (id, frames, ends) in wanted {
                    var take = frames.contains(frame.number)
                    if !take, let ends, let a, let b { take = (a == ends.0 && b == ends.1) || (a == ends.1 && b == ends.0) }
                    guard take else { continue }
                    if writers[id] == nil {
                        do {
                            writers[id] = try PcapWriter(path: directory + "/\(id).pcap", linkType: frame.linkType)
                        } catch {
                            failure = error as? CaptureError
                            continue
                        }
                    }
                    guard let w = writers[id], w.linkType == frame.linkType else { continue }
                    w.write(frame)
                    counts[id, default: 0] += 1
                }
            }
            for (id, w) in writers {
                w.close()
                out.append(Written(id: id, path: directory + "/\(id).pcap", frames: counts[id] ?? 0))
            }
            if let failure { throw failure }
        }
        return out.sorted { $0.id < $1.id }
    }
}
