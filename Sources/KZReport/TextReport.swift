import KZDetect

/// Renders a `Report` for people: a summary first (captures, frames, accounting, flows, findings by detector and
/// confidence), then each finding with its evidence frames and its path, in sentences that can be pasted into a report.
public enum TextReport {
    public static func render(_ r: Report) -> String {
        var s = "kzforensics \(r.tool.version) report\n\n"
        s += "Captures\n"
        for c in r.captures {
            var line = "  \(c.path)  \(c.format) \(c.linkTypes.joined(separator: ","))  \(c.frames) frames"
            if let v = c.vantage { line += "  vantage \(v)" }
            if let a = c.firstTs, let b = c.lastTs { line += "  \(a) – \(b)" }
            if c.status != "complete" { line += "  PARTIAL: \(c.error ?? "")" }
            if c.filteredOut > 0 { line += "  (\(c.filteredOut) frames did not match the filter)" }
            s += line + "\n"
        }
        let skipped = r.accounting.skipped.values.reduce(0, +)
        s += "\nAccounting: \(r.accounting.frames) frames, \(r.accounting.decoded) decoded, \(skipped) skipped\n"
        for (name, n) in r.accounting.skipped.sorted(by: { $0.key < $1.key }) {
            s += "  \(pad(name, 44)) \(n)\n"
        }
        s += "Flows: \(r.flows.tcp) TCP, \(r.flows.udp) UDP, \(r.flows.other) other\n"
        var byDetector: [String: [String: Int]] = [:]
        for f in r.findings { byDetector[f.detector, default: [:]][f.confidence, default: 0] += 1 }
        s += "Findings: \(r.findings.count)"
        if !byDetector.isEmpty {
            let parts = byDetector.keys.sorted().map { d -> String in
                let c = byDetector[d]!
                let conf = ["high", "medium", "low"].compactMap { k in c[k].map { "\($0) \(k)" } }.joined(separator: ", ")
                return "\(d): \(conf)"
            }
            s += " (" + parts.joined(separator: "; ") + ")"
        }
        s += "\n"
        if !r.warnings.isEmpty {
            s += "Warnings:\n" + r.warnings.map { "  - \($0)\n" }.joined()
        }
        let pathPrefixes = r.paths.map { bracketless($0.server) }
        for f in r.findings {
            s += "\n\(f.id)  \(f.detector)  \(f.confidence)\n"
            if let flow = f.flow { s += "  flow      \(flow.proto) \(flow.client) → \(flow.server)" + targetText(f.target) + "\n" }
            else if f.target != nil { s += "  target   " + targetText(f.target) + "\n" }
            s += "  what      \(f.summary)\n"
            s += "  frames    \(f.frames.map(String.init).joined(separator: ", "))  (capture \(f.capture))\n"
            if !f.evidence.isEmpty {
                s += "  evidence\n"
                for e in f.evidence { s += "    - \(evidenceText(e))\n" }
            }
            if let h = f.hop {
                var w = "  where     "
                if let i = h.index { w += "hop \(i)" } else { w += "hop unknown" }
                var det: [String] = []
                if let r = h.router { det.append(r) }
                if let a = h.asn { det.append("AS\(a)" + (h.asName.map { " \($0)" } ?? "")) }
                if let c = h.country { det.append(c) }
                if !det.isEmpty { w += " (" + det.joined(separator: ", ") + ")" }
                w += " by \(h.method), \(h.confidence) confidence"
                if let n = h.note { w += " — \(n)" }
                s += w + "\n"
            }
            if let flow = f.flow,
               let i = r.paths.indices.first(where: { r.paths[$0].capture == f.capture && flow.server.hasPrefix(pathPrefixes[$0]) }) {
                s += "  path      " + pathLine(r.paths[i]) + "\n"
            }
        }
        let findingServers = r.findings.compactMap { $0.flow?.server }
        let unmatchedPaths = r.paths.indices.filter { i in !findingServers.contains { $0.hasPrefix(pathPrefixes[i]) } }
            .map { r.paths[$0] }
        if !unmatchedPaths.isEmpty {
            s += "\nPaths\n"
            for p in unmatchedPaths { s += "  \(p.server) (\(p.capture)): " + pathLine(p) + "\n" }
        }
        if let rows = r.comparison, !rows.isEmpty {
            s += "\nAcross vantage points\n"
            let vantages = Array(Set(rows.flatMap { $0.outcomes.keys })).sorted()
            s += "  " + pad("target", 32) + vantages.map { pad($0, 28) }.joined() + "\n"
            for row in rows {
                s += "  " + pad(row.target, 32) + vantages.map { pad(row.outcomes[$0] ?? "-", 28) }.joined() + "\n"
            }
        }
        if !r.anomalies.isEmpty {
            s += "\nAnomalies\n"
            for a in r.anomalies { s += "  \(pad(a.name, 40)) \(a.count) (first frame \(a.firstFrame), \(a.capture))\n" }
        }
        return s
    }

