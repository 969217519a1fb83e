import Foundation
import KZAttribution
import KZCapture
import KZDetect
import KZReport
import KZSignatures
import KZWire

public let kzforensicsVersion = "0.1.0"

/// A fatal problem before any capture was read (bad filter, broken signature file).
public struct AnalysisSetupError: Error, CustomStringConvertible {
    public var description: String
}

/// The output of `Analyzer.run`: the report plus what views and `--extract` need.
public struct AnalysisOutcome: Sendable {
    public var report: Report
    public var captures: [CaptureResult]
    public var findings: [(id: String, finding: Finding)]
    /// True when no input could be read at all (exit status 1).
    public var nothingReadable: Bool
}

/// Runs the whole job over one or more captures: decode, flows, parsers, detectors, hop attribution, report.
public enum Analyzer {
    public static func run(paths: [String], options: AnalysisOptions) throws -> AnalysisOutcome {
        var clock = StageClock()
        var warnings: [String] = []
        let filter: BPFFilter?
        if let expr = options.filter {
            do { filter = try BPFFilter(expr) } catch { throw AnalysisSetupError(description: error.description) }
        } else {
            filter = nil
        }
        let signatures: SignatureDatabase
        do {
            let user = options.signatureDirectories.map { URL(fileURLWithPath: $0, isDirectory: true) }
            if let b = options.builtInSignatures {
                signatures = try SignatureDatabase.load(directories: [URL(fileURLWithPath: b, isDirectory: true)] + user)
            } else {
                signatures = try SignatureDatabase.loadBuiltIn(adding: user)
            }
        } catch {
            throw AnalysisSetupError(description: "signatures: \(error)")
        }
        var operators: [UInt32: String] = [:]
        for o in signatures.operators { operators[o.asn] = o.name }
        // GeoIP and ASN databases open after the capture pass (they are read only for paths and findings), so their
        // ~10 MB memory cache does not add to the pass's peak; their warnings still come first.
        let metadataWarningsAt = warnings.count

        let context = DetectorContext(signatures: signatures, workers: options.threads)
        var results: [CaptureResult] = []
        var allFindings: [Finding] = []
        for path in paths {
            let runner = DetectorRunner(detectors: options.detect ? DetectorRegistry.makeAll() : [], context: context)
            let (r, found) = options.threads > 1
                ? DetectorStage.runBeside(path: path, options: options, filter: filter, runner: runner)
                : DetectorStage.runInline(path: path, options: options, filter: filter, runner: runner)
            allFindings.append(contentsOf: found.filter { $0.confidence >= options.minConfidence })
            if let e = r.error {
                warnings.append(r.unreadable ? "cannot read \(e)" : "capture ended early: \(e); frames before it were analysed")
            }
            if r.pathPacketsTruncated {
                warnings.append("\(path): path analysis kept its cap of \(options.maxPathPackets) packets (probe connections, ICMP); later ones were not used")
            }
            results.append(r)
            clock.mark("capture pass \(path)")
        }
        // Views (no detectors) have no findings or paths to annotate: they open no database.
        let metadata = options.detect
            ? IPMetadataService(geoip: options.geoipPath.map { [$0] }, asnDB: options.asnDatabase,
                                asnTable: options.asnTable, operators: operators)
            : IPMetadataService(geoip: [], operators: operators)
        if options.detect { warnings.insert(contentsOf: metadata.warnings, at: metadataWarningsAt) }
        var controls: [CaptureResult] = []
        for c in options.controlCaptures {
            let r = CaptureAnalyzer.run(path: c, options: options, filter: filter) { _ in }
            if let e = r.error { warnings.append("control capture: \(e)") }
            controls.append(r)
        }

        // Paths: TTL sweeps (test vs control), traceroutes.
        var paths: [PathReport] = []
        var sweepByServer: [String: SweepAnalysis] = [:]       // "capture|server"
        var routersByServer: [String: [Int: IPAddress]] = [:]
        let controlSweeps = controls.flatMap { c in
            TTLSweepBuilder.sweeps(packets: c.pathPackets, bytes: FrameBytesTable(c.payloads))
        }
        for r in results where !r.pathPackets.isEmpty {
            let sweeps = TTLSweepBuilder.sweeps(packets: r.pathPackets, bytes: FrameBytesTable(r.payloads))
            var pairs = TTLSweepAnalyzer.pairs(sweeps)
            pairs += TTLSweepAnalyzer.inferredPairs(sweeps, already: pairs)
            if !controlSweeps.isEmpty {
                for s in sweeps where !pairs.contains(where: { $0.test.server == s.server && $0.test.requestKey == s.requestKey }) {
                    if let c = controlSweeps.first(where: { $0.server == s.server && $0.serverPort == s.serverPort }) {
                        pairs.append((s, c))
                    }
                }
            }
            for (test, control) in pairs {
                let a = TTLSweepAnalyzer.compare(test: test, control: control)
                paths.append(PathReport(sweep: a, capture: r.path, metadata: metadata))
                let key = "\(r.path)|\(a.server)"
                if sweepByServer[key] == nil || (a.verdict.locatesCensor && !(sweepByServer[key]!.verdict.locatesCensor)) {
                    sweepByServer[key] = a
                }
                var m = routersByServer[key] ?? [:]
                for (t, router) in a.path { m[t] = router }
                routersByServer[key] = m
            }
            for t in PathEvidence.traceroutes(packets: r.pathPackets) {
                let key = "\(r.path)|\(t.destination)"
                var m = routersByServer[key] ?? [:]
                for (i, rt) in t.routerByIndex where m[i] == nil { m[i] = rt }
                routersByServer[key] = m
                if sweepByServer[key] == nil {
                    paths.append(PathReport(server: t.destination, capture: r.path,
                                            path: t.routerByIndex.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                            metadata: metadata))
                }
            }
        }

        clock.mark("paths")
        // Findings: stable order, ids, hops.
        let capOrder = Dictionary(uniqueKeysWithValues: results.enumerated().map { ($0.element.path, $0.offset) })
        allFindings.sort {
            let ca = capOrder[$0.capture] ?? 0, cb = capOrder[$1.capture] ?? 0
            if ca != cb { return ca < cb }
            let fa = $0.frames.first ?? 0, fb = $1.frames.first ?? 0
            if fa != fb { return fa < fb }
            if $0.detector != $1.detector { return $0.detector < $1.detector }
            return ($0.flow?.client ?? "") < ($1.flow?.client ?? "")
        }
        var records: [FindingRecord] = []
        var numbered: [(id: String, finding: Finding)] = []
        for (i, f) in allFindings.enumerated() {
            let id = String(format: "F%04d", i + 1)
            numbered.append((id, f))
            records.append(FindingRecord(id: id, finding: f, hop: hop(for: f, sweeps: sweepByServer,
                                                                     routers: routersByServer, metadata: metadata)))
        }

        var total = PacketAccounting()
        var captures: [CaptureInfo] = []
        var anomalies: [AnomalyRecord] = []
        var flows = FlowCounts(tcp: 0, udp: 0, other: 0)
        for (i, r) in results.enumerated() {
            total.merge(r.accounting)
            flows.tcp += r.flows.tcp
            flows.udp += r.flows.udp
            flows.other += r.flows.other
            let vantage = i < options.vantages.count ? options.vantages[i] : nil
            captures.append(CaptureInfo(path: r.path, vantage: vantage, format: r.format, linkTypes: r.linkTypes,
                                        frames: r.accounting.frames, firstTs: r.firstTs?.description,
                                        lastTs: r.lastTs?.description,
                                        status: r.unreadable ? "unreadable" : (r.error == nil ? "complete" : "partial"),
                                        error: r.error?.description, filteredOut: r.filteredOut,
                                        accounting: AccountingRecord(r.accounting)))
            for (name, v) in r.anomalies.sorted(by: { $0.key < $1.key }) {
                anomalies.append(AnomalyRecord(name: name, count: v.count, firstFrame: v.first, capture: r.path))
            }
        }
        let pathRecords = paths.map { p in
            PathRecord(server: p.server, capture: p.capture,
                       hops: p.hops.map { PathHopRecord(index: $0.index, router: $0.router, asn: $0.asn, country: $0.country) },
                       censor: p.censor.map { CensorRecord(index: $0.index, router: $0.router, onPath: $0.onPath,
                                                           method: $0.method.rawValue, verdict: $0.verdict) })
        }
        var comparison: [ComparisonRow]?
        if results.count > 1 && !options.vantages.isEmpty {
            comparison = compare(results: results, vantages: options.vantages, findings: records)
        }
        clock.mark("findings and hops")
        let report = Report(tool: ToolInfo(version: kzforensicsVersion), captures: captures,
                            accounting: AccountingRecord(total), flows: flows, findings: records, paths: pathRecords,
                            anomalies: anomalies, warnings: warnings, comparison: comparison)
        return AnalysisOutcome(report: report, captures: results, findings: numbered,
                               nothingReadable: !results.isEmpty && results.allSatisfy(\.unreadable))
    }

