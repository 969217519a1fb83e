/// Writes any `Encodable` as the JSON text `JSONEncoder` produces with `[.sortedKeys, .prettyPrinted,
/// .withoutEscapingSlashes]` (or without `.prettyPrinted` for one line), byte for byte, several times faster: a
/// report of 3,000 findings took Foundation's encoder a quarter of a second, on the critical path after the analysis.
///
/// The layout it reproduces (and `JSONTextEncoderTests` checks against Foundation on every fixture report): two-space
/// indent; `"key" : value`; keys in ordinal (`<`) order; an empty array or object as the brackets around an empty line;
/// integers as decimal; `Double`/`Float` as Swift's shortest round-trip `description` without a trailing `.0`; strings
/// with `"`, `\` and control characters escaped (`\b \f \n \r \t`, else `\u00xx`) and everything else as UTF-8; a nil
/// `encodeIfPresent` omitted, `encodeNil` as `null`; a key encoded twice keeps its last value. Non-finite numbers throw,
/// as Foundation's default does. `Date`, `Data` and `URL` (which Foundation special-cases) do not occur in reports.
public struct JSONTextEncoder {
    public var prettyPrinted: Bool

    public init(prettyPrinted: Bool = true) { self.prettyPrinted = prettyPrinted }

    public func encode<T: Encodable>(_ value: T) throws -> String {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        write(root, depth: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: the tree

    /// One value. Objects keep their members in encoding order and are sorted when written (cheaper than a dictionary
    /// per object: most have a handful of keys).
    final class Node {
        enum Scalar { case raw(StaticString), string(String), int(Int64), uint(UInt64), number([UInt8]) }
        enum Shape { case empty, scalar, array, object }
        var shape: Shape = .empty
        var scalar: Scalar = .raw("null")
        var items: [Node] = []
        var members: [(key: String, node: Node)] = []

        func set(_ s: Scalar) {
            shape = .scalar
            scalar = s
        }
    }

    // MARK: writing

    private func write(_ node: Node, depth: Int, into out: inout [UInt8]) {
        switch node.shape {
        case .empty:
            // Encoded nothing at all (an `encode(to:)` that wrote no value): Foundation writes an empty object.
            out.append(0x7B)
            if prettyPrinted { out.append(0x0A); out.append(0x0A); indent(depth, &out) }
            out.append(0x7D)
        case .scalar:
            switch node.scalar {
            case .raw(let s): out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
            case .string(let s): Self.string(s, into: &out)
            case .int(let v): out.append(contentsOf: String(v).utf8)
            case .uint(let v): out.append(contentsOf: String(v).utf8)
            case .number(let b): out.append(contentsOf: b)
            }
        case .array:
            out.append(0x5B)
            if prettyPrinted {
                out.append(0x0A)
                for (i, item) in node.items.enumerated() {
                    if i > 0 { out.append(0x2C); out.append(0x0A) }
                    indent(depth + 1, &out)
                    write(item, depth: depth + 1, into: &out)
                }
                out.append(0x0A)
                indent(depth, &out)
            } else {
                for (i, item) in node.items.enumerated() {
                    if i > 0 { out.append(0x2C) }
                    write(item, depth: depth + 1, into: &out)
                }
            }
            out.append(0x5D)
        case .object:
            out.append(0x7B)
            // Ordinal key order; a key encoded twice keeps its last value (a stable sort keeps encoding order among
            // equal keys, so the last of a run is the one to write).
            var sorted = node.members
            if !Self.strictlyAscending(sorted) {
                sorted = node.members.enumerated().sorted { a, b in
                    a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
                }.map(\.element)
            }
            var first = true
            for (i, m) in sorted.enumerated() where i + 1 == sorted.count || sorted[i + 1].key != m.key {
                if !first { out.append(0x2C) }
                first = false
                if prettyPrinted { out.append(0x0A); indent(depth + 1, &out) }
                Self.string(m.key, into: &out)
                if prettyPrinted { out.append(0x20); out.append(0x3A); out.append(0x20) } else { out.append(0x3A) }
                write(m.node, depth: depth + 1, into: &out)
            }
            if prettyPrinted {
                if first { out.append(0x0A) }
                out.append(0x0A)
                indent(depth, &out)
            }
            out.append(0x7D)
        }
    }

    private static let spaces = [UInt8](repeating: 0x20, count: 128)

    private func indent(_ depth: Int, _ out: inout [UInt8]) {
        var n = 2 * depth
        while n > 0 {
            let k = min(n, Self.spaces.count)
            out.append(contentsOf: Self.spaces[0..<k])
            n -= k
        }
    }

    /// Keys already in order without repeats (encoders usually write members in declaration order, often sorted).
    private static func strictlyAscending(_ m: [(key: String, node: Node)]) -> Bool {
        var i = 1
        while i < m.count {
            if !(m[i - 1].key < m[i].key) { return false }
            i += 1
        }
        return true
    }

    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { u in
            // Runs that need no escape are copied whole.
            var run = 0
            for (i, b) in u.enumerated() where b == 0x22 || b == 0x5C || b < 0x20 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<i]))
                run = i + 1
                out.append(0x5C)
                switch b {
                case 0x22, 0x5C: out.append(b)
                case 0x08: out.append(0x62)
                case 0x0C: out.append(0x66)
                case 0x0A: out.append(0x6E)
                case 0x0D: out.append(0x72)
                case 0x09: out.append(0x74)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(0x75); out.append(0x30); out.append(0x30)
                    out.append(hex.utf8Start[Int(b >> 4)]); out.append(hex.utf8Start[Int(b & 15)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<u.count]))
        }
        out.append(0x22)
    }

    static func number<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F, _ path: [any CodingKey]) throws -> [UInt8] {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "non-finite number in JSON"))
        }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        return Array(s.utf8)
    }
}

