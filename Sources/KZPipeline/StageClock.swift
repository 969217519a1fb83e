import Foundation

/// Wall-clock time per stage of `analyze`, printed on standard error when `KZFORENSICS_TIMINGS=1` (for the benchmark
/// and for finding where time goes; never part of a report).
public struct StageClock: Sendable {
    public static let enabled = ProcessInfo.processInfo.environment["KZFORENSICS_TIMINGS"] == "1"
    private var last = DispatchTime.now().uptimeNanoseconds
    public init() {}

    /// Prints the time since the previous mark (or since `init`) under `stage`.
    public mutating func mark(_ stage: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        if Self.enabled {
            FileHandle.standardError.write(Data("kzforensics: timing: \(stage) \(String(format: "%.3f", Double(now - last) / 1e9)) s\n".utf8))
        }
        last = now
    }
}
