import Testing
@testable import KZSignatures

@Suite struct CSVReaderTests {
    @Test func plainFieldsAndLineNumbers() throws {
        let records = try CSVReader.parse("a,b,c\n1,2,3\n", file: "t.csv")
        #expect(records.map(\.fields) == [["a", "b", "c"], ["1", "2", "3"]])
        #expect(records.map(\.line) == [1, 2])
    }

    @Test func crlfAndMissingFinalNewline() throws {
        let records = try CSVReader.parse("a,b\r\n1,2", file: "t.csv")
        #expect(records.map(\.fields) == [["a", "b"], ["1", "2"]])
    }

    @Test func quotedFieldsWithCommasQuotesAndNewlines() throws {
        let text = "id,notes\nx,\"one, two\"\ny,\"say \"\"hi\"\"\"\nz,\"line1\nline2\"\nw,\"\"\n"
        let records = try CSVReader.parse(text, file: "t.csv")
        #expect(records.map(\.fields) == [["id", "notes"], ["x", "one, two"], ["y", "say \"hi\""],
                                          ["z", "line1\nline2"], ["w", ""]])
        // The record after a quoted line break starts on the following physical line.
        #expect(records.map(\.line) == [1, 2, 3, 4, 6])
    }

    @Test func emptyFieldsAndBlankLines() throws {
        let records = try CSVReader.parse("a,,c\n\n,,\n", file: "t.csv")
        #expect(records.map(\.fields) == [["a", "", "c"], ["", "", ""]])
        #expect(records.map(\.line) == [1, 3])
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let records = try CSVReader.parse("\u{FEFF}a,b\n", file: "t.csv")
        #expect(records.first?.fields == ["a", "b"])
    }

    @Test func nonASCIIIsKept() throws {
        let records = try CSVReader.parse("Страница заблокирована,ақпараттық\n", file: "t.csv")
        #expect(records.first?.fields == ["Страница заблокирована", "ақпараттық"])
    }

    @Test func unterminatedQuoteReportsTheRecordLine() {
        #expect(throws: SignatureLoadError(.malformedCSV, file: "t.csv", line: 2,
                                           "quoted field not closed before end of file")) {
            try CSVReader.parse("a,b\n1,\"open\nstill open\n", file: "t.csv")
        }
    }

    @Test func strayQuoteInUnquotedFieldIsAnError() {
        do {
            _ = try CSVReader.parse("a,b\nx,ab\"c\n", file: "t.csv")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .malformedCSV)
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("t.csv:2: "))
        }
    }

    @Test func textAfterClosingQuoteIsAnError() {
        do {
            _ = try CSVReader.parse("a\n\n\"x\"y\n", file: "t.csv")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .malformedCSV)
            #expect(error.line == 3)
        }
    }

    @Test func bareCarriageReturnIsAnError() {
        do {
            _ = try CSVReader.parse("a\rb\n", file: "t.csv")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .malformedCSV)
            #expect(error.line == 1)
        }
    }
}