    /// Where the interfering packet came from: a TTL sweep to the same server names the hop and router; otherwise the
    /// passive TTL distance of the injected packet (with the router when a traceroute or sweep saw that hop).
    static func hop(for f: Finding, sweeps: [String: SweepAnalysis], routers: [String: [Int: IPAddress]],
                    metadata: IPMetadataService) -> HopRecord? {
        let server = f.flow.map { serverAddress($0.server) } ?? f.target?.ip
        if let server, let a = sweeps["\(f.capture)|\(server)"], let h = HopAttribution(sweep: a, metadata: metadata) {
            return record(h)
        }
        guard let ttl = f.injectedTTL else { return nil }
        let e = InjectorHopEstimate.estimate(injectedTTL: ttl, peerTTL: f.peerTTL)
        let path = server.flatMap { routers["\(f.capture)|\($0)"] } ?? [:]
        var h = record(HopAttribution(estimate: e, path: path, metadata: metadata))
        if !e.trusted { h.index = nil }      // the distance cannot be trusted: say so (note) rather than guess a hop
        return h
    }

    static func record(_ h: HopAttribution) -> HopRecord {
        HopRecord(index: h.index, router: h.router, asn: h.asn, asName: h.asName, country: h.country,
                  method: h.method.rawValue, confidence: h.confidence, note: h.note)
    }

