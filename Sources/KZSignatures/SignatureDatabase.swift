import Foundation

/// The loaded `Signatures/` database: block-page patterns and hashes, block hosts, forged DNS answers, interception
/// CAs, the Kazakh operators' AS table, bogon prefixes and initial TTLs.
///
/// Load with `load(directories:)`: the built-in directory first, then each `--signatures DIR` in order. A later
/// directory overlays an earlier one: a row whose id (ASN for operators, prefix for bogons, TTL for initial TTLs)
/// already exists replaces it, other rows are added. Every file is validated while loading (the same checks the lint
/// test runs), so a bad user file stops the run with `file:line`.
///
/// The value is immutable after loading and `Sendable`; matchers are pure functions of their input.
public struct SignatureDatabase: Sendable {
    /// Rows sorted by id (ASN, prefix, TTL) for deterministic iteration.
    public private(set) var blockPagePatterns: [BlockPagePatternRow] = []
    public private(set) var blockPageHashes: [BlockPageHashRow] = []
    public private(set) var blockHosts: [BlockHostRow] = []
    public private(set) var poisonedDNS: [PoisonedDNSRow] = []
    public private(set) var interceptionCAs: [InterceptionCARow] = []
    public private(set) var operators: [OperatorRow] = []
    public private(set) var bogons: [BogonRow] = []
    public private(set) var initialTTLs: [InitialTTLRow] = []

    /// The directories loaded, in order.
    public private(set) var directories: [URL] = []

    // Lookup structures built once by `finishLoading()`.
    var compiledRegexps: [String: CompiledRegex] = [:]
    /// Parallel to `blockPagePatterns`: UTF-8 pattern bytes (with their search anchor) and compiled expressions, indexed
    /// by row position.
    var patternNeedles: [ByteNeedle] = []
    var patternRegexps: [CompiledRegex?] = []
    var operatorsByASN: [UInt32: OperatorRow] = [:]
    var bogonsV4ByLength: [BogonRow] = []
    var bogonsV6ByLength: [BogonRow] = []
    /// (mask, network, index into bogonsV4ByLength), longest prefix first; plain integers so a lookup copies no strings.
    var bogonV4Table: [(mask: UInt32, network: UInt32, index: Int)] = []
    var bogonV6Table: [(maskHigh: UInt64, maskLow: UInt64, high: UInt64, low: UInt64, index: Int)] = []
    /// Hash rows by normalisation (in the normalisations' order), then by digest.
    var hashesByNormalization: [(normalization: BodyNormalization, byDigest: [String: [BlockPageHashRow]])] = []
    /// `poisonedDNS` by address value: the first `full` row (in id order) for each address.
    var poisonedByAddress: [IPAddressValue: Int] = [:]
    /// Indices into `poisonedDNS`, ascending, of the rows an answer's text can match: `prefix`, `contains` and
    /// `regexp` rows (any answer), and with them the `full` rows of a name (an answer that is not an address).
    var poisonedTextRows: [Int] = []
    var poisonedNameRows: [Int] = []

    /// An empty database (every matcher returns nothing).
    public init() {}

    /// The files the loader knows, relative to a signatures directory. Kind folders are the first components.
    public static let knownFiles: [String] = [
        "http/blockpage-patterns.csv",
        "http/blockpage-sha256.csv",
        "http/block-hosts.csv",
        "dns/poisoned-answers.csv",
        "tls/interception-cas.csv",
        "asn/kz-operators.csv",
        "asn/bogons.csv",
        "ttl/initial-ttls.csv",
    ]

    /// Loads and validates each directory in order; later directories overlay earlier ones. Files missing from a
    /// directory are simply absent (a user directory may hold only `http/blockpage-patterns.csv`). An unknown `.csv`
    /// inside a kind folder (`http/`, `dns/`, `tls/`, `asn/`, `ttl/`) is an error, since it would otherwise be ignored
    /// silently.
    public static func load(directories: [URL]) throws(SignatureLoadError) -> SignatureDatabase {
        var db = SignatureDatabase()
        for directory in directories {
            try db.overlay(directory: directory)
        }
        db.finishLoading()
        return db
    }

