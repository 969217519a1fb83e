import Foundation
import KZAttribution
import KZWire
import Testing

/// Passive injector distance on the lab's forged packets (truth lists them by frame): with a standard initial TTL
/// (32/64/128/255) the estimate must give the censor's hop; with a non-standard one it must not claim a trusted hop
/// that is wrong.
@Suite struct LabDistanceTests {
    struct Truth: Decodable {
        struct Censor: Decodable { var hop: Int; var inject_ttl: Int?; var style: String }
        struct Interfered: Decodable { var capture: String; var injected_frames: [Int]?; var detector: String; var server: String? }
        var censor: Censor?
        var interfered: [Interfered]
    }

    @Test func injectedPacketsEstimateTheCensorHop() throws {
        let root = packageRoot.appendingPathComponent("Fixtures/captures/lab")
        guard let dirs = try? FileManager.default.contentsOfDirectory(atPath: root.path) else {
            print("lab fixtures missing: passive distance check NOT run")
            return
        }
        var rows: [String] = []
        var exact = 0, refused = 0
        for d in dirs.sorted() {
            let dir = root.appendingPathComponent(d)
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("truth.json").path),
                  let truth = try? JSONDecoder().decode(Truth.self, from: data), let c = truth.censor,
                  let injectTTL = c.inject_ttl else { continue }
            let (packets, _) = try loadCapture(dir.appendingPathComponent("client.pcap").path)
            let distances = PassiveDistance.compute(packets: packets)
            for inter in truth.interfered where inter.capture == "client.pcap" {
                for f in inter.injected_frames ?? [] {
                    guard let p = packets.first(where: { $0.frame == f }), let ip = p.ip else { continue }
                    if p.icmp != nil { continue }      // ICMP errors come from the router's own address
                    let peer = distances.first { $0.source == ip.src }?.modalTTL
                    let e = InjectorHopEstimate.estimate(injectedTTL: ip.ttl, peerTTL: peer)
                    let standard = [32, 64, 128, 255].contains(injectTTL)
                    if inter.detector == "tls.interception" {
                        // A terminating proxy is the peer: every server packet has its TTL, so copying-the-peer is the
                        // honest reading, and the hop still comes out of the TTL.
                        #expect(e.copying == .copiesPeer && !e.trusted && e.hopIndex == c.hop, "\(d) frame \(f)")
                    } else if standard {
                        #expect(e.trusted && e.hopIndex == c.hop, "\(d) frame \(f): TTL \(ip.ttl) → hop \(e.hopIndex), truth \(c.hop)")
                        if e.trusted && e.hopIndex == c.hop { exact += 1 }
                    } else {
                        #expect(!e.trusted || e.hopIndex == c.hop, "\(d) frame \(f): non-standard initial TTL \(injectTTL) gave a wrong trusted hop \(e.hopIndex)")
                        if !e.trusted { refused += 1 }
                    }
                    rows.append("\(d) frame \(f) \(inter.detector): ttl \(ip.ttl) (inject \(injectTTL), peer \(peer.map(String.init) ?? "-")) → hop \(e.hopIndex) \(e.trusted ? "trusted" : "untrusted") [truth hop \(c.hop)] \(e.note)")
                }
            }
        }
        print(rows.joined(separator: "\n"))
        print("passive distance on lab forged packets: \(exact) exact with standard initial TTLs, \(refused) refused with non-standard ones")
        #expect(exact >= 3)
    }
}
