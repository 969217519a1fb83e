import KZWire

/// Where the analyses in this module get the bytes of a frame back (payloads, IP options, quoted headers).
/// `DecodedPacket` only carries offsets into its frame; the caller (the pipeline, a test) keeps the bytes.
public protocol FrameBytesProvider {
    /// The captured bytes of frame `frame` (1-based, as Wireshark numbers them), or nil when not kept.
    func bytes(of frame: FrameNumber) -> [UInt8]?
}

/// A provider backed by a dictionary, for tests and for small captures such as TTL sweeps.
public struct FrameBytesTable: FrameBytesProvider, Sendable {
    public var frames: [FrameNumber: [UInt8]]
    public init(_ frames: [FrameNumber: [UInt8]] = [:]) { self.frames = frames }
    public func bytes(of frame: FrameNumber) -> [UInt8]? { frames[frame] }
}

/// A provider that has no bytes: analyses still run on headers, payload-dependent parts degrade (documented per API).
public struct NoFrameBytes: FrameBytesProvider, Sendable {
    public init() {}
    public func bytes(of frame: FrameNumber) -> [UInt8]? { nil }
}

extension FrameBytesProvider {
    /// The transport payload of `packet` (`payloadOffset ..< payloadOffset + payloadLength`), clipped to the bytes
    /// captured; empty when the frame is not available.
    public func payload(of packet: DecodedPacket) -> ArraySlice<UInt8> {
        guard packet.payloadLength > 0, let b = bytes(of: packet.frame) else { return [] }
        let start = max(0, min(packet.payloadOffset, b.count))
        let end = max(start, min(packet.payloadOffset + packet.payloadLength, b.count))
        return b[start..<end]
    }
}
