/// `tcp.rst_injection`: a RST (or RST+ACK) forged by a middlebox, not sent by the endpoint it claims.
///
/// Each RST of a finished flow is compared with the ordinary packets of the side it names (see
/// `ForgedSegmentAnalyzer` for the signals and grading). Findings are grouped per claimed side and TTL, so two
/// injectors in one flow (the GFW's RST/ACK triplet and its bare-RST sibling) give two findings, each with its own
/// `injectedTTL` for hop attribution. A genuine endpoint RST (same TTL, in window, after its own data) and a kernel's
/// reply to a segment for a dead connection produce no signal; a lone TTL mismatch after a long idle gap (a NAT's
/// state-timeout RST) is reported as `low` at most.
public struct RSTInjectionDetector: Detector {
    public static let id: DetectorID = "tcp.rst_injection"
    var analyzer = ForgedSegmentAnalyzer(kind: .rst)

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event else { return }
        for f in analyzer.findings(for: flow) { sink.report(f) }
    }
}
