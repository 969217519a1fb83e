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
        let r = CaptureAnalyzer.run(path: path, options: options, filter: filter) { runner.observe($0) }
        return (r, runner.finish())
    }

    static func runBeside(path: String, options: AnalysisOptions, filter: BPFFilter?, runner: DetectorRunner)
        -> (CaptureResult, [Finding])
    {
        let box = RunnerBox(runner)
        let channel = EventChannel(depth: 64)
        let thread = Thread {
            while let batch = channel.take() {
                for e in batch { box.runner.observe(e) }
            }
            box.findings = box.runner.finish()
            channel.finished()
        }
        thread.stackSize = 8 << 20
        thread.start()
        var pending: [AnalysisEvent] = []
        pending.reserveCapacity(256)
        let r = CaptureAnalyzer.run(path: path, options: options, filter: filter) { e in
            pending.append(e)
            if pending.count >= 256 {
                channel.put(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        channel.put(pending)
        channel.close()
        channel.waitFinished()
        return (r, box.findings)
    }
}

/// The detector runner, owned by the detector thread until `EventChannel.finished()`; read afterwards.
private final class RunnerBox: @unchecked Sendable {
    var runner: DetectorRunner
    var findings: [Finding] = []
    init(_ r: DetectorRunner) { runner = r }
}

/// A bounded FIFO of event batches from the flow stage to the detector thread (at most `depth` batches wait).
private final class EventChannel: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [[AnalysisEvent]] = []
    private var head = 0
    private var closed = false
    private var done = false
    private let depth: Int

    init(depth: Int) { self.depth = max(1, depth) }

    func put(_ batch: [AnalysisEvent]) {
        guard !batch.isEmpty else { return }
        cond.lock()
        while queue.count - head >= depth { cond.wait() }
        queue.append(batch)
        cond.broadcast()
        cond.unlock()
    }

    func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    func take() -> [AnalysisEvent]? {
        cond.lock()
        defer { cond.unlock() }
        while queue.count == head && !closed { cond.wait() }
        guard head < queue.count else { return nil }
        let b = queue[head]
        queue[head] = []
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        cond.broadcast()
        return b
    }

    func finished() {
        cond.lock()
        done = true
        cond.broadcast()
        cond.unlock()
    }

    func waitFinished() {
        cond.lock()
        while !done { cond.wait() }
        cond.unlock()
    }
}
