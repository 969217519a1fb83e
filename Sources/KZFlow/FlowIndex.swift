/// Open-addressing hash index from `FlowKey` to slot number (linear probing, backward-shift deletion), keyed by
/// `FlowKey.mixedHash`. Entries are 8 bytes (32-bit hash + slot); the key itself is compared in the slot, which the
/// caller touches next anyway. Avoids `Dictionary`'s per-lookup SipHash on the per-packet path.
@usableFromInline struct FlowIndex: Sendable {
    @usableFromInline var hashes: [UInt32]
    @usableFromInline var slotOf: [Int32]
    @usableFromInline var mask: Int
    @usableFromInline var count = 0

    init(capacity: Int) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        hashes = [UInt32](repeating: 0, count: n)
        slotOf = [Int32](repeating: -1, count: n)
        mask = n - 1
    }

    @inline(__always) static func hash32(_ key: FlowKey) -> UInt32 { UInt32(truncatingIfNeeded: key.mixedHash >> 32) }

    /// The slot holding `key`, or -1. `keyAt` returns the key stored in a slot.
    @inline(__always)
    func find(_ key: FlowKey, hash: UInt32, keyAt: (Int32) -> FlowKey) -> Int32 {
        var i = Int(hash) & mask
        while true {
            let s = slotOf[i]
            if s < 0 { return -1 }
            if hashes[i] == hash && keyAt(s) == key { return s }
            i = (i + 1) & mask
        }
    }

    mutating func insert(hash: UInt32, slot: Int32) {
        if (count + 1) * 2 > slotOf.count { grow() }
        var i = Int(hash) & mask
        while slotOf[i] >= 0 { i = (i + 1) & mask }
        hashes[i] = hash
        slotOf[i] = slot
        count += 1
    }

    mutating func remove(hash: UInt32, slot: Int32) {
        var i = Int(hash) & mask
        while slotOf[i] != slot {
            if slotOf[i] < 0 { return }
            i = (i + 1) & mask
        }
        // Backward-shift deletion: move later members of the probe run into the hole.
        var hole = i
        var j = (i + 1) & mask
        while slotOf[j] >= 0 {
            let home = Int(hashes[j]) & mask
            // Move j into the hole when its home position is not in (hole, j] cyclically.
            let dist = (j - home) & mask, distHole = (j - hole) & mask
            if dist >= distHole {
                hashes[hole] = hashes[j]
                slotOf[hole] = slotOf[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slotOf[hole] = -1
        count -= 1
    }

    mutating func grow() {
        let oldH = hashes, oldS = slotOf
        let n = oldS.count * 2
        hashes = [UInt32](repeating: 0, count: n)
        slotOf = [Int32](repeating: -1, count: n)
        mask = n - 1
        count = 0
        for k in 0..<oldS.count where oldS[k] >= 0 { insert(hash: oldH[k], slot: oldS[k]) }
    }
}