// MARK: - Encoder plumbing

extension JSONTextEncoder.Node {
    func makeObject() { if shape == .empty { shape = .object } }
    func makeArray() { if shape == .empty { shape = .array } }
    func child(_ key: String) -> JSONTextEncoder.Node {
        let n = JSONTextEncoder.Node()
        members.append((key, n))
        return n
    }
    func next() -> JSONTextEncoder.Node {
        let n = JSONTextEncoder.Node()
        items.append(n)
        return n
    }
    func setNil() { set(.raw("null")) }
    func set(_ v: Bool) { set(.raw(v ? "true" : "false")) }
    func set(_ v: String) { set(.string(v)) }
    func set<I: SignedInteger>(signed v: I) { set(.int(Int64(v))) }
    func set<I: UnsignedInteger>(unsigned v: I) { set(.uint(UInt64(v))) }
    func set<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F, _ path: [any CodingKey]) throws {
        set(.number(try JSONTextEncoder.number(v, path)))
    }
}

private struct NodeEncoder: Encoder {
    let node: JSONTextEncoder.Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleNodeContainer(node: node, codingPath: codingPath)
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "Index \(index)" }
    var intValue: Int? { index }
    let index: Int
    init(_ i: Int) { index = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { index = intValue }
}

private struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONTextEncoder.Node
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> JSONTextEncoder.Node { node.child(key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { child(key).setNil() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { child(key).set(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { child(key).set(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try child(key).set(value, codingPath + [key]) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try child(key).set(value, codingPath + [key]) }
    mutating func encode(_ value: Int, forKey key: Key) throws { child(key).set(signed: value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { child(key).set(signed: value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { child(key).set(signed: value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { child(key).set(signed: value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { child(key).set(signed: value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { child(key).set(unsigned: value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { child(key).set(unsigned: value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { child(key).set(unsigned: value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { child(key).set(unsigned: value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { child(key).set(unsigned: value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: NodeEncoder(node: child(key), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> {
        let n = child(key)
        n.makeObject()
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: n, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let n = child(key)
        n.makeArray()
        return UnkeyedNodeContainer(node: n, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.child("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(node: child(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: JSONTextEncoder.Node
    let codingPath: [any CodingKey]
    var count: Int { node.items.count }

    mutating func encodeNil() throws { node.next().setNil() }
    mutating func encode(_ value: Bool) throws { node.next().set(value) }
    mutating func encode(_ value: String) throws { node.next().set(value) }
    mutating func encode(_ value: Double) throws { try node.next().set(value, codingPath + [IndexKey(count)]) }
    mutating func encode(_ value: Float) throws { try node.next().set(value, codingPath + [IndexKey(count)]) }
    mutating func encode(_ value: Int) throws { node.next().set(signed: value) }
    mutating func encode(_ value: Int8) throws { node.next().set(signed: value) }
    mutating func encode(_ value: Int16) throws { node.next().set(signed: value) }
    mutating func encode(_ value: Int32) throws { node.next().set(signed: value) }
    mutating func encode(_ value: Int64) throws { node.next().set(signed: value) }
    mutating func encode(_ value: UInt) throws { node.next().set(unsigned: value) }
    mutating func encode(_ value: UInt8) throws { node.next().set(unsigned: value) }
    mutating func encode(_ value: UInt16) throws { node.next().set(unsigned: value) }
    mutating func encode(_ value: UInt32) throws { node.next().set(unsigned: value) }
    mutating func encode(_ value: UInt64) throws { node.next().set(unsigned: value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try value.encode(to: NodeEncoder(node: node.next(), codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = codingPath + [IndexKey(count)]
        let n = node.next()
        n.makeObject()
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: n, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        let n = node.next()
        n.makeArray()
        return UnkeyedNodeContainer(node: n, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = codingPath + [IndexKey(count)]
        return NodeEncoder(node: node.next(), codingPath: path)
    }
}

private struct SingleNodeContainer: SingleValueEncodingContainer {
    let node: JSONTextEncoder.Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.setNil() }
    mutating func encode(_ value: Bool) throws { node.set(value) }
    mutating func encode(_ value: String) throws { node.set(value) }
    mutating func encode(_ value: Double) throws { try node.set(value, codingPath) }
    mutating func encode(_ value: Float) throws { try node.set(value, codingPath) }
    mutating func encode(_ value: Int) throws { node.set(signed: value) }
    mutating func encode(_ value: Int8) throws { node.set(signed: value) }
    mutating func encode(_ value: Int16) throws { node.set(signed: value) }
    mutating func encode(_ value: Int32) throws { node.set(signed: value) }
    mutating func encode(_ value: Int64) throws { node.set(signed: value) }
    mutating func encode(_ value: UInt) throws { node.set(unsigned: value) }
    mutating func encode(_ value: UInt8) throws { node.set(unsigned: value) }
    mutating func encode(_ value: UInt16) throws { node.set(unsigned: value) }
    mutating func encode(_ value: UInt32) throws { node.set(unsigned: value) }
    mutating func encode(_ value: UInt64) throws { node.set(unsigned: value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: NodeEncoder(node: node, codingPath: codingPath)) }
}
