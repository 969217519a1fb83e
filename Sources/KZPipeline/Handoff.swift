import Foundation

/// A bounded first-in first-out hand-over between threads (the pipeline stages of `--threads 2`). `put` waits while
/// `capacity` items are waiting, so a fast producer cannot run ahead of its consumer by more than that; `take` waits
/// for the next item and returns nil once the producer closed the queue and everything was taken.
final class Handoff<T>: @unchecked Sendable {
    private let cond = NSCondition()
    private var items: [T?] = []
    private var head = 0
    private var closed = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func put(_ item: T) {
        cond.lock()
        while items.count - head >= capacity { cond.wait() }
        items.append(item)
        cond.broadcast()
        cond.unlock()
    }

    /// No more items will come.
    func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    func take() -> T? {
        cond.lock()
        defer { cond.unlock() }
        while items.count == head && !closed { cond.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        items[head] = nil
        head += 1
        if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        cond.broadcast()
        return item
    }
}
