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
    /// 1: read, decode and analyse on one thread. 2: read and decode on a second thread that hands batches of packets
    /// to the flow stage (flows, reassembly, parsers, detectors); the result is identical. More is treated as 2, except
    /// for runs with neither detectors nor parsers (the `flows` view): there N threads each run a shard of the flows
    /// (`ShardedFlows`), with the same rows as one thread unless a global cap binds.
    public var threads = 1
    /// Which view rows to collect (`kzforensics flows|dns|http|tls`). Each costs memory for the whole capture, so a
    /// view asks only for its own; HTTP and TLS rows also keep the full parser output (bodies, hello lists).
    public var views: ViewSet = []
    /// Receives each flow's row (capture path, row) as the flow closes, in close order, instead of
    /// `CaptureResult.flowRows`: a view that prints rows as it goes then holds none of them.
    public var flowRowHandler: FlowRowHandler?
    /// Run the detectors (and build the events they read). The views turn this off: they print rows, not findings.
    public var detect = true
    /// Collect every view's rows (all of `views`).
    public var collectViews: Bool {
        get { !views.isEmpty }
        set { views = newValue ? .all : [] }
    }
    /// Called about every 256k frames with (capture, frames so far, bytes read so far, flows closed so far).
    public var progress: (@Sendable (String, Int, Int, Int) -> Void)?
    public init() {}
}

/// Called on the flow stage's thread with (capture path, row) when a flow closes.
public typealias FlowRowHandler = @Sendable (String, FlowRow) -> Void

/// The view rows a run collects.
public struct ViewSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let flows = ViewSet(rawValue: 1)
    public static let dns = ViewSet(rawValue: 2)
    public static let http = ViewSet(rawValue: 4)
    public static let tls = ViewSet(rawValue: 8)
    public static let all: ViewSet = [.flows, .dns, .http, .tls]
}
