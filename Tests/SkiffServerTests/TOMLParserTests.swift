import Testing

@testable import SkiffServer

@Suite struct TOMLParserTests {
    /// Sections flatten into dotted keys, and every supported value type parses to the right case.
    @Test func parsesSectionsAndValueTypes() throws {
        let text = """
            # a comment
            node_id = 3
            data_dir = "/var/lib/skiff" # trailing comment
            name = 'lit\\eral'
            peers = ["1=a:1", "2=b:2",]
            [raft]
            tick_interval_ms = 1_000
            enabled = true
            offset = -42
            """
        let values = try TOMLParser.parse(text)
        #expect(values["node_id"] == .integer(3))
        #expect(values["data_dir"] == .string("/var/lib/skiff"))
        #expect(values["name"] == .string("lit\\eral"))
        #expect(values["peers"] == .array([.string("1=a:1"), .string("2=b:2")]))
        #expect(values["raft.tick_interval_ms"] == .integer(1000))
        #expect(values["raft.enabled"] == .boolean(true))
        #expect(values["raft.offset"] == .integer(-42))
        #expect(values.count == 7)
    }

    /// Basic-string escapes are decoded, and CRLF line endings are accepted.
    @Test func decodesEscapesAndCRLF() throws {
        let values = try TOMLParser.parse("a = \"x\\\"y\\\\z\\n\\t\"\r\nb = 1\r\n")
        #expect(values["a"] == .string("x\"y\\z\n\t"))
        #expect(values["b"] == .integer(1))
    }

    /// Each malformed or unsupported construct is refused with the right kind and line number.
    @Test(arguments: [
        ("a = 1\na = 2", TOMLError.Kind.duplicateKey, 2),
        ("[s]\nx=1\n[s]", .duplicateKey, 3),
        ("a = \"open", .syntax, 1),
        ("a = 1.5", .unsupported, 1),
        ("a = {x = 1}", .unsupported, 1),
        ("[[t]]", .unsupported, 1),
        ("a = [1, [2]]", .unsupported, 1),
        ("\n\na = [1,", .unsupported, 3),
        ("a = 1 b", .syntax, 1),
        ("= 1", .syntax, 1),
        ("a = 99999999999999999999", .syntax, 1),
        ("a = 1979-05-27", .unsupported, 1),
        ("\"q\" = 1", .unsupported, 1),
        ("a = \"\\u0041\"", .unsupported, 1),
        ("a = maybe", .syntax, 1),
        ("a = 1__0", .syntax, 1),
    ])
    func rejectsBadInput(text: String, kind: TOMLError.Kind, line: Int) {
        #expect {
            _ = try TOMLParser.parse(text)
        } throws: { error in
            guard let e = error as? TOMLError else { return false }
            return e.kind == kind && e.line == line
        }
    }

    /// A document over the size bound is refused before parsing.
    @Test func rejectsOversizedDocument() {
        let big = String(repeating: "# padding\n", count: TOMLParser.documentBytesMax / 10 + 1)
        #expect(throws: TOMLError.self) { try TOMLParser.parse(big) }
    }
}
