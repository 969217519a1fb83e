/// Thrown when a `Signatures/` directory cannot be loaded. Every error names the file and, when it concerns a row, the
/// 1-based physical line where that CSV record starts, so it prints as `file:line: message` (OONI's validator reports
/// the row position the same way). Tests compare `code`; `message` is for humans.
public struct SignatureLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Open set of error kinds (swift-asn1 style): new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The directory given does not exist or is not a directory.
        public static let directoryMissing = Code("directory_missing")
        /// A file exists but could not be read, or is not UTF-8.
        public static let unreadable = Code("unreadable")
        /// A `.csv` file in a kind folder that the loader does not know (probably a typo; it would be ignored).
        public static let unknownFile = Code("unknown_file")
        /// RFC 4180 violation: unterminated quote, stray quote, text after a closing quote.
        public static let malformedCSV = Code("malformed_csv")
        /// The header row differs from the documented columns.
        public static let badHeader = Code("bad_header")
        /// A row has a different number of fields than the header.
        public static let columnCount = Code("column_count")
        /// Two rows in one directory share an id (or ASN, prefix, TTL).
        public static let duplicateID = Code("duplicate_id")
        /// A field has a value outside its documented domain.
        public static let invalidField = Code("invalid_field")
        /// A required field is empty.
        public static let emptyField = Code("empty_field")
        /// A `regexp` pattern does not compile.
        public static let badRegexp = Code("bad_regexp")
    }

    public var code: Code
    /// Path of the file as given to the loader (or the directory for `directoryMissing`).
    public var file: String
    /// 1-based line where the offending record starts; 0 when the error concerns the whole file.
    public var line: Int
    public var message: String

    public init(_ code: Code, file: String, line: Int, _ message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message` (or `file: message` when no line applies).
    public var description: String {
        line > 0 ? "\(file):\(line): \(message) [\(code)]" : "\(file): \(message) [\(code)]"
    }
}
