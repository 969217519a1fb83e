/// Equal values kept once: `shared(_:)` returns the equal value already in the pool, so arrays and strings that repeat
/// (a resolver's answer sets and TTLs, thousands of times in a capture) share one buffer instead of each holding a copy.
///
/// The pool forgets everything when it reaches `limit` values: values handed out stay valid (they are ordinary
/// copy-on-write values); later equal ones just start sharing anew.
struct SharingPool<Value: Hashable> {
    let limit: Int
    private var values = Set<Value>()

    init(limit: Int = 16_384) {
        self.limit = limit
    }

    /// Values currently pooled.
    var count: Int { values.count }

    /// `v`, or the equal value already pooled.
    mutating func shared(_ v: Value) -> Value {
        if values.count >= limit { values.removeAll() }
        return values.insert(v).memberAfterInsert
    }
}
