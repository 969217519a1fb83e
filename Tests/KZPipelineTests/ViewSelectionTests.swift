import Foundation
import KZPipeline
import Testing

/// Each view collects only its own rows; `analyze` (no views) keeps none and reduces bodies to their block-page facts.
@Suite struct ViewSelectionTests {
    func run(_ file: String, views: ViewSet) throws -> CaptureResult {
        var o = AnalysisOptions()
        o.views = views
        o.threads = 1
        let out = try Analyzer.run(paths: ["\(labDir)/\(file)"], options: o)
        return try #require(out.captures.first)
    }

    @Test func httpViewKeepsBodiesAndOtherViewsKeepNothingElse() throws {
        let page = "http_blockpage/client.pcap"
        let http = try run(page, views: .http)
        #expect(!http.httpRows.isEmpty)
        #expect(http.httpRows.contains { !($0.response?.body.captured.isEmpty ?? true) })
        #expect(http.flowRows.isEmpty && http.tlsRows.isEmpty && http.dnsTransactions.isEmpty)

        let flows = try run(page, views: .flows)
        #expect(!flows.flowRows.isEmpty)
        #expect(flows.flowRows.contains { $0.forward.packets > 0 && $0.reverse.payloadBytes > 0 })
        #expect(flows.httpRows.isEmpty)

        let none = try run(page, views: [])
        #expect(none.flowRows.isEmpty && none.httpRows.isEmpty && none.tlsRows.isEmpty && none.dnsTransactions.isEmpty)
    }

    @Test func dnsViewKeepsEveryTransactionAndAnalyzeKeepsOnlyNames() throws {
        let capture = "dns_injection/client.pcap"
        let dns = try run(capture, views: .dns)
        #expect(!dns.dnsTransactions.isEmpty)
        #expect(dns.dnsTransactions.contains { $0.responses.count >= 2 })   // the injected and the genuine answer
        #expect(Set(dns.dnsTransactions.map { $0.qname.lowercased() }) == dns.dnsQueryNames)
        let none = try run(capture, views: [])
        #expect(none.dnsTransactions.isEmpty)
        #expect(none.dnsQueryNames == dns.dnsQueryNames)
    }
}