    /// The built-in `Signatures/` directory, searched in this order: `$KZFORENSICS_SIGNATURES`; `Signatures` next
    /// to the executable; `../share/kzforensics/Signatures` relative to the executable; the package source tree
    /// (found from this file's `#filePath`, for development builds and tests). Nil if none exists.
    public static func builtInDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL? {
        var candidates: [URL] = []
        if let env = environment["KZFORENSICS_SIGNATURES"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env, isDirectory: true))
        }
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(exe.appendingPathComponent("Signatures", isDirectory: true))
            candidates.append(exe.deletingLastPathComponent()
                .appendingPathComponent("share/kzforensics/Signatures", isDirectory: true))
        }
        candidates.append(sourceTreeDirectory)
        return candidates.first { isDirectory($0) }
    }

    /// `Signatures/` at the package root, from this source file's location.
    public static var sourceTreeDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // KZSignatures
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("Signatures", isDirectory: true)
    }

    /// Loads the built-in directory and then `userDirectories` (the CLI's `--signatures DIR`, in order).
    public static func loadBuiltIn(adding userDirectories: [URL] = []) throws(SignatureLoadError)
        -> SignatureDatabase {
        guard let builtIn = builtInDirectory() else {
            throw SignatureLoadError(.directoryMissing, file: "Signatures", line: 0,
                                     "built-in Signatures/ directory not found (set KZFORENSICS_SIGNATURES)")
        }
        return try load(directories: [builtIn] + userDirectories)
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    // MARK: - Overlay

    mutating func overlay(directory: URL) throws(SignatureLoadError) {
        guard Self.isDirectory(directory) else {
            throw SignatureLoadError(.directoryMissing, file: directory.path, line: 0,
                                     "signatures directory does not exist or is not a directory")
        }
        directories.append(directory)

        // Unknown CSV files inside kind folders.
        let kindFolders = Set(Self.knownFiles.map { String($0.split(separator: "/")[0]) })
        for folder in kindFolders.sorted() {
            let folderURL = directory.appendingPathComponent(folder, isDirectory: true)
            guard Self.isDirectory(folderURL),
                  let names = try? FileManager.default.contentsOfDirectory(atPath: folderURL.path) else { continue }
            for name in names.sorted() where name.hasSuffix(".csv") {
                if !Self.knownFiles.contains("\(folder)/\(name)") {
                    throw SignatureLoadError(.unknownFile, file: folderURL.appendingPathComponent(name).path, line: 0,
                                             "unknown signatures file; known files: \(Self.knownFiles.joined(separator: ", "))")
                }
            }
        }

        var loaded = LoadedDirectory()
        for relative in Self.knownFiles {
            let url = directory.appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let path = url.path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SignatureLoadError(.unreadable, file: path, line: 0, "cannot read file")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw SignatureLoadError(.unreadable, file: path, line: 0, "file is not valid UTF-8")
            }
            let records = try CSVReader.parse(text, file: path)
            try loaded.parse(relative: relative, path: path, records: records)
        }
        try loaded.checkUniqueIDs()
        try merge(loaded)
    }

    /// Merges one directory's rows over the current ones.
    mutating func merge(_ d: LoadedDirectory) throws(SignatureLoadError) {
        // An id may be redefined only within the same kind.
        var kindOfID: [String: (SignatureKind, RowOrigin)] = [:]
        for r in blockPagePatterns { kindOfID[r.name] = (.blockPagePattern, r.origin) }
        for r in blockPageHashes { kindOfID[r.id] = (.blockPageHash, r.origin) }
        for r in blockHosts { kindOfID[r.id] = (.blockHost, r.origin) }
        for r in poisonedDNS { kindOfID[r.name] = (.poisonedDNS, r.origin) }
        for r in interceptionCAs { kindOfID[r.id] = (.interceptionCA, r.origin) }
        for (id, kind, origin) in d.idsWithKinds {
            if let (existing, where_) = kindOfID[id], existing != kind {
                throw SignatureLoadError(.duplicateID, file: origin.file, line: origin.line,
                                         "id '\(id)' is already used by a \(existing.rawValue) row at \(where_)")
            }
        }

        func overlaid<Row, Key: Hashable>(_ base: [Row], _ new: [Row], key: (Row) -> Key) -> [Row] {
            var byKey: [Key: Row] = [:]
            var order: [Key] = []
            for r in base + new {
                let k = key(r)
                if byKey[k] == nil { order.append(k) }
                byKey[k] = r
            }
            return order.compactMap { byKey[$0] }
        }
        blockPagePatterns = overlaid(blockPagePatterns, d.patterns) { $0.name }.sorted { $0.name < $1.name }
        blockPageHashes = overlaid(blockPageHashes, d.hashes) { $0.id }.sorted { $0.id < $1.id }
        blockHosts = overlaid(blockHosts, d.hosts) { $0.id }.sorted { $0.id < $1.id }
        poisonedDNS = overlaid(poisonedDNS, d.dns) { $0.name }.sorted { $0.name < $1.name }
        interceptionCAs = overlaid(interceptionCAs, d.cas) { $0.id }.sorted { $0.id < $1.id }
        operators = overlaid(operators, d.operators) { $0.asn }.sorted { $0.asn < $1.asn }
        bogons = overlaid(bogons, d.bogons) { BogonKey($0.prefix) }.sorted {
            ($0.prefix.family == .v4 ? 0 : 1, $0.prefix.high, $0.prefix.low, $0.prefix.length)
                < ($1.prefix.family == .v4 ? 0 : 1, $1.prefix.high, $1.prefix.low, $1.prefix.length)
        }
        initialTTLs = overlaid(initialTTLs, d.ttls) { $0.ttl }.sorted { $0.ttl < $1.ttl }
        for (k, v) in d.regexps { compiledRegexps[k] = v }
    }

    /// Builds lookup tables after the last overlay.
    mutating func finishLoading() {
        patternNeedles = blockPagePatterns.map { ByteNeedle(Array($0.pattern.utf8)) }
        // Drop compiled regexps of rows that an overlay turned into non-regexp rows.
        let regexpIDs = Set(blockPagePatterns.filter { $0.patternType == .regexp }.map(\.name)
            + poisonedDNS.filter { $0.patternType == .regexp }.map { "dns:" + $0.name })
        compiledRegexps = compiledRegexps.filter { regexpIDs.contains($0.key) }
        patternRegexps = blockPagePatterns.map { $0.patternType == .regexp ? compiledRegexps[$0.name] : nil }
        operatorsByASN = Dictionary(operators.map { ($0.asn, $0) }, uniquingKeysWith: { _, last in last })
        bogonsV4ByLength = bogons.filter { $0.prefix.family == .v4 }.sorted { $0.prefix.length > $1.prefix.length }
        bogonsV6ByLength = bogons.filter { $0.prefix.family == .v6 }.sorted { $0.prefix.length > $1.prefix.length }
        bogonV4Table = bogonsV4ByLength.enumerated().map { i, r in
            (IPPrefix.mask32(r.prefix.length), UInt32(truncatingIfNeeded: r.prefix.low), i)
        }
        bogonV6Table = bogonsV6ByLength.enumerated().map { i, r in
            let (mh, ml) = IPPrefix.mask128(r.prefix.length)
            return (mh, ml, r.prefix.high, r.prefix.low, i)
        }
        poisonedByAddress = [:]
        poisonedTextRows = []
        poisonedNameRows = []
        for (i, r) in poisonedDNS.enumerated() {
            if r.patternType == .full, let ip = r.address {
                if poisonedByAddress[ip] == nil { poisonedByAddress[ip] = i }
                continue
            }
            poisonedNameRows.append(i)
            if r.patternType != .full { poisonedTextRows.append(i) }
        }
        var byNormalization: [BodyNormalization: [String: [BlockPageHashRow]]] = [:]
        for r in blockPageHashes { byNormalization[r.normalization, default: [:]][r.sha256, default: []].append(r) }
        hashesByNormalization = byNormalization.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { (normalization: $0.key, byDigest: $0.value) }
    }
}

