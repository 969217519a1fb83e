import KZWire

/// One flow that can serve as a drop control, reduced to what a finding quotes: where it went, when it started, the
/// frame that shows it was answered, and its place in the order flows were observed (the tie-break of the linear scans
/// these indexes replace: `min(by:)` keeps the first of equal elements).
struct DropControl: Sendable, Equatable {
    var server: IPAddress
    var serverPort: UInt16
    var firstFrame: FrameNumber
    /// Observation order (0, 1, 2, … per detector).
    var seq: Int
    /// The SYN-ACK (`tcp.syn_drop`) or the answer (`tls.sni_blocking`, `http.request_drop`).
    var frame: FrameNumber
    var label: String?

    /// `(firstFrame, seq)`: earliest flow first, then the one observed first.
    func startsBefore(_ o: DropControl) -> Bool { (firstFrame, seq) < (o.firstFrame, o.seq) }
    func observedBefore(_ o: DropControl) -> Bool { seq < o.seq }
}

/// The capture and server of a flow.
struct DropServerKey: Hashable, Sendable {
    var capture: String
    var server: IPAddress
}

/// The capture, server and port of a flow.
struct DropPortKey: Hashable, Sendable {
    var capture: String
    var server: IPAddress
    var port: UInt16
}

/// The capture and /24 (IPv4) or /48 (IPv6) of a flow's server: two servers share a key exactly when `sameDropPrefix`.
struct DropPrefixKey: Hashable, Sendable {
    var capture: String
    var v6: Bool
    var prefix: UInt64

    init(capture: String, server a: IPAddress) {
        self.capture = capture
        v6 = a.isV6
        prefix = a.isV6 ? a.high >> 16 : UInt64(a.v4Value >> 8)
    }
}

/// The first control under some order, and the first whose `firstFrame` differs from the first's: enough to answer
/// "the first control whose `firstFrame` is not F" for any F, which is what excluding the judged flow itself (and any
/// flow sharing its first frame) from a scan asks.
struct EarliestTwo: Sendable {
    private(set) var first: DropControl
    private(set) var second: DropControl?

    init(_ c: DropControl) { first = c }

    mutating func offer(_ c: DropControl, before: (DropControl, DropControl) -> Bool) {
        if before(c, first) {
            // Every kept or dropped control with another first frame than `c` is `first` or later than it.
            if c.firstFrame != first.firstFrame { second = first }
            first = c
        } else if c.firstFrame != first.firstFrame, second.map({ before(c, $0) }) ?? true {
            second = c
        }
    }

    /// The first control whose `firstFrame` is not `frame`.
    func first(notStartingAt frame: FrameNumber) -> DropControl? {
        first.firstFrame != frame ? first : second
    }
}

/// Controls of `tcp.syn_drop`: for each (capture, server) and (capture, server, port) the earliest flow that completed
/// its handshake, and for each (capture, prefix) the earliest such flow in the prefix; built in `finish` from the flows to
/// the candidates' servers and prefixes. Replaces the scan of every flow per candidate with the same choice: same
/// server and same port first, then same server, then the prefix; earliest `firstFrame`, then the first observed.
struct HandshakeControls: Sendable {
    private var byPort: [DropPortKey: DropControl] = [:]
    private var byServer: [DropServerKey: DropControl] = [:]
    private var byPrefix: [DropPrefixKey: DropControl] = [:]
    private var count = 0

    /// Records a flow; only one whose server completed the handshake can be a control.
    mutating func add(_ r: DropFlowRecord) {
        defer { count += 1 }
        guard let f = r.synAckFrame else { return }
        let c = DropControl(server: r.server, serverPort: r.serverPort, firstFrame: r.firstFrame, seq: count, frame: f, label: nil)
        func keep(_ old: inout DropControl?) { if old.map({ c.startsBefore($0) }) ?? true { old = c } }
        keep(&byPort[DropPortKey(capture: r.capture, server: r.server, port: r.serverPort)])
        keep(&byServer[DropServerKey(capture: r.capture, server: r.server)])
        keep(&byPrefix[DropPrefixKey(capture: r.capture, server: r.server)])
    }

