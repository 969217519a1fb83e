import Testing
@testable import KZProtocols

@Suite struct SnifferTests {
    static func first(_ name: String, fromClient: Bool = true) -> [UInt8] {
        Fixture.segments(name).first { $0.fromClient == fromClient }?.bytes ?? []
    }

    @Test func contentBeatsPort() throws {
        let http = Self.first("http_post")
        let tls = Self.first("tls12_ja4")
        let dnsTCP = Self.first("dns_tcp")
        try #require(!http.isEmpty && !tls.isEmpty && !dnsTCP.isEmpty)
        #expect(ProtocolSniffer.guess(firstBytes: http, serverPort: 8080, transport: .tcp) == .http)
        #expect(ProtocolSniffer.guess(firstBytes: tls, serverPort: 8443, transport: .tcp) == .tls)
        #expect(ProtocolSniffer.guess(firstBytes: dnsTCP, serverPort: 53, transport: .tcp) == .dns)
        #expect(ProtocolSniffer.guess(firstBytes: tls, serverPort: 80, transport: .tcp) == .tls)          // TLS on port 80
        #expect(ProtocolSniffer.guess(firstBytes: http, serverPort: 443, transport: .tcp) == .http)       // HTTP on 443
        #expect(ProtocolSniffer.guess(firstBytes: dnsTCP, serverPort: 5353, transport: .tcp) == .dns)     // parses cleanly
        // A response seen first (capture started late) is still HTTP.
        #expect(ProtocolSniffer.guess(firstBytes: Self.first("http_post", fromClient: false), serverPort: 1234, transport: .tcp) == .http)
        // A server-side TLS record (ServerHello) too.
        #expect(ProtocolSniffer.guess(firstBytes: Self.first("tls12_ja4", fromClient: false), serverPort: 1234, transport: .tcp) == .tls)
    }

    @Test func udpDNS() throws {
        let q = Self.first("dns_udp")
        try #require(!q.isEmpty)
        #expect(ProtocolSniffer.guess(firstBytes: q, serverPort: 53, transport: .udp) == .dns)
        #expect(ProtocolSniffer.guess(firstBytes: q, serverPort: 40000, transport: .udp) == .dns)
        #expect(ProtocolSniffer.guess(firstBytes: [UInt8](repeating: 0xff, count: 40), serverPort: 53, transport: .udp) == .unknown)
    }

    @Test func junkAndTooFewBytes() {
        let junk: [UInt8] = Array("SSH-2.0-OpenSSH_9.2p1 Debian\r\n".utf8)
        #expect(ProtocolSniffer.guess(firstBytes: junk, serverPort: 80, transport: .tcp) == .unknown)
        #expect(ProtocolSniffer.guess(firstBytes: junk, serverPort: 443, transport: .tcp) == .unknown)
        #expect(ProtocolSniffer.guess(firstBytes: [], serverPort: 443, transport: .tcp) == .tls)         // port hint only
        #expect(ProtocolSniffer.guess(firstBytes: [], serverPort: 8080, transport: .tcp) == .http)
        #expect(ProtocolSniffer.guess(firstBytes: [0x00], serverPort: 53, transport: .tcp) == .dns)
        #expect(ProtocolSniffer.guess(firstBytes: [], serverPort: 22, transport: .tcp) == .unknown)
        #expect(ProtocolSniffer.guess(firstBytes: Array("XYZZY /foo bar\r\n".utf8), serverPort: 80, transport: .tcp) == .unknown)
        #expect(ProtocolSniffer.guess(firstBytes: Array("GETX / HTTP/1.1\r\n".utf8), serverPort: 7000, transport: .tcp) == .http)
        #expect(ProtocolSniffer.guess(firstBytes: Array("PROPFIND /dav HTTP/1.1".utf8), serverPort: 9000, transport: .tcp) == .http)
    }

    /// Every prefix of real first bytes gives an answer without crashing.
    @Test func everyPrefix() {
        for name in ["http_post", "tls12_ja4", "dns_tcp", "dns_udp"] {
            let b = Self.first(name)
            for n in 0...b.count {
                _ = ProtocolSniffer.guess(firstBytes: Array(b[0..<n]), serverPort: 0, transport: name == "dns_udp" ? .udp : .tcp)
            }
            #expect(!b.isEmpty)
        }
    }
}
