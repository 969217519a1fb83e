// libFuzzer entry points for kzforensics (issue 9). Build and run with scripts/fuzz.sh, which compiles with
// `-sanitize=fuzzer,address -DKZ_FUZZ`; a plain `swift build` compiles this target as a stub that explains that.
// Target selection: KZ_FUZZ_TARGET=capture|decoder|reassembly|dns|http|tls|certificate.
import KZCapture
import KZFlow
import KZProtocols
import KZWire
#if canImport(Glibc)
import Glibc
#endif

func fuzzOne(_ target: String, _ b: UnsafeRawBufferPointer) {
    switch target {
    case "capture":
        var acct = PacketAccounting()
        let d = PacketDecoder()
        _ = CaptureBytes.forEachFrame(b) { f in
            acct.count(d.decode(f.bytes, frame: f.number, timestamp: f.timestamp, wireLength: f.wireLength, linkType: f.linkType).status)
        }
        precondition(acct.isBalanced)
    case "decoder":
        guard b.count >= 2 else { return }
        let types: [UInt32] = [0, 1, 9, 50, 51, 101, 108, 113, 228, 229, 276, 147]
        let lt = LinkType(rawValue: types[Int(b[0]) % types.count])
        let frame = b.dropping(1)
        let p = PacketDecoder().decode(frame, frame: 1, timestamp: Timestamp(nanoseconds: 0), wireLength: frame.count + Int(b[0] & 1) * 10, linkType: lt)
        _ = PacketLine.json(p)
        _ = PacketLine.text(p)
    case "reassembly":
        // Each record: [flags][len][4 seq bytes][payload…] → a TCP segment of one flow, alternating directions.
        var limits = FlowLimits()
        limits.maxFlows = 8   // one flow per input: keep the per-execution set-up small
        var table = FlowTable(limits: limits)
        var sink = NullFlowSink()
        var i = 0, n = 0
        let a = IPAddress(v4: 0x0a00_0001), s = IPAddress(v4: 0x0a00_0002)
        var storage = [UInt8](repeating: 0x41, count: 2048)
        while i + 6 <= b.count && n < 256 {
            let flags = b[i], len = Int(b[i + 1]) % 200
            let seq = b.be32(i + 2)
            i += 6
            let take = min(len, b.count - i)
            for k in 0..<take { storage[k] = b[i + k] }
            i += take
            n += 1
            let fwd = flags & 0x80 == 0
            var p = DecodedPacket(frame: n, timestamp: Timestamp(nanoseconds: Int64(n) * 1000), capturedLength: take,
                                  wireLength: take, linkType: .raw)
            p.ip = IPSummary(version: 4, src: fwd ? a : s, dst: fwd ? s : a, ttl: 64, ipID: UInt32(n), df: true,
                             moreFragments: false, fragmentOffset: 0, isFragment: false, hasFragmentHeader: false,
                             proto: .tcp, tos: 0, totalLength: UInt16(40 + take), headerLength: 20,
                             headerChecksum: .good, hasOptions: false, recordRouteCount: 0, headerOffset: 0,
                             tunnelDepth: 0, flowLabel: 0)
            p.transport = .tcp(TCPSummary(srcPort: fwd ? 40000 : 80, dstPort: fwd ? 80 : 40000, seq: seq,
                                          ack: UInt32(n) &* 1000, flags: TCPFlags(rawValue: UInt16(flags & 0x3f)),
                                          window: 65535, headerLength: 20, urgentPointer: 0,
                                          options: TCPOptionsSummary(), checksum: .good))
            p.payloadOffset = 0
            p.payloadLength = take
            p.payloadCapturedLength = take
            storage.withUnsafeBytes { table.process(p, frame: UnsafeRawBufferPointer(rebasing: $0[0..<take]), into: &sink) }
        }
        table.finish(into: &sink)
    case "dns":
        _ = DNSMessage.parse(b)
        var framer = DNSOverTCPFramer()
        framer.feed(b, frame: 1)
        while let m = framer.next() { _ = DNSMessage.parse(m.message) }
    case "http":
        var req = HTTPStreamParser(role: .request)
        var resp = HTTPStreamParser(role: .response)
        let half = b.count / 2
        req.feed(b.slice(0..<half), frame: 1)
        resp.feed(b.slice(half..<b.count), frame: 2)
        req.finish()
        resp.finish()
        _ = req.takeEvents()
        _ = resp.takeEvents()
    case "tls":
        var p = TLSStreamParser()
        var i = 0
        while i < b.count {
            let n = min(b.count - i, 1 + Int(b[i]) % 97)
            p.feed(b.slice(i..<(i + n)), frame: i)
            i += n
        }
        p.finish()
        _ = p.takeEvents()
    case "certificate":
        _ = TLSCertificateInfo.summarize(der: Array(b), index: 0)
    default:
        fatalError("unknown KZ_FUZZ_TARGET \(target)")
    }
}

#if KZ_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

nonisolated(unsafe) var selectedTarget = "capture"
if let t = getenv("KZ_FUZZ_TARGET") { selectedTarget = String(cString: t) }
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    fuzzOne(selectedTarget, UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
})
#else
// Without libFuzzer: replay files given as arguments through a target (for reproducing a crash in a debug build).
let args = CommandLine.arguments.dropFirst()
guard let target = args.first else {
    print("usage: KZFuzz TARGET FILE…   (fuzzing proper: scripts/fuzz.sh)")
    exit(2)
}
for path in args.dropFirst() {
    guard let f = fopen(path, "rb") else { print("cannot open \(path)"); exit(1) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    fclose(f)
    bytes.withUnsafeBytes { fuzzOne(target, $0) }
    print("\(path): ok")
}
#endif