    /// Another flow to `server` that completed its handshake: on `port` if any, else on any port.
    func sameServer(capture: String, server: IPAddress, port: UInt16) -> DropControl? {
        byPort[DropPortKey(capture: capture, server: server, port: port)]
            ?? byServer[DropServerKey(capture: capture, server: server)]
    }

    /// The earliest flow to `server`'s prefix that completed its handshake (asked when `server` has none).
    func samePrefix(capture: String, server: IPAddress) -> DropControl? {
        byPrefix[DropPrefixKey(capture: capture, server: server)]
    }
}

/// Controls of `tls.sni_blocking` and `http.request_drop`, per (capture, server): the answered flows, earliest first,
/// per label (SNI or Host) and per port, as `EarliestTwo` (so the judged flow and its label can be left out); the
/// first answered flow per label in observation order; whether the server had flows starting at two different frames;
/// and the TTL-limited probes, whole (their judgement needs the ICMP quotes seen by the end of the capture). Built in
/// `finish` from the flows to the candidates' servers.
struct SilentDropControls: Sendable {
    struct Server: Sendable {
        /// `firstFrame` of the first flow recorded.
        var firstFrame: FrameNumber
        /// Some flow starts at another frame than `firstFrame`.
        var otherFrame = false
        /// Answered flows by label, ordered by `(firstFrame, seq)`.
        var answered: [String?: EarliestTwo] = [:]
        /// Answered flows with a label, by label, in observation order.
        var answeredInOrder: [String: EarliestTwo] = [:]
        /// Flows whose first application message was TTL-limited, in observation order.
        var probes: [DropFlowRecord] = []
    }

    private(set) var servers: [DropServerKey: Server] = [:]
    /// Answered flows per (capture, server, port), by label, ordered by `(firstFrame, seq)`.
    private var answeredByPort: [DropPortKey: [String?: EarliestTwo]] = [:]
    private var count = 0

    mutating func add(_ r: DropFlowRecord) {
        defer { count += 1 }
        let key = DropServerKey(capture: r.capture, server: r.server)
        var s = servers[key] ?? Server(firstFrame: r.firstFrame)
        if r.firstFrame != s.firstFrame { s.otherFrame = true }
        if r.probeTTL != nil { s.probes.append(r) }
        if let a = r.answerFrame {
            let c = DropControl(server: r.server, serverPort: r.serverPort, firstFrame: r.firstFrame, seq: count, frame: a,
                                label: r.label)
            Self.offer(c, to: &s.answered[r.label], before: { $0.startsBefore($1) })
            if let l = r.label { Self.offer(c, to: &s.answeredInOrder[l], before: { $0.observedBefore($1) }) }
            Self.offer(c, to: &answeredByPort[DropPortKey(capture: r.capture, server: r.server, port: r.serverPort), default: [:]][r.label],
                       before: { $0.startsBefore($1) })
        }
        servers[key] = s
    }

    private static func offer(_ c: DropControl, to slot: inout EarliestTwo?, before: (DropControl, DropControl) -> Bool) {
        if slot == nil { slot = EarliestTwo(c) } else { slot!.offer(c, before: before) }
    }

    /// The earliest `(firstFrame, seq)` answered flow in `byLabel` whose label is not `label` and whose first frame is
    /// not `frame`.
    private static func earliest(_ byLabel: [String?: EarliestTwo]?, otherThan label: String?, notStartingAt frame: FrameNumber) -> DropControl? {
        var best: DropControl?
        for (l, two) in byLabel ?? [:] where l != label {
            guard let c = two.first(notStartingAt: frame) else { continue }
            if best.map({ c.startsBefore($0) }) ?? true { best = c }
        }
        return best
    }

