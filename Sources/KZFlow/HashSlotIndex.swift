/// Open-addressing hash index from a 32-bit hash to a slot number (linear probing, backward-shift deletion), at most
/// half full. The key itself stays with the caller, which compares it in `find` through `matches`: an entry is a hash
/// and a slot (8 or 12 bytes), not a copy of the key, and a lookup costs no SipHash. The flow table's index of flows
/// and the DNS tracker's index of waiting transactions are both this.
public struct HashSlotIndex<Slot: FixedWidthInteger & SignedInteger & Sendable>: Sendable {
    @usableFromInline var hashes: [UInt32]
    /// -1 marks an empty entry.
    @usableFromInline var slots: [Slot]
    @usableFromInline var mask: Int
    @usableFromInline var stored = 0

    /// Entries in the index.
    public var count: Int { stored }

    public init(capacity: Int = 32) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        hashes = [UInt32](repeating: 0, count: n)
        slots = [Slot](repeating: -1, count: n)
        mask = n - 1
    }

    /// The slot of an entry with `hash` for which `matches` holds, or -1.
    @inlinable @inline(__always)
    public func find(hash: UInt32, matches: (Slot) -> Bool) -> Slot {
        var i = Int(hash) & mask
        while true {
            let s = slots[i]
            if s < 0 { return -1 }
            if hashes[i] == hash && matches(s) { return s }
            i = (i + 1) & mask
        }
    }

    @inlinable
    public mutating func insert(hash: UInt32, slot: Slot) {
        if (stored + 1) * 2 > slots.count { grow() }
        var i = Int(hash) & mask
        while slots[i] >= 0 { i = (i + 1) & mask }
        hashes[i] = hash
        slots[i] = slot
        stored += 1
    }

    /// Removes the entry with `hash` and `slot`, when present.
    @inlinable
    public mutating func remove(hash: UInt32, slot: Slot) {
        var i = Int(hash) & mask
        while slots[i] != slot {
            if slots[i] < 0 { return }
            i = (i + 1) & mask
        }
        // Backward-shift deletion: move later members of the probe run into the hole.
        var hole = i
        var j = (i + 1) & mask
        while slots[j] >= 0 {
            let home = Int(hashes[j]) & mask
            // Move j into the hole when its home position is not in (hole, j] cyclically.
            if (j - home) & mask >= (j - hole) & mask {
                hashes[hole] = hashes[j]
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = -1
        stored -= 1
    }

    @usableFromInline
    mutating func grow() {
        let oldH = hashes, oldS = slots
        let n = oldS.count * 2
        hashes = [UInt32](repeating: 0, count: n)
        slots = [Slot](repeating: -1, count: n)
        mask = n - 1
        stored = 0
        for k in 0..<oldS.count where oldS[k] >= 0 { insert(hash: oldH[k], slot: oldS[k]) }
    }
}

/// The flow table's index from `FlowKey` to slot number, keyed by `FlowKey.mixedHash`; the key is compared in the
/// slot, which the caller touches next anyway.
@usableFromInline typealias FlowIndex = HashSlotIndex<Int32>

extension HashSlotIndex where Slot == Int32 {
    @inline(__always) static func hash32(_ key: FlowKey) -> UInt32 { UInt32(truncatingIfNeeded: key.mixedHash >> 32) }

    /// The slot holding `key`, or -1. `keyAt` returns the key stored in a slot.
    @inline(__always)
    func find(_ key: FlowKey, hash: UInt32, keyAt: (Int32) -> FlowKey) -> Int32 {
        find(hash: hash) { keyAt($0) == key }
    }
}
