import CGeoIP
import KZWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a database could not be used. Callers turn these into one warning and carry on with "unknown".
public enum IPMetadataError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(String)
    case unreadable(String)
    case wrongEdition(String, Int)
    case badTable(String, line: Int)

    public var description: String {
        switch self {
        case .notFound(let p): "\(p): no such file"
        case .unreadable(let p): "\(p): not a legacy GeoIP database libGeoIP can open"
        case .wrongEdition(let p, let e): "\(p): GeoIP edition \(e) is not the kind expected here"
        case .badTable(let p, let l): "\(p): line \(l) is not 'range_start range_end AS_number country AS_description'"
        }
    }
}

/// A legacy MaxMind GeoIP `.dat` opened with libGeoIP (`GEOIP_MEMORY_CACHE`: the whole file in memory, read-only
/// afterwards; libGeoIP lookups are thread-safe without `GEOIP_CHECK_CACHE`, hence `@unchecked Sendable`).
public final class GeoIPDatabase: @unchecked Sendable {
    /// libGeoIP edition numbers used here.
    public enum Edition: Int, Sendable {
        case country = 1, asnum = 9, countryV6 = 12, asnumV6 = 21
    }
    private let handle: UnsafeMutablePointer<GeoIP>
    public let path: String
    /// `GeoIP_database_edition`.
    public let edition: Int
    /// `GeoIP_database_info` (build date and source).
    public let info: String

    public init(path: String) throws(IPMetadataError) {
        guard access(path, R_OK) == 0 else { throw .notFound(path) }
        // libGeoIP takes any file as a country database when it finds no structure marker (three 0xFF bytes near the
        // end, then the edition); check for the marker so a wrong file is refused instead of answering garbage.
        guard Self.hasStructureMarker(path) else { throw .unreadable(path) }
        let flags = Int32(GEOIP_MEMORY_CACHE.rawValue) | Int32(GEOIP_SILENCE.rawValue)
        guard let h = GeoIP_open(path, flags) else { throw .unreadable(path) }
        handle = h
        self.path = path
        edition = Int(GeoIP_database_edition(h))
        if let p = GeoIP_database_info(h) {
            info = String(cString: p)
            free(p)
        } else {
            info = ""
        }
    }
    deinit { GeoIP_delete(handle) }

    static func hasStructureMarker(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        let n = Int(min(size, 64))
        guard n >= 4, lseek(fd, off_t(size) - off_t(n), SEEK_SET) >= 0 else { return false }
        var buf = [UInt8](repeating: 0, count: n)
        let got = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, n) }
        guard got == n else { return false }
        // libGeoIP scans back at most 20 positions from end−3.
        for start in stride(from: n - 3, through: max(0, n - 3 - 20), by: -1)
        where buf[start] == 0xff && buf[start + 1] == 0xff && buf[start + 2] == 0xff {
            return true
        }
        return false
    }

    public var isV6: Bool { edition == Edition.countryV6.rawValue || edition == Edition.asnumV6.rawValue }
    public var isCountry: Bool { edition == Edition.country.rawValue || edition == Edition.countryV6.rawValue }
    public var isASN: Bool { edition == Edition.asnum.rawValue || edition == Edition.asnumV6.rawValue }

    /// ISO country code, or nil (unknown, or the address family does not match the database).
    public func countryCode(_ a: IPAddress) -> String? {
        guard isCountry, a.isV6 == isV6 else { return nil }
        let text = a.description
        let p = isV6 ? GeoIP_country_code_by_addr_v6(handle, text) : GeoIP_country_code_by_addr(handle, text)
        guard let p else { return nil }
        let s = String(cString: p)
        return s.isEmpty || s == "--" ? nil : s
    }

    /// The organisation string of an ASNum database ("AS9198 JSC Kazakhtelecom"), or nil.
    public func asnString(_ a: IPAddress) -> String? {
        guard isASN, a.isV6 == isV6 else { return nil }
        let text = a.description
        let p = isV6 ? GeoIP_name_by_addr_v6(handle, text) : GeoIP_name_by_addr(handle, text)
        guard let p else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// "AS9198 JSC Kazakhtelecom" → (9198, "JSC Kazakhtelecom").
    public static func parseASNString(_ s: String) -> (asn: UInt32, name: String?)? {
        guard s.hasPrefix("AS") else { return nil }
        let rest = s.dropFirst(2)
        let digits = rest.prefix { $0.isNumber }
        guard let n = UInt32(digits) else { return nil }
        let name = rest.dropFirst(digits.count).trimmingSpaces()
        return (n, name.isEmpty ? nil : name)
    }
}
