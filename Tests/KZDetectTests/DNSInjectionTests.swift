import Testing
import KZSignatures
@testable import KZWire
@testable import KZDetect

/// dns.injection on synthetic transactions: client 10.0.0.2, resolver 8.8.8.8.
@Suite struct DNSInjectionTests {
    static let resolver = "8.8.8.8"

    static func response(_ frame: FrameNumber, t: Double, ttl: UInt8 = 120, ipID: UInt32 = 0, df: Bool = true,
                         answers: [String], source: String = resolver, rcode: UInt8 = 0) -> DNSResponseEvent {
        DNSResponseEvent(frame: frame, time: at(t), source: addr(source), ttl: ttl, ipID: ipID, df: df, rcode: rcode,
                         answers: answers)
    }

    static func txn(_ queryFrame: FrameNumber, t: Double, id: UInt16, qname: String = "example.com",
                    responses: [DNSResponseEvent]) -> AnalysisEvent {
        .dnsTransaction(DNSTransactionEvent(capture: "dns.pcap", client: addr("10.0.0.2"), clientPort: 5353,
                                            resolver: addr(resolver), resolverPort: 53, transport: "udp",
                                            queryFrame: queryFrame, queryTime: at(t), id: id, qname: qname, qtype: 1,
                                            responses: responses))
    }

    /// Five uncontested transactions (frames 100…) with TTL 120, counting IP IDs and 30 ms RTT.
    static func baseline(ttl: UInt8 = 120) -> [AnalysisEvent] {
        var out: [AnalysisEvent] = []
        for i in 0..<5 {
            let f = 100 + i * 2
            let r = response(f + 1, t: Double(i) + 0.030, ttl: ttl, ipID: UInt32(500 + i), answers: ["192.0.2.\(i + 1)"])
            out.append(txn(f, t: Double(i), id: UInt16(1000 + i), qname: "ok\(i).example", responses: [r]))
        }
        return out
    }

