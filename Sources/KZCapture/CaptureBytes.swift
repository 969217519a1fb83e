import KZWire

/// Walks a capture held in memory (classic pcap or pcapng), exactly as `CaptureReader`'s native engine walks a mapped
/// file. For fuzzing and tests of damaged files.
public enum CaptureBytes {
    public static func forEachFrame(_ b: UnsafeRawBufferPointer, name: String = "<memory>",
                                    _ body: (CaptureFrame) -> Void) -> CaptureEnd {
        guard b.count >= 4 else {
            return .failed(CaptureError(.notACapture, path: name, offset: 0, "file too short to be a capture"))
        }
        switch b.le32(0) {
        case 0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0xa1b2_cd34, 0x34cd_b2a1:
            return ClassicPcapWalker.walk(b, path: name, body)
        case 0x0a0d_0d0a:
            return PcapngWalker.walk(b, path: name, body)
        default:
            return .failed(CaptureError(.notACapture, path: name, offset: 0, "not a pcap or pcapng file"))
        }
    }
}
