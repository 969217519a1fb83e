import Foundation
import KZCapture
import KZFlow
import KZWire
import Synchronization

/// The first stage of `CaptureAnalyzer`: read frames, decode, account, keep path packets, defragment. It hands each
/// packet the flow stage must see to `packet` (with the bytes the packet's offsets index: the frame, or a rebuilt
/// datagram) and each anomaly it finds to `note`, in frame order. It runs on the caller's thread (`--threads 1`) or with
/// the flow table on the flow stage's thread (`--threads 2`); either way it owns its state, and the caller reads it only
/// after `run` returned.
final class ReadStage: @unchecked Sendable {
    let reader: CaptureReader
    let filter: BPFFilter?
    let decoder = PacketDecoder()
    var keeper: PathPacketKeeper
    /// Offer packets to the path keeper (off for runs without detectors: views print no paths).
    let keepPaths: Bool
    var defrag = IPDefragmenter()
    var acct = PacketAccounting()
    var first: Timestamp?
    var last: Timestamp?
    var filteredOut = 0
    var bytesRead = 0
    var end: CaptureEnd?

    init(reader: CaptureReader, filter: BPFFilter?, keeper: PathPacketKeeper, keepPaths: Bool = true) {
        self.reader = reader
        self.keepPaths = keepPaths
        self.filter = filter
        self.keeper = keeper
    }

    func run(packet: (DecodedPacket, UnsafeRawBufferPointer) -> Void, note: (String, FrameNumber) -> Void,
             tick: (Int, Int) -> Void) {
        let decoder = self.decoder
        var acct = self.acct, bytesRead = 0, first: Timestamp?, last: Timestamp?
        var filteredOut = 0
        let keepPaths = self.keepPaths
        end = reader.forEachFrame(filter: filter, filteredOut: &filteredOut) { f in
            let p = decoder.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength,
                                   linkType: f.linkType)
            acct.count(p.status)
            bytesRead &+= f.capturedLength &+ 16
            if acct.frames & 0x3ffff == 0 { tick(acct.frames, bytesRead) }
            if first == nil { first = f.timestamp }
            last = f.timestamp
            guard p.ip != nil else { return }
            if keepPaths { keeper.offer(p, bytes: f.bytes) }
            if p.flags.contains(.fragment) {
                switch defrag.process(p, frame: f.bytes) {
                case .reassembled(let d):
                    for c in d.conflicts { note("ip.fragment_overlap_conflict", c.secondFrame) }
                    d.bytes.withUnsafeBytes { b in
                        let q = decoder.decodeDatagram(b, frame: d.lastFrame, timestamp: d.lastTimestamp)
                        if q.status.isOK { packet(q, b) }
                    }
                case .dropped(let reason):
                    note(reason, p.frame)
                case .notFragment:
                    packet(p, f.bytes)
                case .buffered:
                    break
                }
            } else if p.status.isOK || p.flags.contains(.snapTruncated) {
                packet(p, f.bytes)
            }
        }
        defrag.finish()
        for d in defrag.takeDiscarded() { note(d.reason, d.fragmentFrames.first ?? 0) }
        keeper.finish()
        self.acct = acct
        self.bytesRead = bytesRead
        self.first = first
        self.last = last
        self.filteredOut = filteredOut
    }
}

/// Flows closed so far, published by the flow stage for the progress line.
final class FlowCountBox: Sendable {
    let value = Atomic<Int>(0)
}
