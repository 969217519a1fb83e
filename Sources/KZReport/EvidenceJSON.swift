import KZDetect

/// Evidence as REPORT.md objects: `{"kind": "...", ...}` with snake_case keys.
public enum EvidenceJSON {
    public static func value(_ e: Evidence) -> JSONValue {
        switch e {
        case .frame(let f, let note):
            return .object(["kind": .string("frame"), "frame": .int(f), "note": .string(note)])
        case .valueMismatch(let field, let frame, let expected, let observed, let base):
            var o: [String: JSONValue] = ["kind": .string("\(field)_mismatch"), "field": .string(field), "frame": .int(frame),
                                          "expected": number(expected), "observed": number(observed)]
            o["baseline_frame"] = base.map { .int($0) } ?? .null
            return .object(o)
        case .overlapConflict(let a, let b, let seq, let len):
            return .object(["kind": .string("overlap_conflict"), "first_frame": .int(a), "second_frame": .int(b),
                            "seq": .int(Int(seq)), "length": .int(len)])
        case .dnsAnswers(let q, let name, let answers):
            return .object(["kind": .string("dns_answers"), "query_frame": .int(q), "qname": .string(name),
                            "responses": .array(answers.map { a in
                                .object(["frame": .int(a.frame), "answers": .array(a.answers.map { .string($0) }),
                                         "ttl": .int(Int(a.ttl)), "ip_id": .int(Int(a.ipID)),
                                         "delay_ms": .double(rounded(a.delaySeconds * 1000))])
                            })])
        case .signatureMatch(let id, let rev, let location, let frame, let detail):
            return .object(["kind": .string("signature_match"), "signature": .string("\(id)@\(rev)"),
                            "location": .string(location), "frame": frame.map { .int($0) } ?? .null,
                            "detail": .string(detail)])
        case .certificate(let frame, let subject, let issuer, let sha):
            return .object(["kind": .string("certificate"), "frame": .int(frame), "subject": .string(subject),
                            "issuer": .string(issuer), "sha256": .string(sha)])
        case .timing(let field, let frame, let exp, let obs):
            return .object(["kind": .string("timing"), "field": .string(field), "frame": frame.map { .int($0) } ?? .null,
                            "expected_ms": .double(rounded(exp * 1000)), "observed_ms": .double(rounded(obs * 1000))])
        case .control(let frame, let note):
            return .object(["kind": .string("control"), "frame": frame.map { .int($0) } ?? .null, "note": .string(note)])
        case .note(let s):
            return .object(["kind": .string("note"), "note": .string(s)])
        }
    }

    /// Numbers stay numbers in JSON when they parse as integers (TTL 60 → 60), otherwise strings.
    static func number(_ s: String) -> JSONValue {
        if let i = Int(s) { return .int(i) }
        return .string(s)
    }

    /// Fixed precision (3 decimals) so JSON is byte-identical across runs and platforms.
    static func rounded(_ d: Double) -> Double { (d * 1000).rounded() / 1000 }
}