    @Test func raceWithDifferentTTLIsHighAndBlamesTheEarlyReply() throws {
        let e = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.003, ttl: 50, answers: ["10.10.34.35"]),
            Self.response(3, t: 0.040, ttl: 120, answers: ["93.184.216.34"]),
        ])
        let f = runDetector(DNSInjectionDetector(), [e])
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.detector == "dns.injection")
        #expect(x.confidence == .high)
        #expect(x.injectedFrame == 2)
        #expect(x.injectedTTL == 50)
        #expect(x.peerTTL == 120)
        #expect(x.claimedSource == "8.8.8.8")
        #expect(x.frames == [1, 2, 3])
        #expect(x.target?.qname == "example.com")
        #expect(x.flow == FlowRef(proto: "udp", client: "10.0.0.2:5353", server: "8.8.8.8:53"))
        #expect(x.mismatchFields == ["ttl"])
        #expect(x.evidence.contains { if case .dnsAnswers(1, "example.com", let a) = $0 { a.count == 2 } else { false } })
        #expect(x.summary.contains("10.10.34.35"))
    }

    @Test func raceAloneIsMedium() throws {
        let e = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.010, answers: ["10.10.34.35"]),
            Self.response(3, t: 0.040, answers: ["93.184.216.34"]),
        ])
        let x = try #require(runDetector(DNSInjectionDetector(), [e]).first)
        #expect(x.confidence == .medium)
        #expect(x.injectedFrame == 2)
    }

    @Test func raceWithCopiedTTLButOtherDFAndIPIDIsHigh() throws {
        // The kzforensics lab's injector: TTL within ±1 of the genuine reply, but DF clear and an IP ID off the
        // resolver's counter (genuine 33465, the next uncontested reply 33497).
        let race = Self.txn(1, t: 0, id: 7, qname: "blocked.kz.example", responses: [
            Self.response(2, t: 0.0486, ttl: 58, ipID: 23516, df: false, answers: ["10.77.66.66"]),
            Self.response(3, t: 0.2542, ttl: 59, ipID: 33465, df: true, answers: ["10.77.9.2"]),
        ])
        let control = Self.txn(5, t: 1, id: 8, qname: "allowed.example", responses: [
            Self.response(6, t: 1.254, ttl: 59, ipID: 33497, df: true, answers: ["10.77.9.2"]),
        ])
        let f = runDetector(DNSInjectionDetector(), [race, control])
        #expect(f.count == 1)
        let x = try #require(f.first)
        #expect(x.confidence == .high)
        #expect(x.injectedFrame == 2)
        #expect(Set(x.mismatchFields) == ["df", "ip_id"])
    }

    @Test func forgedNXDOMAINRacingAnAnswerCounts() throws {
        let e = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.002, ttl: 60, answers: [], rcode: 3),
            Self.response(3, t: 0.040, answers: ["93.184.216.34"]),
        ])
        let x = try #require(runDetector(DNSInjectionDetector(), [e]).first)
        #expect(x.injectedFrame == 2)
        #expect(x.summary.contains("rcode 3"))
    }

    @Test func identicalDuplicateResponsesAreNotInjection() {
        let e = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.030, answers: ["93.184.216.34", "93.184.216.35"]),
            Self.response(3, t: 0.031, answers: ["93.184.216.35", "93.184.216.34"]),
        ])
        #expect(runDetector(DNSInjectionDetector(), [e]).isEmpty)
    }

    @Test func cdnAnsweringRepeatedQueriesDifferentlyIsNotInjection() {
        var events: [AnalysisEvent] = Self.baseline()
        for i in 0..<4 {
            let t = Double(i) * 10
            let r = Self.response(2 + i * 2, t: t + 0.03, answers: ["203.0.113.\(10 + i)"])
            events.append(Self.txn(1 + i * 2, t: t, id: UInt16(40 + i), qname: "www.cdn.example", responses: [r]))
        }
        #expect(runDetector(DNSInjectionDetector(), events).isEmpty)
    }

    @Test func offBaselineTTLAloneIsLow() throws {
        let odd = Self.txn(1, t: 10, id: 9, responses: [Self.response(2, t: 10.030, ttl: 60, ipID: 505,
                                                                      answers: ["10.10.34.35"])])
        let x = try #require(runDetector(DNSInjectionDetector(), Self.baseline() + [odd]).first)
        #expect(x.confidence == .low)
        #expect(x.mismatchFields == ["ttl"])
        #expect(x.injectedFrame == 2)
        #expect(x.peerTTL == 120)
        #expect(x.evidence.contains { if case .valueMismatch("ttl", 2, "120", "60", let b?) = $0 { b >= 100 } else { false } })
    }

    @Test func threeOffBaselineValuesOnOneReplyAreMedium() throws {
        // Fast (2 ms vs a 30 ms floor), TTL 60 vs 120, IP ID 40000 vs a counter near 500.
        let odd = Self.txn(1, t: 10, id: 9, responses: [Self.response(2, t: 10.002, ttl: 60, ipID: 40000,
                                                                      answers: ["10.10.34.35"])])
        let x = try #require(runDetector(DNSInjectionDetector(), Self.baseline() + [odd]).first)
        #expect(x.confidence == .medium)
        #expect(Set(x.mismatchFields) == ["ttl", "ip_id"])
        #expect(x.evidence.contains { if case .timing("dns_rtt", 2, let exp, let obs) = $0 { exp > 0.02 && obs < 0.01 } else { false } })
    }

    @Test func holdOnPicksTheOffBaselineReplyEvenWhenItArrivesLast() throws {
        // The first reply fits the resolver's baseline; the second is from another distance.
        let e = Self.txn(1, t: 10, id: 9, responses: [
            Self.response(2, t: 10.030, ttl: 120, ipID: 505, answers: ["93.184.216.34"]),
            Self.response(3, t: 10.031, ttl: 60, ipID: 505, answers: ["10.10.34.35"]),
        ])
        let x = try #require(runDetector(DNSInjectionDetector(), Self.baseline() + [e]).first)
        #expect(x.injectedFrame == 3)
        #expect(x.peerTTL == 120)
        #expect(x.confidence == .high)
    }

    @Test func cacheMissesAndHitsAreNotTimingAnomalies() {
        // A recursive resolver: cached names in 1.5–2.5 ms, others in 45 ms (suricata-verify dns bug-1158 shape).
        var events: [AnalysisEvent] = []
        for (i, d) in [0.0023, 0.0015, 0.0022, 0.045, 0.0455, 0.0449, 0.0096, 0.0058].enumerated() {
            let r = Self.response(2 + i * 2, t: Double(i) + d, ttl: 64, ipID: UInt32(4885 + i), df: false,
                                  answers: ["192.0.2.\(i)"])
            events.append(Self.txn(1 + i * 2, t: Double(i), id: UInt16(i), qname: "n\(i).example", responses: [r]))
        }
        #expect(runDetector(DNSInjectionDetector(), events).isEmpty)
    }

    @Test func routeChangeMovingManyRepliesIsNotFlagged() {
        // Half the replies come with TTL 120, half with 110: no rare outlier.
        var events: [AnalysisEvent] = []
        for i in 0..<8 {
            let ttl: UInt8 = i < 4 ? 120 : 110
            let r = Self.response(2 + i * 2, t: Double(i) + 0.03, ttl: ttl, answers: ["192.0.2.\(i)"])
            events.append(Self.txn(1 + i * 2, t: Double(i), id: UInt16(i), qname: "n\(i).example", responses: [r]))
        }
        #expect(runDetector(DNSInjectionDetector(), events).isEmpty)
    }

    @Test func knownForgedAnswerIsHighAndCitesTheSignature() throws {
        let db = try makeSignatures(["dns/poisoned-answers.csv": [
            "test.cn_0,nat,,dns,full,8.7.198.45,5,CN,test,,GFW poison address,3",
        ]])
        let e = Self.txn(1, t: 0, id: 7, qname: "twitter.com",
                         responses: [Self.response(2, t: 0.03, answers: ["8.7.198.45"])])
        let x = try #require(runDetector(DNSInjectionDetector(), [e], signatures: db).first)
        #expect(x.confidence == .high)
        #expect(x.citations == ["test.cn_0@3"])
        // Without signatures the same transaction is clean.
        #expect(runDetector(DNSInjectionDetector(), [e]).isEmpty)
    }

    @Test func answerFromAnotherAddressIsFlagged() throws {
        let e = Self.txn(1, t: 0, id: 7, responses: [Self.response(2, t: 0.03, answers: ["10.10.34.35"],
                                                                   source: "198.51.100.9")])
        let x = try #require(runDetector(DNSInjectionDetector(), [e]).first)
        #expect(x.confidence == .low)
        #expect(x.mismatchFields == ["source"])
        #expect(x.claimedSource == "198.51.100.9")
    }

    @Test func answersFromAnAddressThatRunsNoResolverAreHigh() throws {
        // The resolver address rejected another DNS query with ICMP port unreachable (frame 9).
        let quoted = QuotedPacket(version: 4, src: addr("10.0.0.2"), dst: addr(Self.resolver), ttl: 63, ipID: 1,
                                  proto: .udp, totalLength: 60, srcPort: 5000, dstPort: 53, tcpSeq: nil, icmpID: nil,
                                  icmpSeq: nil)
        let icmp = AnalysisEvent.icmpError(ICMPErrorEvent(capture: "dns.pcap", frame: 9, time: at(5),
                                                          source: addr(Self.resolver), destination: addr("10.0.0.2"),
                                                          ttl: 50, ipID: 0, isV6: false, type: 3, code: 3,
                                                          quoted: quoted))
        let e = Self.txn(1, t: 0, id: 7, responses: [Self.response(2, t: 0.03, answers: ["31.13.72.1"])])
        let x = try #require(runDetector(DNSInjectionDetector(), [e, icmp]).first)
        #expect(x.confidence == .high)
        #expect(x.frames.contains(9))
    }

    @Test func unansweredQueryIsNotThisDetectorsBusiness() {
        #expect(runDetector(DNSInjectionDetector(), [Self.txn(1, t: 0, id: 7, responses: [])]).isEmpty)
    }

    @Test func baselineVerdicts() {
        var b = ResolverBaseline()
        for i in 0..<5 {
            b.add(.init(frame: i, time: at(Double(i)), ttl: 120, ipID: UInt32(100 + i), df: true, rtt: 0.03))
        }
        #expect(b.ttlMismatch(121, excluding: 99, minSamples: 3, tolerance: 1, rareFraction: 0.2) == nil)
        #expect(b.ttlMismatch(118, excluding: 99, minSamples: 3, tolerance: 1, rareFraction: 0.2)?.expected == 120)
        #expect(b.floorRTT(excluding: 99, minSamples: 3) == 0.03)
        #expect(b.floorRTT(excluding: 99, minSamples: 6) == nil)
        #expect(b.ipIDMismatch(106, at: at(5), excluding: 99, minSamples: 3, maxGap: 2048) == nil)
        #expect(b.ipIDMismatch(30000, at: at(5), excluding: 99, minSamples: 3, maxGap: 2048) != nil)
        #expect(b.dfMismatch(false, excluding: 99, minSamples: 3)?.expected == true)
        #expect(b.dfMismatch(true, excluding: 99, minSamples: 3) == nil)
        // A response is never its own baseline.
        var one = ResolverBaseline()
        one.add(.init(frame: 1, time: at(0), ttl: 60, ipID: 0, df: true, rtt: 0.01))
        #expect(one.ttlMismatch(60, excluding: 1, minSamples: 1, tolerance: 1, rareFraction: 0.2) == nil)
    }

    /// The lab's on-path injector: the forged reply copies the resolver's TTL (within ±1) but clears DF and carries an
    /// IP ID far from the resolver's counter; race plus a header difference is high.
    @Test func raceWithDFAndIPIDOffTheGenuineReplyIsHigh() throws {
        let race = Self.txn(1, t: 0, id: 7, qname: "blocked.example", responses: [
            Self.response(2, t: 0.048, ttl: 58, ipID: 0x5bdc, df: false, answers: ["10.77.66.66"]),
            Self.response(3, t: 0.254, ttl: 59, ipID: 0x82b9, df: true, answers: ["10.77.9.2"]),
        ])
        let control = Self.txn(5, t: 0.44, id: 8, qname: "allowed.example", responses: [
            Self.response(6, t: 0.695, ttl: 59, ipID: 0x82d9, df: true, answers: ["10.77.9.2"]),
        ])
        let f = runDetector(DNSInjectionDetector(), [race, control])
        let x = try #require(f.first { $0.target?.qname == "blocked.example" })
        #expect(x.confidence == .high)
        #expect(x.injectedFrame == 2)
        #expect(x.mismatchFields.contains("df"))
        #expect(x.mismatchFields.contains("ip_id"))
        let onControl = f.filter { $0.target?.qname == "allowed.example" }
        #expect(onControl.isEmpty)
    }

    /// Same DF and an IP ID on the counter: the race alone stays medium (a random-ID resolver gives no IP ID verdict).
    @Test func raceWithMatchingHeaderStaysMedium() throws {
        let race = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.048, ttl: 59, ipID: 0x82b0, df: true, answers: ["10.77.66.66"]),
            Self.response(3, t: 0.254, ttl: 59, ipID: 0x82b9, df: true, answers: ["10.77.9.2"]),
        ])
        let random = Self.txn(5, t: 0.44, id: 8, qname: "allowed.example", responses: [
            Self.response(6, t: 0.695, ttl: 59, ipID: 0x1234, df: true, answers: ["10.77.9.2"]),
        ])
        let x = try #require(runDetector(DNSInjectionDetector(), [race, random]).first)
        #expect(x.confidence == .medium)
        let far = Self.txn(1, t: 0, id: 7, responses: [
            Self.response(2, t: 0.048, ttl: 59, ipID: 0x5bdc, df: true, answers: ["10.77.66.66"]),
            Self.response(3, t: 0.254, ttl: 59, ipID: 0x82b9, df: true, answers: ["10.77.9.2"]),
        ])
        // IP ID far from the genuine reply, but no other reply shows the resolver counting: no verdict.
        let y = try #require(runDetector(DNSInjectionDetector(), [far, random]).first)
        #expect(y.confidence == .medium)
    }
}

