/// Values stored once, referred to by a 32-bit index: what detectors keep until `finish` repeats a few addresses,
/// names and answer sets many thousand times.
struct Interner<Value: Hashable & Sendable>: Sendable {
    private var values: [Value] = []
    private var indices: [Value: Int32] = [:]
    /// The index returned last: runs of one value (a capture path, a resolver) are answered by one comparison instead
    /// of hashing the value.
    private var last: Int32 = -1

    /// The index of `v`, adding it when new.
    mutating func index(_ v: Value) -> Int32 {
        if last >= 0 && values[Int(last)] == v { return last }
        if let k = indices[v] { last = k; return k }
        let k = Int32(values.count)
        values.append(v)
        indices[v] = k
        last = k
        return k
    }

    /// The index of `v` when it was added, without adding it.
    func existingIndex(_ v: Value) -> Int32? { indices[v] }

    subscript(_ i: Int32) -> Value { values[Int(i)] }
}

/// Strings that repeat across the records a detector keeps until `finish` (capture paths, Host names, SNIs), stored once;
/// records hold 32-bit ids. A capture path is the same for a million flows, and each flow event carries its own copy.
struct StringTable: Sendable {
    private var table = Interner<String>()

    /// The id of `s`, adding it when new.
    mutating func id(_ s: String) -> Int32 { table.index(s) }

    /// The id of `s`, or -1 for nil.
    mutating func id(_ s: String?) -> Int32 { s.map { id($0) } ?? -1 }

    /// The id of `s` when it was added, without adding it.
    func existingID(_ s: String) -> Int32? { table.existingIndex(s) }

    /// The string of `id`, nil for -1.
    subscript(id: Int32) -> String? { id >= 0 ? table[id] : nil }
}
