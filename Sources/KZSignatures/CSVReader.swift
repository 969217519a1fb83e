/// One CSV record with the physical line on which it starts (1-based), for `file:line` errors.
public struct CSVRecord: Hashable, Sendable {
    public var line: Int
    public var fields: [String]
    public init(line: Int, fields: [String]) {
        self.line = line
        self.fields = fields
    }
}

/// A strict RFC 4180 reader.
///
/// - Fields are separated by `,`; records by CRLF or LF (RFC 4180 §2 rules 1–2; bare LF accepted as files edited on
///   Unix use it). A final line break is optional.
/// - A field may be enclosed in double quotes; inside, `""` stands for one quote and line breaks and commas are data
///   (§2 rules 5–7). A quote inside an unquoted field, text after a closing quote, or a missing closing quote are
///   errors, never guessed at.
/// - A UTF-8 byte-order mark at the start is skipped. Completely empty lines are skipped (a trailing blank line is
///   common); a line holding only spaces is a record with one field and will fail the column check.
public enum CSVReader {
    public static func parse(_ text: String, file: String) throws(SignatureLoadError) -> [CSVRecord] {
        var records: [CSVRecord] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var fieldWasQuoted = false
        var afterClosingQuote = false
        var lineIsEmpty = true

        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        func fieldString() -> String { String(decoding: field, as: UTF8.self) }
        func endField() {
            fields.append(fieldString())
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
            afterClosingQuote = false
        }
        func endRecord() {
            if lineIsEmpty && fields.isEmpty && field.isEmpty && !fieldWasQuoted {
                // blank line: skip
            } else {
                endField()
                records.append(CSVRecord(line: recordLine, fields: fields))
            }
            fields.removeAll(keepingCapacity: true)
            lineIsEmpty = true
        }

        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < n && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 2
                        continue
                    }
                    inQuotes = false
                    afterClosingQuote = true
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                lineIsEmpty = false
                endField()
            case UInt8(ascii: "\r"):
                guard i + 1 < n, bytes[i + 1] == UInt8(ascii: "\n") else {
                    throw SignatureLoadError(.malformedCSV, file: file, line: line, "bare CR outside quotes")
                }
                // handled by the LF on the next iteration
            case UInt8(ascii: "\n"):
                endRecord()
                line += 1
                recordLine = line
            case UInt8(ascii: "\""):
                guard field.isEmpty, !fieldWasQuoted, !afterClosingQuote else {
                    throw SignatureLoadError(.malformedCSV, file: file, line: line,
                                             "double quote inside an unquoted field (quote the whole field and double the quote)")
                }
                inQuotes = true
                fieldWasQuoted = true
                lineIsEmpty = false
            default:
                if afterClosingQuote {
                    throw SignatureLoadError(.malformedCSV, file: file, line: line,
                                             "text after the closing quote of a field")
                }
                lineIsEmpty = false
                field.append(b)
            }
            i += 1
        }
        if inQuotes {
            throw SignatureLoadError(.malformedCSV, file: file, line: recordLine,
                                     "quoted field not closed before end of file")
        }
        endRecord()
        return records
    }
}
