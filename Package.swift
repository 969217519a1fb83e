// swift-tools-version: 6.0
// kzforensics: offline packet-capture forensic analyzer for network interference.
// Pipeline, one direction:
//   KZCapture → KZWire → KZFlow → KZProtocols → KZDetect → KZAttribution → KZReport → KZPipeline → kzforensics
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "kzforensics",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kzforensics", targets: ["kzforensics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"6.0.0"),
    ],
    targets: [
        // C libraries (Debian: libpcap-dev, libgeoip-dev, zlib1g-dev).
        .systemLibrary(name: "CPcap", path: "Sources/CSystem/CPcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CGeoIP", path: "Sources/CSystem/CGeoIP", providers: [.apt(["libgeoip-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CSystem/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // 1. Reading capture files (uses KZWire's core value types: Timestamp, LinkType, FrameNumber) (libpcap + a fast classic-pcap walker), BPF filters, pcap writing.
        .target(name: "KZCapture", dependencies: ["CPcap", "KZWire"], swiftSettings: strict),
        // 2. Zero-copy decoding of frames: link, IP, transport, ICMP quotes; packet accounting.
        .target(name: "KZWire", dependencies: [], swiftSettings: strict),
        // 3. Flow table, TCP tracking and reassembly, IP defragmentation.
        .target(name: "KZFlow", dependencies: ["KZWire"], swiftSettings: strict),
        // 4. DNS / HTTP / TLS parsers (+ X.509 via swift-certificates) and DNS transactions.
        .target(name: "KZProtocols", dependencies: [
            "KZWire", "KZFlow", "CZlib",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // 5. Signatures/ database: block pages, forged DNS answers, interception CAs, AS table.
        .target(name: "KZSignatures", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        // 6. Interference detectors producing typed findings.
        // Detectors consume KZDetect's own event values (AnalysisEvent); KZPipeline converts flow and parser outputs.
        .target(name: "KZDetect", dependencies: ["KZWire", "KZSignatures"], exclude: ["README.md"], swiftSettings: strict),
        // 7. Where on the path: TTL distance, TTL-limited sweeps, GeoIP / AS.
        .target(name: "KZAttribution", dependencies: ["KZWire", "KZSignatures", "CGeoIP"], swiftSettings: strict),
        // 8. Report model and writers (text, JSON, JSONL).
        .target(name: "KZReport", dependencies: ["KZWire", "KZDetect", "KZAttribution"], swiftSettings: strict),
        // 9. Ties the stages together for one or more captures.
        .target(name: "KZPipeline", dependencies: [
            "KZCapture", "KZWire", "KZFlow", "KZProtocols", "KZSignatures", "KZDetect", "KZAttribution", "KZReport",
        ], swiftSettings: strict),
        .executableTarget(name: "kzforensics", dependencies: [
            "KZPipeline", "KZCapture", "KZWire", "KZFlow", "KZProtocols", "KZReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer,address -DKZ_FUZZ).
        .executableTarget(name: "KZFuzz", dependencies: ["KZCapture", "KZWire", "KZFlow", "KZProtocols"]),

        // Helpers shared by the test targets (seeded random numbers).
        .target(name: "KZTestSupport", dependencies: [], path: "Tests/KZTestSupport"),
        .testTarget(name: "KZWireTests", dependencies: ["KZTestSupport", "KZWire", "KZCapture"]),
        .testTarget(name: "KZCaptureTests", dependencies: ["KZTestSupport", "KZCapture", "KZWire"]),
        .testTarget(name: "KZFlowTests", dependencies: ["KZTestSupport", "KZFlow", "KZWire", "KZCapture"]),
        .testTarget(name: "KZProtocolsTests", dependencies: ["KZTestSupport", "KZProtocols", "KZFlow", "KZWire", "KZCapture"]),
        .testTarget(name: "KZSignaturesTests", dependencies: ["KZTestSupport", "KZSignatures"]),
        .testTarget(name: "KZDetectTests", dependencies: ["KZTestSupport", "KZDetect", "KZSignatures", "KZWire"]),
        .testTarget(name: "KZAttributionTests", dependencies: ["KZTestSupport", "KZAttribution", "KZCapture", "KZWire"]),
        .testTarget(name: "KZPipelineTests", dependencies: ["KZTestSupport", "KZPipeline", "KZReport", "KZCapture", "KZWire", "KZFlow", "KZProtocols", "KZDetect"]),
    ]
)
