import Foundation
import KZCapture
import KZDetect

/// The detectors' side of the pipeline. Inline, `CaptureAnalyzer` calls them for each event on its own thread. Beside
/// (`--threads 2`), they run on a thread of their own and receive the events in batches, in the order they happened,
/// so the findings are the same; the flow stage goes on while the detectors judge finished flows.
enum DetectorStage {
    static func runInline(path: String, options: AnalysisOptions, filter: BPFFilter?, runner: DetectorRunner)
        -> (CaptureResult, [Finding])
    {
        var runner = runner
        let r = CaptureAnalyzer.run(path: path, options: options, filter: filter,
                                    signatures: runner.context.signatures) { runner.observe($0) }
        var clock = StageClock()
        let found = runner.finish()
        clock.mark("detectors finish")
        return (r, found)
    }

    static func runBeside(path: String, options: AnalysisOptions, filter: BPFFilter?, runner: DetectorRunner)
        -> (CaptureResult, [Finding])
    {
        let box = RunnerBox(runner)
        // At most 32 batches of 256 events in flight. The detectors' work comes in bursts (finished flows with many
        // segment records): with 8 batches the parser thread waited 0.2-0.3 s on a full queue per run of the 1 GiB
        // reference (wait counters in `Handoff`), and `analyze --threads 2` took 5.03-5.30 s against 4.31-4.86 s with
        // 32 (four interleaved rounds; peak RSS +0.5 MiB). 128 was no faster.
        let events = Handoff<[AnalysisEvent]>(capacity: 32)
        let result = Handoff<[Finding]>(capacity: 1)
        let thread = Thread {
            while let batch = events.take() {
                for e in batch { box.runner.observe(e) }
            }
            result.put(box.runner.finish())
        }
        thread.stackSize = 8 << 20
        thread.start()
        // A batch is also handed on once its TCP flows' segments and other heap parts weigh about 256 KiB: at the end
        // of the capture every open flow closes at once, and 256 finished flows a batch made the queue hold megabytes.
        var pending: [AnalysisEvent] = []
        pending.reserveCapacity(256)
        var pendingBytes = 0
        let r = CaptureAnalyzer.run(path: path, options: options, filter: filter,
                                    signatures: box.runner.context.signatures) { e in
            pending.append(e)
            pendingBytes += heapBytes(e)
            if pending.count >= 256 || pendingBytes >= 256 << 10 {
                events.put(pending)
                pending.removeAll(keepingCapacity: true)
                pendingBytes = 0
            }
        }
        var clock = StageClock()
        if !pending.isEmpty { events.put(pending) }
        events.close()
        let found = result.take() ?? []
        clock.mark("detectors: last events and finish")
        return (r, found)
    }
}

/// What an event holds on the heap besides itself, roughly (a TCP flow: its boxed fields and its segments). Only decides
/// when a batch of events is handed on.
private func heapBytes(_ e: AnalysisEvent) -> Int {
    if case .tcpFlow(let f) = e { return 1024 + MemoryLayout<SegmentEvent>.stride * f.segments.count }
    return 0
}

/// The detector runner, owned by the detector thread from its start until it hands over the findings.
private final class RunnerBox: @unchecked Sendable {
    var runner: DetectorRunner
    init(_ r: DetectorRunner) { runner = r }
}