    /// Another flow to `r`'s server (not starting at `r`'s first frame) that was answered for another label: on the
    /// same port if any, else on any port; earliest first.
    func control(for r: DropFlowRecord) -> DropControl? {
        let port = answeredByPort[DropPortKey(capture: r.capture, server: r.server, port: r.serverPort)]
        return Self.earliest(port, otherThan: r.label, notStartingAt: r.firstFrame)
            ?? Self.earliest(servers[DropServerKey(capture: r.capture, server: r.server)]?.answered, otherThan: r.label,
                             notStartingAt: r.firstFrame)
    }

    /// The first flow observed to `r`'s server (not starting at `r`'s first frame) answered for `r`'s label.
    func sameLabelAnswered(for r: DropFlowRecord) -> DropControl? {
        guard let l = r.label else { return nil }
        return servers[DropServerKey(capture: r.capture, server: r.server)]?.answeredInOrder[l]?.first(notStartingAt: r.firstFrame)
    }

    /// Some other flow to `r`'s server (not starting at `r`'s first frame) was recorded.
    func hasOtherFlow(than r: DropFlowRecord) -> Bool {
        guard let s = servers[DropServerKey(capture: r.capture, server: r.server)] else { return false }
        return s.firstFrame != r.firstFrame || s.otherFrame
    }

    /// The TTL-limited probes to `r`'s server, in observation order.
    func probes(for r: DropFlowRecord) -> [DropFlowRecord] {
        servers[DropServerKey(capture: r.capture, server: r.server)]?.probes ?? []
    }
}

/// Every flow a drop detector observed, as it waits for `finish`: 56 bytes and no strings per flow (capture and label
/// are ids into `strings`; a TTL-limited probe's whole record is kept apart, probes being few). `finish` rebuilds the
/// records of the servers its candidates went to, and only those, into a `HandshakeControls` or `SilentDropControls`.
/// Most flows of a long capture go to servers of their own, so an index per server kept while observing would cost
/// more than this log.
struct DropFlowLog: Sendable {
    struct Facts: Sendable {
        var server: IPAddress
        var serverPort: UInt16
        var capture: Int32
        var label: Int32
        /// Index into `probes`, or -1.
        var probe: Int32
        var firstFrame: FrameNumber
        /// `Int.min` for none.
        var synAckFrame: FrameNumber
        var answerFrame: FrameNumber
    }

    private var facts: [Facts] = []
    private var probes: [DropFlowRecord] = []
    private var strings = StringTable()

    mutating func add(_ r: DropFlowRecord) {
        var probe: Int32 = -1
        if r.probeTTL != nil {
            probe = Int32(probes.count)
            probes.append(r)
        }
        facts.append(Facts(server: r.server, serverPort: r.serverPort, capture: strings.id(r.capture), label: strings.id(r.label),
                           probe: probe, firstFrame: r.firstFrame, synAckFrame: r.synAckFrame ?? .min,
                           answerFrame: r.answerFrame ?? .min))
    }

    /// The id of a capture some flow came from.
    func captureID(_ capture: String) -> Int32? { strings.existingID(capture) }

    /// The records of the flows `keep` accepts (by capture id and server), in observation order. Their client address
    /// and port are not kept (zero) except for probes, whose records are the originals.
    func records(where keep: (Int32, IPAddress) -> Bool) -> [DropFlowRecord] {
        facts.compactMap { f in
            guard keep(f.capture, f.server) else { return nil }
            if f.probe >= 0 { return probes[Int(f.probe)] }
            return DropFlowRecord(capture: strings[f.capture] ?? "", server: f.server, serverPort: f.serverPort,
                                  firstFrame: f.firstFrame, label: strings[f.label],
                                  synAckFrame: f.synAckFrame == .min ? nil : f.synAckFrame,
                                  answerFrame: f.answerFrame == .min ? nil : f.answerFrame)
        }
    }
}
