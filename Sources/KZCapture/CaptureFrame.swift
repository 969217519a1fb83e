import KZWire

/// One record of a capture file, borrowed: `bytes` points into the reader's buffer and is valid only during the
/// callback that received it. Copy what must outlive it.
public struct CaptureFrame {
    /// 1-based position in the file (Wireshark's frame.number), counting every packet record, filtered or not.
    public var number: FrameNumber
    public var timestamp: Timestamp
    public var capturedLength: Int
    public var wireLength: Int
    public var linkType: LinkType
    /// pcapng interface index (0 for classic pcap).
    public var interfaceID: Int
    public var bytes: UnsafeRawBufferPointer

    public init(number: FrameNumber, timestamp: Timestamp, capturedLength: Int, wireLength: Int, linkType: LinkType,
                interfaceID: Int, bytes: UnsafeRawBufferPointer) {
        self.number = number
        self.timestamp = timestamp
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.linkType = linkType
        self.interfaceID = interfaceID
        self.bytes = bytes
    }
}
