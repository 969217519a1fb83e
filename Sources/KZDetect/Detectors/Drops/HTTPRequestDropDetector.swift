/// `http.request_drop`: the handshake completes, an HTTP request is sent (and retransmitted), and the server never
/// sends a byte: a silent drop keyed on the Host or URL.
///
/// Same judgement as `tls.sni_blocking` (see `SilentDropJudge`), with the HTTP Host as the label: the control is another
/// flow to the same server address with another Host (or a TLS flow with another SNI) that was answered.
public struct HTTPRequestDropDetector: Detector {
    public static let id: DetectorID = "http.request_drop"
    var judge = SilentDropJudge()

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        if case .icmpError(let e) = event { judge.observe(icmp: e) }
        guard case .tcpFlow(let flow) = event else { return }
        let record = DropFlowRecord(flow, label: flow.httpRequests.first?.host ?? flow.tls?.sni)
        judge.log.add(record)
        guard let req = flow.httpRequests.first, flow.httpResponses.isEmpty,
              let stall = StalledRequest(flow, trigger: req.frame), stall.isStall else { return }
        judge.pending.append(.init(flow: flow.flowRef, record: record, stall: stall, target: tcpFlowTarget(flow)))
    }

    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {
        for f in judge.findings(detector: Self.id, what: "HTTP request", labelName: "Host") { sink.report(f) }
        judge = SilentDropJudge()
    }
}
