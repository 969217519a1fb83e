import KZDetect
import KZProtocols
import KZWire
import Testing
@testable import KZPipeline

/// DNS transactions are paired, kept open for the grace period, then released in query order (bounded memory).
@Suite struct DNSTransactionTrackerTests {
    static let client = IPAddress(v4: 0x0a00_0002), resolver = IPAddress(v4: 0x0a00_0035)

    /// A query (or, with `answer`, a response carrying one A record) for `name`, as wire bytes (RFC 1035 §4.1).
    static func message(id: UInt16, name: String, answer: UInt32? = nil) -> DNSMessage {
        var b: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), answer == nil ? 0x01 : 0x81, answer == nil ? 0x00 : 0x80,
                          0, 1, 0, answer == nil ? 0 : 1, 0, 0, 0, 0]
        for label in name.split(separator: ".") { b.append(UInt8(label.utf8.count)); b += Array(label.utf8) }
        b += [0, 0, 1, 0, 1]
        if let a = answer {
            b += [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]
            b += [UInt8(a >> 24), UInt8((a >> 16) & 0xff), UInt8((a >> 8) & 0xff), UInt8(a & 0xff)]
        }
        return DNSMessage.parse(b).message!
    }

    static func carrier(query: Bool, port: UInt16, frame: Int, seconds: Double, ttl: UInt8 = 64)
        -> DNSTransactionTracker.Carrier
    {
        .init(src: query ? client : resolver, srcPort: query ? port : 53, dst: query ? resolver : client,
              dstPort: query ? 53 : port, frame: frame, time: Timestamp(nanoseconds: Int64(seconds * 1e9)), ttl: ttl,
              ipID: 0, df: false, transport: "udp")
    }

    @Test func bothResponsesStayWithTheQueryUntilTheGraceEndsThenReleaseInQueryOrder() {
        var t = DNSTransactionTracker(capture: "c", grace: 10)
        t.message(Self.message(id: 1, name: "a.example"), Self.carrier(query: true, port: 5000, frame: 1, seconds: 0))
        t.message(Self.message(id: 2, name: "b.example"), Self.carrier(query: true, port: 5001, frame: 2, seconds: 1))
        // An injected answer first, then the genuine one, 3 s later.
        t.message(Self.message(id: 1, name: "a.example", answer: 0x0a0a_0a0a),
                  Self.carrier(query: false, port: 5000, frame: 3, seconds: 0.01, ttl: 250))
        t.message(Self.message(id: 1, name: "a.example", answer: 0x5db8_d822),
                  Self.carrier(query: false, port: 5000, frame: 4, seconds: 3))
        #expect(!t.hasReleased)
        #expect(t.openCount == 2)
        // 10.5 s: the first query is past its grace, the second is not.
        t.message(Self.message(id: 3, name: "c.example"), Self.carrier(query: true, port: 5002, frame: 5, seconds: 10.5))
        let first = t.takeReleased()
        #expect(first.map(\.queryFrame) == [1])
        #expect(first[0].responses.map(\.frame) == [3, 4])
        #expect(first[0].responses.map(\.ttl) == [250, 64])
        #expect(t.takeReleased().isEmpty)
        t.finish()
        #expect(t.takeReleased().map(\.queryFrame) == [2, 5])
        #expect(t.openCount == 0)
        #expect(t.unsolicitedCount == 0)
    }

    /// Finishing a step at a time releases the same transactions, with the same responses, in the same order as
    /// finishing at once.
    @Test func finishingInStepsReleasesWhatFinishingAtOnceDoes() {
        func filled() -> DNSTransactionTracker {
            var t = DNSTransactionTracker(capture: "c", grace: 10)
            for k in 0..<7 {
                let port = UInt16(5000 + k)
                t.message(Self.message(id: UInt16(k), name: "n\(k).example"),
                          Self.carrier(query: true, port: port, frame: 10 * k, seconds: Double(k) * 0.1))
                if k % 2 == 0 {
                    t.message(Self.message(id: UInt16(k), name: "n\(k).example", answer: UInt32(k)),
                              Self.carrier(query: false, port: port, frame: 10 * k + 1, seconds: Double(k) * 0.1 + 0.05))
                }
            }
            return t
        }
        var once = filled()
        once.finish()
        let all = once.takeReleased()
        #expect(all.count == 7)
        var stepped = filled()
        var got: [DNSTransactionEvent] = []
        var steps = 0
        var more = true
        while more {
            more = stepped.finish(step: 3)
            let taken = stepped.takeReleased()
            #expect(taken.count <= 3)
            got += taken
            steps += 1
        }
        #expect(steps == 3)
        #expect(got.map(\.queryFrame) == all.map(\.queryFrame))
        #expect(got.map { $0.responses.map(\.frame) } == all.map { $0.responses.map(\.frame) })
        #expect(got.map(\.qname) == all.map(\.qname))
        #expect(stepped.openCount == 0)
        let remaining = stepped.finish(step: 3)
        #expect(!remaining)
        #expect(stepped.takeReleased().isEmpty)
    }

    @Test func aResponseAfterTheGraceIsUnsolicited() {
        var t = DNSTransactionTracker(capture: "c", grace: 10)
        t.message(Self.message(id: 7, name: "late.example"), Self.carrier(query: true, port: 6000, frame: 1, seconds: 0))
        t.message(Self.message(id: 7, name: "late.example", answer: 1),
                  Self.carrier(query: false, port: 6000, frame: 2, seconds: 11))
        #expect(t.unsolicitedCount == 1)
        let released = t.takeReleased()
        #expect(released.count == 1)
        #expect(released[0].responses.isEmpty)
    }

    @Test func theOpenCapReleasesTheOldestEarlyAndCountsIt() {
        var t = DNSTransactionTracker(capture: "c", maxOpen: 3, grace: 1000)
        for i in 0..<5 {
            t.message(Self.message(id: UInt16(i), name: "n\(i).example"),
                      Self.carrier(query: true, port: UInt16(7000 + i), frame: i + 1, seconds: Double(i)))
        }
        #expect(t.capEvictions == 2)
        #expect(t.openCount == 3)
        #expect(t.takeReleased().map(\.queryFrame) == [1, 2])
        // The evicted query's answer no longer finds it.
        t.message(Self.message(id: 0, name: "n0.example", answer: 1),
                  Self.carrier(query: false, port: 7000, frame: 9, seconds: 5))
        #expect(t.unsolicitedCount == 1)
        t.finish()
        #expect(t.takeReleased().map(\.queryFrame) == [3, 4, 5])
    }

    /// Many transactions over a long capture: what stays open is the grace window, not the capture.
    @Test func openTransactionsStayWithinTheGraceWindow() {
        var t = DNSTransactionTracker(capture: "c", grace: 5)
        var released = 0, peakOpen = 0
        for i in 0..<20_000 {
            let s = Double(i) * 0.01      // 100 queries per second for 200 s
            let port = UInt16(10_000 + i % 50_000)
            t.message(Self.message(id: UInt16(i & 0xffff), name: "q.example"), Self.carrier(query: true, port: port, frame: 2 * i + 1, seconds: s))
            t.message(Self.message(id: UInt16(i & 0xffff), name: "q.example", answer: 1),
                      Self.carrier(query: false, port: port, frame: 2 * i + 2, seconds: s + 0.002))
            peakOpen = max(peakOpen, t.openCount)
            released += t.takeReleased().count
        }
        t.finish()
        released += t.takeReleased().count
        #expect(released == 20_000)
        #expect(peakOpen <= 502)
        #expect(t.unsolicitedCount == 0)
    }

    /// The flat waiting records give back every field as carried: IPv6 endpoints, the query name as sent (mixed case)
    /// while matching case-insensitively, every response in arrival order with its own traits, and a query repeated
    /// after an answer opening a new transaction that later responses join.
    @Test func waitingTransactionsKeepEveryFieldAndTheNewestTakesLaterResponses() {
        let client = IPAddress(v6High: 0x2001_0db8_0000_0001, low: 0x10)
        let resolver = IPAddress(v6High: 0x2001_0db8_0000_0053, low: 0x53)
        func carrier(query: Bool, frame: Int, ns: Int64, ttl: UInt8, ipID: UInt32, df: Bool, digits: UInt8 = 6)
            -> DNSTransactionTracker.Carrier
        {
            .init(src: query ? client : resolver, srcPort: query ? 40_000 : 53, dst: query ? resolver : client,
                  dstPort: query ? 53 : 40_000, frame: frame, time: Timestamp(nanoseconds: ns, digits: digits),
                  ttl: ttl, ipID: ipID, df: df, transport: query ? "udp" : "udp")
        }
        var t = DNSTransactionTracker(capture: "cap", grace: 10)
        t.message(Self.message(id: 9, name: "WWW.Example.ORG"),
                  carrier(query: true, frame: 1, ns: 1_000, ttl: 64, ipID: 0, df: false, digits: 9))
        for (k, (ttl, addr)) in [(UInt8(250), UInt32(0x0a0a_0a0a)), (57, 0x5db8_d822), (57, 0x5db8_d823)].enumerated() {
            t.message(Self.message(id: 9, name: "www.example.org", answer: addr),
                      carrier(query: false, frame: 2 + k, ns: 2_000 + Int64(k) * 1_000, ttl: ttl, ipID: UInt32(k * 7),
                              df: k == 1))
        }
        // The same query again after answers: a new transaction, which takes the next response.
        t.message(Self.message(id: 9, name: "www.example.org"),
                  carrier(query: true, frame: 6, ns: 9_000, ttl: 64, ipID: 0, df: false))
        t.message(Self.message(id: 9, name: "WWW.EXAMPLE.ORG", answer: 0x0101_0101),
                  carrier(query: false, frame: 7, ns: 9_500, ttl: 58, ipID: 3, df: true))
        t.finish()
        let r = t.takeReleased()
        #expect(r.count == 2)
        guard r.count == 2 else { return }
        #expect(r[0].qname == "WWW.Example.ORG" && r[1].qname == "www.example.org")
        #expect(r[0].client == client && r[0].resolver == resolver && r[0].clientPort == 40_000 && r[0].resolverPort == 53)
        #expect(r[0].queryTime == Timestamp(nanoseconds: 1_000, digits: 9) && r[0].queryTime.digits == 9)
        #expect(r[0].transport == "udp" && r[0].capture == "cap" && r[0].id == 9 && r[0].qtype == 1)
        #expect(r[0].responses.map(\.frame) == [2, 3, 4])
        #expect(r[0].responses.map(\.ttl) == [250, 57, 57])
        #expect(r[0].responses.map(\.ipID) == [0, 7, 14])
        #expect(r[0].responses.map(\.df) == [false, true, false])
        #expect(r[0].responses.map(\.source) == [resolver, resolver, resolver])
        #expect(r[0].responses.map(\.answers) == [["10.10.10.10"], ["93.184.216.34"], ["93.184.216.35"]])
        #expect(r[0].responses[0].time == Timestamp(nanoseconds: 2_000, digits: 6))
        #expect(r[1].queryFrame == 6 && r[1].responses.map(\.frame) == [7])
        #expect(r[1].responses.first?.answerTTLs == [3600])
        #expect(t.unsolicitedCount == 0)
    }
}