    /// A path's server as it appears at the start of a finding's `host:port` (IPv6 in brackets). Byte searches: this runs
    /// for every finding against every path, and Foundation's `contains` was most of the text report's time.
    static func bracketless(_ s: String) -> String {
        s.utf8.contains(UInt8(ascii: ":")) && !s.utf8.contains(UInt8(ascii: ".")) ? "[\(s)]" : s
    }

    /// "you ─ 1 10.0.1.1 ─ 2 10.0.2.1 ─ [3 10.0.3.1 CENSOR on-path] ─ … ─ server".
    public static func pathLine(_ p: PathRecord) -> String {
        var parts = ["capture point"]
        for h in p.hops {
            var t = "\(h.index) \(h.router ?? "*")"
            if let a = h.asn { t += " AS\(a)" }
            if let c = h.country { t += " \(c)" }
            if let c = p.censor, c.index == h.index { t = "[" + t + " ✖ censor" + (c.onPath == true ? " on-path" : c.onPath == false ? " in-path" : "") + "]" }
            parts.append(t)
        }
        if let c = p.censor, let i = c.index, !p.hops.contains(where: { $0.index == i }) {
            parts.append("[\(i) \(c.router ?? "*") ✖ censor]")
        }
        parts.append(p.server)
        var s = parts.joined(separator: " ─ ")
        if let c = p.censor { s += "   (\(c.verdict), \(c.method))" }
        return s
    }

    static func targetText(_ t: TargetRef?) -> String {
        guard let t else { return "" }
        var parts: [String] = []
        if let h = t.host { parts.append("host \(h)") }
        if let s = t.sni { parts.append("SNI \(s)") }
        if let q = t.qname { parts.append("query \(q)") }
        if let i = t.ip { parts.append("ip \(i)") }
        return parts.isEmpty ? "" : "   " + parts.joined(separator: ", ")
    }

    static func str(_ v: JSONValue?) -> String {
        switch v {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .double(let d)?: return String(d)
        case .bool(let b)?: return String(b)
        case .array(let a)?: return a.map { str($0) }.joined(separator: ", ")
        default: return "?"
        }
    }

    static func evidenceText(_ e: JSONValue) -> String {
        let kind = str(e["kind"])
        switch kind {
        case "frame": return "frame \(str(e["frame"])): \(str(e["note"]))"
        case "overlap_conflict":
            return "frames \(str(e["first_frame"])) and \(str(e["second_frame"])) carry different bytes for \(str(e["length"])) bytes at seq \(str(e["seq"]))"
        case "dns_answers":
            var t = "query frame \(str(e["query_frame"])) for \(str(e["qname"])) got:"
            if case .array(let rs)? = e["responses"] {
                for r in rs { t += " [frame \(str(r["frame"])): \(str(r["answers"])); TTL \(str(r["ttl"])), IP ID \(str(r["ip_id"])), +\(str(r["delay_ms"])) ms]" }
            }
            return t
        case "signature_match": return "signature \(str(e["signature"])) matched \(str(e["location"]))" + (e["frame"].map { v in v == .null ? "" : " in frame \(str(v))" } ?? "") + ": \(str(e["detail"]))"
        case "certificate": return "certificate in frame \(str(e["frame"])): subject \(str(e["subject"])), issuer \(str(e["issuer"])), sha256 \(str(e["sha256"]))"
        case "timing": return "\(str(e["field"])): observed \(str(e["observed_ms"])) ms, expected about \(str(e["expected_ms"])) ms" + (e["frame"].map { v in v == .null ? "" : " (frame \(str(v)))" } ?? "")
        case "control": return "control: \(str(e["note"]))" + (e["frame"].map { v in v == .null ? "" : " (frame \(str(v)))" } ?? "")
        case "note": return str(e["note"])
        default:
            if kind.hasSuffix("_mismatch") {
                var t = "\(str(e["field"])) at frame \(str(e["frame"])): expected \(str(e["expected"])), observed \(str(e["observed"]))"
                if let b = e["baseline_frame"], b != .null { t += " (baseline frame \(str(b)))" }
                return t
            }
            return kind
        }
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
