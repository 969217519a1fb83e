/// How a block-page body is transformed before hashing (`http/blockpage-sha256.csv` column `normalization`).
/// The input is the entity body after transfer decoding (chunked) and content decoding (gzip, deflate), as KZProtocols
/// hands it over; normalisations work on bytes and never decode text.
public enum BodyNormalization: String, CaseIterable, Hashable, Sendable {
    /// The bytes as they are.
    case none
    /// 1. ASCII `A`–`Z` become `a`–`z` (other bytes, including UTF-8 multi-byte sequences, are unchanged);
    /// 2. every maximal run of ASCII white space (HT 0x09, LF 0x0A, VT 0x0B, FF 0x0C, CR 0x0D, SP 0x20) becomes a
    ///    single SP;
    /// 3. a leading and a trailing SP are removed.
    /// Python equivalent: `re.sub(rb'[\t\n\x0b\x0c\r ]+', b' ', body.lower()).strip(b'\t\n\x0b\x0c\r ')`.
    case wsCollapseLower = "ws-collapse-lower"

    /// Applies the normalisation.
    public func apply(_ body: [UInt8]) -> [UInt8] {
        switch self {
        case .none:
            return body
        case .wsCollapseLower:
            var out = [UInt8]()
            out.reserveCapacity(body.count)
            var pendingSpace = false
            for b in body {
                switch b {
                case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20:
                    pendingSpace = true
                default:
                    if pendingSpace && !out.isEmpty { out.append(0x20) }
                    pendingSpace = false
                    out.append(b >= 0x41 && b <= 0x5A ? b + 32 : b)
                }
            }
            return out
        }
    }
}
