import KZSignatures

/// What every detector gets besides events: signatures and thresholds.
public struct DetectorContext: Sendable {
    public var signatures: SignatureDatabase?
    /// Threads a detector may use for the judging in its `finish` (the analysis's `--threads`); findings and their order
    /// must not depend on it.
    public var workers: Int
    public init(signatures: SignatureDatabase?, workers: Int = 1) {
        self.signatures = signatures
        self.workers = workers
    }
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
