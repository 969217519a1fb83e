/// Strings that repeat across the records a detector keeps until `finish` (capture paths, Host names, SNIs), stored once;
/// records hold 32-bit ids. A capture path is the same for a million flows, and each flow event carries its own copy.
struct StringTable: Sendable {
    private var ids: [String: Int32] = [:]
    private var strings: [String] = []

    /// The id of `s`, adding it when new.
    mutating func id(_ s: String) -> Int32 {
        if let k = ids[s] { return k }
        let k = Int32(strings.count)
        strings.append(s)
        ids[s] = k
        return k
    }

    /// The id of `s`, or -1 for nil.
    mutating func id(_ s: String?) -> Int32 { s.map { id($0) } ?? -1 }

    /// The id of `s` when it was added, without adding it.
    func existingID(_ s: String) -> Int32? { ids[s] }

    /// The string of `id`, nil for -1.
    subscript(id: Int32) -> String? { id >= 0 ? strings[Int(id)] : nil }
}
