import KZCapture
import KZDetect
import KZFlow

/// Everything `analyze` (and the views) can be told.
public struct AnalysisOptions: Sendable {
    public var filter: String?
    public var engine: CaptureEngine = .native
    /// Extra signature directories (`--signatures DIR`), after the built-in `Signatures/`.
    public var signatureDirectories: [String] = []
    /// The built-in Signatures/ folder; found next to the executable's package when nil.
    public var builtInSignatures: String?
    public var geoipPath: String?
    public var asnDatabase: String?
    public var asnTable: String?
    public var vantages: [String] = []
    public var controlCaptures: [String] = []
    public var minConfidence: Confidence = .low
    public var flowLimits = FlowLimits()
    /// Most decoded packets kept per capture for path analysis (TTL sweeps, traceroutes); beyond, path analysis uses
    /// what was kept and says so.
    public var maxPathPackets = 200_000
    /// Collect per-flow, DNS, HTTP and TLS rows for the views.
    public var collectViews = false
    /// Called about every 256k frames with (capture, frames so far, bytes read so far, flows closed so far).
    public var progress: (@Sendable (String, Int, Int, Int) -> Void)?
    public init() {}
}