/// The indexed baseline against the plain definition (filter out the judged frame, then count), on random resolvers:
/// same verdicts, same expected values, same baseline frames.
@Suite struct ResolverBaselineEquivalenceTests {
    typealias S = ResolverBaseline.Sample

    struct Plain {
        var samples: [S]
        func others(_ f: FrameNumber) -> [S] { samples.filter { $0.frame != f } }
        func ttl(_ ttl: UInt8, _ f: FrameNumber, _ minS: Int, _ tol: Int, _ rare: Double) -> (UInt8, FrameNumber)? {
            let o = others(f)
            guard o.count >= minS else { return nil }
            var counts: [UInt8: Int] = [:]
            for s in o { counts[s.ttl, default: 0] += 1 }
            guard let mode = counts.max(by: { ($0.value, -Int($0.key)) < ($1.value, -Int($1.key)) })?.key else { return nil }
            guard abs(Int(ttl) - Int(mode)) > tol else { return nil }
            let near = counts.reduce(0) { $0 + (abs(Int($1.key) - Int(ttl)) <= tol ? $1.value : 0) }
            guard Double(near) < rare * Double(o.count) else { return nil }
            return (mode, o.first { $0.ttl == mode }?.frame ?? o[0].frame)
        }
        func floor(_ f: FrameNumber, _ minS: Int) -> Double? {
            let r = others(f).map(\.rtt).filter { $0 >= 0 }
            return r.count >= minS ? r.min() : nil
        }
        func df(_ df: Bool, _ f: FrameNumber, _ minS: Int) -> (Bool, FrameNumber)? {
            let o = others(f)
            guard o.count >= minS else { return nil }
            let same = o.filter { $0.df == df }.count
            guard Double(o.count - same) >= 0.9 * Double(o.count), let b = o.first(where: { $0.df != df }) else { return nil }
            return (!df, b.frame)
        }
        func ipID(_ id: UInt32, _ t: Timestamp, _ f: FrameNumber, _ minS: Int, _ gap: UInt32) -> (String, FrameNumber)? {
            let o = others(f).sorted { ($0.time, $0.frame) < ($1.time, $1.frame) }
            guard o.count >= minS, !o.isEmpty else { return nil }
            if o.allSatisfy({ $0.ipID == 0 }) { return id == 0 ? nil : ("0", o[0].frame) }
            var small = 0
            for i in 1..<o.count {
                let d = (o[i].ipID &- o[i - 1].ipID) & 0xffff
                if d >= 1 && d <= gap { small += 1 }
            }
            guard Double(small) >= 0.8 * Double(o.count - 1) else { return nil }
            guard let near = o.min(by: { abs($0.time.seconds - t.seconds) < abs($1.time.seconds - t.seconds) }) else { return nil }
            let ahead = (id &- near.ipID) & 0xffff, behind = (near.ipID &- id) & 0xffff
            if ahead <= gap || behind <= gap { return nil }
            return ("near \(near.ipID) (counter)", near.frame)
        }
    }

