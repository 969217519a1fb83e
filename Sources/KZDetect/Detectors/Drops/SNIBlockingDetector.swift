/// `tls.sni_blocking`: the handshake completes, the ClientHello is sent (and retransmitted), and the server never sends
/// a byte: the SNI-triggered silent drop that OONI measured as Kazakhstan's main blocking method (2024 report; ClientHello
/// timeout on AS9198, AS21299, AS206026, AS41798).
///
/// Judged in `finish`: the control is another flow in the same capture to the same server address with another SNI that
/// got a ServerHello (or any answer), as CenTrace and OONI `tlsmiddlebox` do with `example.com`. With a control and a
/// retransmission (or a wait of ≥ 5 s) → `high`; a control otherwise → `medium`; without a control → `medium` after ≥ 2
/// retransmissions or one retransmission and a give-up/long wait, else `low`, with a `.control(frame: nil, …)` evidence
/// saying none was found. A flow with the same SNI answered elsewhere caps the finding at `medium`. Flows with any
/// RST are `tcp.rst_injection`'s; flows that stalled less than 2 s without retransmission are not reported.
public struct SNIBlockingDetector: Detector {
    public static let id: DetectorID = "tls.sni_blocking"
    var judge = SilentDropJudge()

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        if case .icmpError(let e) = event { judge.observe(icmp: e) }
        guard case .tcpFlow(let flow) = event else { return }
        let record = DropFlowRecord(flow, label: flow.tls?.sni ?? flow.httpRequests.first?.host)
        judge.log.add(record)
        guard let tls = flow.tls, let ch = tls.clientHelloFrame, tls.serverHelloFrame == nil,
              let stall = StalledRequest(flow, trigger: ch), stall.isStall else { return }
        judge.pending.append(.init(flow: flow.flowRef, record: record, stall: stall, target: tcpFlowTarget(flow)))
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        for f in judge.findings(detector: Self.id, what: "ClientHello", labelName: "SNI") { sink.report(f) }
        judge = SilentDropJudge()
    }
}