    /// "10.0.0.1:80" → "10.0.0.1"; "[2001:db8::1]:443" → "2001:db8::1".
    static func serverAddress(_ s: String) -> String {
        if s.hasPrefix("["), let end = s.firstIndex(of: "]") { return String(s[s.index(after: s.startIndex)..<end]) }
        if let colon = s.lastIndex(of: ":") { return String(s[..<colon]) }
        return s
    }

    /// Per target (host, SNI, query name or address), the outcome at each vantage point.
    static func compare(results: [CaptureResult], vantages: [String], findings: [FindingRecord]) -> [ComparisonRow] {
        var rows: [String: [String: String]] = [:]
        for (i, r) in results.enumerated() {
            let v = i < vantages.count ? vantages[i] : "capture\(i + 1)"
            var targets = r.dnsQueryNames
            for f in findings where f.capture == r.path {
                let key = f.target?.host ?? f.target?.sni ?? f.target?.qname ?? f.flow.map { serverAddress($0.server) } ?? "?"
                var outcome = f.detector
                if let h = f.hop?.index { outcome += " @hop \(h)" }
                let prev = rows[key.lowercased(), default: [:]][v]
                rows[key.lowercased(), default: [:]][v] = prev.map { $0.contains(outcome) ? $0 : $0 + ", " + outcome } ?? outcome
                targets.remove(key.lowercased())
            }
            for t in targets where rows[t]?[v] == nil { rows[t, default: [:]][v] = "reachable" }
        }
        for (k, var o) in rows {
            for (i, _) in results.enumerated() {
                let v = i < vantages.count ? vantages[i] : "capture\(i + 1)"
                if o[v] == nil { o[v] = "not seen" }
            }
            rows[k] = o
        }
        return rows.keys.sorted().map { ComparisonRow(target: $0, outcomes: rows[$0]!) }
    }
}
