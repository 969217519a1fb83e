import KZSignatures

/// What every detector gets besides events: signatures and thresholds.
public struct DetectorContext: Sendable {
    public var signatures: SignatureDatabase?
    public init(signatures: SignatureDatabase?) { self.signatures = signatures }
}

/// A detector consumes analysis events and reports findings. It owns its state; everything arrives as events.
/// Detectors that compare flows with each other (silent drops, throttling) keep what they need in `observe` and judge
/// in `finish`.
public protocol Detector {
    /// Stable dotted name used in reports, CLI flags and tests: "tcp.rst_injection".
    static var id: DetectorID { get }
    mutating func observe(_ event: AnalysisEvent, in context: DetectorContext, into sink: inout FindingSink)
    mutating func finish(in context: DetectorContext, into sink: inout FindingSink)
}

extension Detector {
    public mutating func finish(in context: DetectorContext, into sink: inout FindingSink) {}
}
