import KZWire

/// The transactions `DNSInjectionDetector` must keep until the end of the capture (its resolver baselines need every
/// uncontested reply), stored compactly.
///
/// Almost every transaction has exactly one response; it is kept as one fixed-size `Single` (about 100 bytes) whose
/// addresses, query name, transport, capture and answer set are indices into interning tables — a capture repeats a
/// few resolvers, clients, names and answer sets many thousand times. Transactions without a response can never be
/// judged and are not kept; those with several responses (the injection races, rare) are kept whole. `transaction(_:)`
/// rebuilds the event for judging, one at a time. The fields the detector never reads (answer TTLs, AA flag, section
/// counts) are not kept and come back empty.
struct DNSTransactionStore {
    struct Single {
        var queryFrame: FrameNumber
        var queryTime: Timestamp
        var responseFrame: FrameNumber
        var responseTime: Timestamp
        var client: Int32
        var resolver: Int32
        var source: Int32
        var qname: Int32
        var answers: Int32
        var capture: Int32
        var ipID: UInt32
        var clientPort: UInt16
        var resolverPort: UInt16
        var id: UInt16
        var qtype: UInt16
        var ttl: UInt8
        var rcode: UInt8
        var df: Bool
        var transport: Int32
    }

    /// A kept transaction: `singles[i]` or `multiples[i]`, in arrival order.
    enum Slot {
        case single(Int)
        case multiple(Int)
    }

    /// Chunked: growing never holds two copies (an array's doubling did, 3 MB more for an instant on the 1 GiB
    /// reference, as the tracker's last transactions arrived).
    private(set) var singles = ChunkedQueue<Single>(chunkShift: 12)
    private(set) var multiples: [DNSTransactionEvent] = []
    private(set) var order = ChunkedQueue<Slot>(chunkShift: 12)
    private var addresses = Interner<IPAddress>()
    private var strings = Interner<String>()
    /// Capture paths and transports apart from the names, so each table sees runs of one value.
    private var captures = Interner<String>()
    private var transports = Interner<String>()
    private var answerSets = Interner<[String]>()

    var count: Int { order.count }
    var isEmpty: Bool { order.isEmpty }

    mutating func add(_ t: DNSTransactionEvent) {
        guard !t.responses.isEmpty else { return }
        guard t.responses.count == 1 else {
            order.append(.multiple(multiples.count))
            multiples.append(t)
            return
        }
        let r = t.responses[0]
        order.append(.single(singles.count))
        singles.append(Single(
            queryFrame: t.queryFrame, queryTime: t.queryTime, responseFrame: r.frame, responseTime: r.time,
            client: addresses.index(t.client), resolver: addresses.index(t.resolver), source: addresses.index(r.source),
            qname: strings.index(t.qname), answers: answerSets.index(r.answers), capture: captures.index(t.capture),
            ipID: r.ipID, clientPort: t.clientPort, resolverPort: t.resolverPort, id: t.id, qtype: t.qtype, ttl: r.ttl,
            rcode: r.rcode, df: r.df, transport: transports.index(t.transport)))
    }

    /// Query frame and id of a kept transaction (the detector's judging order).
    func sortKey(_ slot: Slot) -> (FrameNumber, UInt16) {
        switch slot {
        case .single(let i): (singles[i].queryFrame, singles[i].id)
        case .multiple(let i): (multiples[i].queryFrame, multiples[i].id)
        }
    }

    /// The single response of `singles[i]`, as a baseline sample would see it: (source, resolver, response, query time).
    func singleResponse(_ i: Int) -> (source: IPAddress, resolver: IPAddress, response: DNSResponseEvent,
                                      queryTime: Timestamp) {
        let s = singles[i]
        return (addresses[s.source], addresses[s.resolver], response(s), s.queryTime)
    }

    func transaction(_ slot: Slot) -> DNSTransactionEvent {
        switch slot {
        case .multiple(let i):
            return multiples[i]
        case .single(let i):
            let s = singles[i]
            return DNSTransactionEvent(capture: captures[s.capture], client: addresses[s.client], clientPort: s.clientPort,
                                       resolver: addresses[s.resolver], resolverPort: s.resolverPort,
                                       transport: transports[s.transport], queryFrame: s.queryFrame,
                                       queryTime: s.queryTime, id: s.id, qname: strings[s.qname], qtype: s.qtype,
                                       responses: [response(s)])
        }
    }

    private func response(_ s: Single) -> DNSResponseEvent {
        DNSResponseEvent(frame: s.responseFrame, time: s.responseTime, source: addresses[s.source], ttl: s.ttl,
                         ipID: s.ipID, df: s.df, rcode: s.rcode, answers: answerSets[s.answers], answerTTLs: [],
                         flagsAA: false, authorityCount: 0, additionalCount: 0)
    }
}