    @Test func indexedVerdictsEqualThePlainDefinition() {
        var seed: UInt64 = 0x5eed_0001
        func next(_ n: Int) -> Int {            // deterministic LCG so a failure reproduces
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        var checked = 0
        for round in 0..<300 {
            let n = 1 + next(40)
            let zero = next(4) == 0, counting = next(2) == 0
            var plain: [S] = []
            var b = ResolverBaseline(countingGap: 2048)
            var id: UInt32 = UInt32(next(65536))
            for i in 0..<n {
                // Frames sometimes repeat (several DNS messages in one TCP segment) and times sometimes collide.
                // (one frame has one arrival time).
                let reuse = next(5) == 0 && i > 0 ? plain[next(plain.count)] : nil
                let frame = reuse?.frame ?? 10 * i + next(3)
                let time = reuse?.time ?? Timestamp(nanoseconds: Int64(next(20)) * 1_000_000)
                id = zero ? 0 : (counting ? (id &+ UInt32(1 + next(3000))) & 0xffff : UInt32(next(65536)))
                let s = S(frame: frame, time: time, ttl: UInt8(56 + next(6)), ipID: id, df: next(10) != 0,
                          rtt: next(8) == 0 ? -1 : Double(next(100)) / 1000)
                plain.append(s)
                b.add(s)
            }
            let p = Plain(samples: plain)
            let frames = Set(plain.map(\.frame)).sorted() + [999_999]
            for f in frames {
                let ttl = UInt8(50 + next(14)), q = UInt32(next(65536)), t = Timestamp(nanoseconds: Int64(next(20)) * 1_000_000)
                let minS = next(4), tol = next(3), gap: UInt32 = next(3) == 0 ? 512 : 2048
                let a1 = b.ttlMismatch(ttl, excluding: f, minSamples: minS, tolerance: tol, rareFraction: 0.2)
                let a2 = p.ttl(ttl, f, minS, tol, 0.2)
                #expect(a1?.expected == a2?.0 && a1?.baselineFrame == a2?.1, "round \(round) ttl frame \(f)")
                #expect(b.floorRTT(excluding: f, minSamples: minS) == p.floor(f, minS), "round \(round) rtt")
                for df in [false, true] {
                    let x = b.dfMismatch(df, excluding: f, minSamples: minS), y = p.df(df, f, minS)
                    #expect(x?.expected == y?.0 && x?.baselineFrame == y?.1, "round \(round) df")
                }
                let i1 = b.ipIDMismatch(q, at: t, excluding: f, minSamples: max(1, minS), maxGap: gap)
                let i2 = p.ipID(q, t, f, max(1, minS), gap)
                #expect(i1?.expected == i2?.0 && i1?.baselineFrame == i2?.1, "round \(round) ipid frame \(f)")
                checked += 1
            }
        }
        #expect(checked > 1000)
    }
}

/// `finish` judges contiguous parts of the query order side by side when the context offers workers; the findings and
/// their order must be exactly one worker's.
@Suite struct DNSInjectionWorkersTests {
    @Test func judgingOnSeveralWorkersGivesTheSameFindingsInTheSameOrder() {
        let resolvers = ["8.8.8.8", "1.1.1.1", "9.9.9.9"]
        var events: [AnalysisEvent] = []
        var frame: FrameNumber = 1
        for i in 0..<13_000 {
            let resolver = resolvers[i % 3]
            let t = Double(i) * 0.01
            let q = frame
            var responses: [DNSResponseEvent] = []
            if i % 37 == 0 {
                // A race: an early forged answer from another distance, then the real one.
                responses.append(DNSResponseEvent(frame: q + 1, time: at(t + 0.002), source: addr(resolver), ttl: 50,
                                                  ipID: 0, df: false, rcode: 0, answers: ["10.10.34.\(i % 200)"]))
                responses.append(DNSResponseEvent(frame: q + 2, time: at(t + 0.030), source: addr(resolver), ttl: 120,
                                                  ipID: 0, df: true, rcode: 0, answers: ["93.184.216.34"]))
            } else {
                // Uncontested, with an off-baseline TTL now and then.
                responses.append(DNSResponseEvent(frame: q + 1, time: at(t + 0.030), source: addr(resolver),
                                                  ttl: i % 53 == 0 ? 90 : 120, ipID: 0, df: true, rcode: 0,
                                                  answers: ["192.0.2.\(i % 250)"]))
            }
            frame += 3
            events.append(.dnsTransaction(DNSTransactionEvent(
                capture: "dns.pcap", client: addr("10.0.0.2"), clientPort: UInt16(1024 + i % 60_000),
                resolver: addr(resolver), resolverPort: 53, transport: "udp", queryFrame: q, queryTime: at(t),
                id: UInt16(i & 0xffff), qname: "n\(i).example", qtype: 1, responses: responses)))
        }
        // The detector's own report order (the runner would sort it), so a part reported out of turn shows.
        func run(_ workers: Int) -> [Finding] {
            var d = DNSInjectionDetector()
            var sink = FindingSink()
            let ctx = DetectorContext(signatures: nil, workers: workers)
            for e in events { d.observe(e, in: ctx, into: &sink) }
            d.finish(in: ctx, into: &sink)
            return sink.findings
        }
        let one = run(1)
        // Every race and every off-baseline reply is found (so the comparison below compares something).
        #expect(one.count == (0..<13_000).filter { $0 % 37 == 0 || $0 % 53 == 0 }.count)
        #expect(run(2) == one)
        #expect(run(3) == one)
    }
}
