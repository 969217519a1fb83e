/// `tcp.fin_injection`: a FIN forged by a middlebox, usually closing a forged response (an injected block page) so the
/// client stops reading before the real answer arrives.
///
/// Same comparison as `tcp.rst_injection` (see `ForgedSegmentAnalyzer`), adapted to FINs: the race signal is data at
/// or beyond the FIN's sequence number from the same "sender" after the FIN, or a second FIN at another sequence
/// number; the shape check also expects the side's TCP timestamps on a FIN (a real stack keeps them on every segment),
/// and windows are compared loosely (×2). FIN retransmissions are ordinary and produce no signal.
public struct FINInjectionDetector: Detector {
    public static let id: DetectorID = "tcp.fin_injection"
    var analyzer = ForgedSegmentAnalyzer(kind: .fin)

    public init() {}

    public mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink) {
        guard case .tcpFlow(let flow) = event else { return }
        for f in analyzer.findings(for: flow) { sink.report(f) }
    }
}