/// Key for overlaying bogon rows: the prefix value, not its spelling.
struct BogonKey: Hashable {
    var v4: Bool
    var high: UInt64
    var low: UInt64
    var length: Int
    init(_ p: IPPrefix) { (v4, high, low, length) = (p.family == .v4, p.high, p.low, p.length) }
}

/// An ICU regular expression compiled once. `NSRegularExpression` is immutable and documented as safe to share
/// between threads.
final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    /// ASCII text every match must contain (see `requiredLiteral(of:)`), or nil when none could be proven.
    let requiredLiteral: [UInt8]?
    /// `requiredLiteral` with its search anchor chosen once.
    let requiredNeedle: ByteNeedle?
    init(_ regex: NSRegularExpression) {
        self.regex = regex
        requiredLiteral = Self.requiredLiteral(of: regex.pattern)
        requiredNeedle = requiredLiteral.map(ByteNeedle.init)
    }

    /// The literal run an expression starts with, when every match must begin with it: no alternation anywhere, no
    /// inline options or groups before it, and a quantified last character dropped (`ab*` needs only `a`). Only
    /// printable ASCII other than metacharacters counts, so searching the UTF-8 bytes of a text agrees with searching
    /// the text itself (invalid UTF-8 decodes to U+FFFD, never to ASCII). At least 4 bytes, or nil.
    static func requiredLiteral(of pattern: String) -> [UInt8]? {
        let b = Array(pattern.utf8)
        if b.contains(UInt8(ascii: "|")) { return nil }
        let meta = Set(".^$*+?()[]{}|\\".utf8)
        var lit: [UInt8] = []
        var i = 0
        while i < b.count, b[i] >= 0x20, b[i] < 0x7f, !meta.contains(b[i]) {
            lit.append(b[i])
            i += 1
        }
        if i < b.count, [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "{")].contains(b[i]), !lit.isEmpty {
            lit.removeLast()
        }
        return lit.count >= 4 ? lit : nil
    }

    func matches(_ text: String) -> Bool {
        matches(NSString(string: text))
    }

    /// Use when one text is searched by several expressions: the bridge to UTF-16 happens once.
    func matches(_ text: NSString) -> Bool {
        regex.firstMatch(in: text as String, options: [], range: NSRange(location: 0, length: text.length)) != nil
    }
}
