/// ASCII case-insensitive comparison without building a lower-cased copy. HTTP field names are case-insensitive
/// (RFC 9110 §5.1); every parsed message looks several of them up, and a `lowercased()` per comparison allocated.
extension StringProtocol {
    /// True when `self` equals `lower` ignoring ASCII case; `lower` must already be lower-case ASCII.
    @inlinable public func equalsASCIICaseInsensitive(_ lower: String) -> Bool {
        var a = utf8.makeIterator(), b = lower.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
                if lx != y { return false }
            default: return false
            }
        }
    }
}
