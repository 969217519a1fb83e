import KZDetect
import KZProtocols
import KZSignatures
import Testing
@testable import KZPipeline

/// Lean `FlowAppState` with signatures keeps, of each final response's headers, only what the block-page detector
/// reads once the body facts are taken: the first Location header of a redirect (found as `header(_:)` finds it).
@Suite struct FlowAppStateLeanTests {
    static func responses(_ text: String, request: String = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        throws -> [HTTPResponseEvent] {
        let db = try SignatureDatabase.loadBuiltIn()
        let st = FlowAppState(config: FlowAppState.Config(lean: true, signatures: db))
        st.start(.http)
        for (bytes, forward) in [(Array(request.utf8), true), (Array(text.utf8), false)] {
            bytes.withUnsafeBytes { st.feed($0, forward: forward, frame: forward ? 1 : 2) { _, _, _ in } }
        }
        st.finish()
        return st.detectorHTTP().1
    }

    @Test func redirectKeepsOnlyItsFirstLocationHeader() throws {
        let r = try Self.responses("HTTP/1.1 302 Found\r\nServer: x\r\nlOcAtIoN: http://blocked.example/\r\n"
                                   + "Location: http://second.example/\r\nContent-Length: 0\r\n\r\n")
        #expect(r.count == 1)
        #expect(r.first?.bodyFacts != nil)
        #expect(r.first?.headers.count == 1)
        #expect(r.first?.header("Location") == "http://blocked.example/")
    }

    @Test func otherStatusesKeepNoHeader() throws {
        let r = try Self.responses("HTTP/1.1 200 OK\r\nLocation: http://x.example/\r\nContent-Length: 2\r\n\r\nhi")
        #expect(r.count == 1)
        #expect(r.first?.status == 200)
        #expect(r.first?.bodyFacts != nil)
        #expect(r.first?.headers.isEmpty == true)
    }

    @Test func redirectWithoutLocationKeepsNoHeader() throws {
        let r = try Self.responses("HTTP/1.1 301 Moved\r\nServer: x\r\nContent-Length: 0\r\n\r\n")
        #expect(r.first?.status == 301)
        #expect(r.first?.headers.isEmpty == true)
    }

    @Test func withoutSignaturesEveryHeaderStays() {
        let st = FlowAppState(config: FlowAppState.Config(lean: true, signatures: nil))
        st.start(.http)
        let text = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0\r\n\r\n"
        Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8).withUnsafeBytes {
            st.feed($0, forward: true, frame: 1) { _, _, _ in }
        }
        Array(text.utf8).withUnsafeBytes { st.feed($0, forward: false, frame: 2) { _, _, _ in } }
        st.finish()
        let r = st.detectorHTTP().1
        #expect(r.first?.bodyFacts == nil)
        #expect(r.first?.headers.map(\.name) == ["Server", "Content-Length"])
    }
}
