import Testing
import KZWire
@testable import KZDetect

/// The compact store gives back what it was given (minus the fields the detector never reads).
@Suite struct DNSTransactionStoreTests {
    static func response(_ frame: Int, _ answers: [String], ttl: UInt8 = 60, rcode: UInt8 = 0) -> DNSResponseEvent {
        DNSResponseEvent(frame: frame, time: Timestamp(nanoseconds: Int64(frame) * 1_000_000), source: IPAddress(v4: 0x0808_0808),
                         ttl: ttl, ipID: UInt32(frame * 7), df: frame % 2 == 0, rcode: rcode, answers: answers,
                         answerTTLs: answers.map { _ in 300 }, flagsAA: true, authorityCount: 1, additionalCount: 2)
    }

    static func transaction(_ frame: Int, name: String, _ responses: [DNSResponseEvent]) -> DNSTransactionEvent {
        DNSTransactionEvent(capture: "cap.pcap", client: IPAddress(v4: 0x0a00_0000 | UInt32(frame % 5)),
                            clientPort: UInt16(40_000 + frame), resolver: IPAddress(v4: 0x0808_0808), resolverPort: 53,
                            transport: frame % 3 == 0 ? "tcp" : "udp", queryFrame: frame,
                            queryTime: Timestamp(nanoseconds: Int64(frame) * 1_000_000 - 500), id: UInt16(frame),
                            qname: name, qtype: 1, responses: responses)
    }

    /// What the store may drop: answer TTLs, the AA flag and the section counts (the detector never reads them).
    static func stripped(_ t: DNSTransactionEvent) -> [String] {
        [t.capture, "\(t.client)", "\(t.clientPort)", "\(t.resolver)", "\(t.resolverPort)", t.transport,
         "\(t.queryFrame)", "\(t.queryTime)", "\(t.id)", t.qname, "\(t.qtype)"]
            + t.responses.map { "\($0.frame) \($0.time) \($0.source) \($0.ttl) \($0.ipID) \($0.df) \($0.rcode) \($0.answers)" }
    }

    @Test func roundTripsInArrivalOrderAndDropsUnansweredQueries() {
        var store = DNSTransactionStore()
        var kept: [DNSTransactionEvent] = []
        let names = ["a.example", "b.example", "a.example", "very-long-name.cdn.example.net"]
        for i in 1...200 {
            let responses: [DNSResponseEvent]
            switch i % 7 {
            case 0: responses = []
            case 1: responses = [Self.response(i + 1, ["10.10.10.10"], ttl: 250), Self.response(i + 2, ["93.184.216.34"])]
            case 2: responses = [Self.response(i + 1, [], rcode: 3)]
            default: responses = [Self.response(i + 1, ["93.184.216.34", "CNAME edge.example"])]
            }
            let t = Self.transaction(i, name: names[i % names.count], responses)
            store.add(t)
            if !responses.isEmpty { kept.append(t) }
        }
        #expect(store.count == kept.count)
        #expect(store.multiples.count == kept.filter { $0.responses.count > 1 }.count)
        for (slot, t) in zip(store.order, kept) {
            #expect(Self.stripped(store.transaction(slot)) == Self.stripped(t))
            #expect(store.sortKey(slot) == (t.queryFrame, t.id))
        }
        for (i, s) in store.singles.enumerated() {
            let r = store.singleResponse(i)
            #expect(r.response.frame == s.responseFrame)
            #expect(r.resolver == IPAddress(v4: 0x0808_0808))
        }
    }
}
