/// A strict parser for the subset of TOML that Skiff's config file uses.
///
/// Supported: `# comments`, `[section]` and `[section.sub]` headers, `key = value` pairs whose value is a basic
/// string (`"..."` with `\\ \" \n \t` escapes), a literal string (`'...'`), a decimal integer (underscores
/// allowed), a boolean, or a one-line array of those. Everything else (inline tables, arrays of tables,
/// multi-line strings, dates, floats) is rejected with a typed error naming the line, rather than guessed at.
/// A config file is small and written by operators; a clear refusal beats a silent misreading.
///
/// Keys come back flattened: `[raft]` + `tick_interval_ms = 10` gives `"raft.tick_interval_ms"`.
public enum TOMLValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case array([TOMLValue])

    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .integer(let i): return String(i)
        case .boolean(let b): return String(b)
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// A TOML document could not be parsed. `line` is 1-based.
public struct TOMLError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case syntax
        case unsupported
        case duplicateKey
        case tooLarge
    }
    public var kind: Kind
    public var line: Int
    public var message: String

    public var description: String { "config line \(line): \(message)" }
}

/// Parses the TOML subset described on `TOMLValue`.
public enum TOMLParser {
    /// The largest config file accepted, in bytes. Config files are tiny; anything larger is a mistake.
    public static let documentBytesMax = 1 << 20
    /// The longest key path accepted, in characters.
    static let keyCharactersMax = 256

    /// Parses `text` into flattened `section.key` paths.
    public static func parse(_ text: String) throws(TOMLError) -> [String: TOMLValue] {
        guard text.utf8.count <= documentBytesMax else {
            throw TOMLError(kind: .tooLarge, line: 0, message: "file larger than \(documentBytesMax) bytes")
        }
        var result: [String: TOMLValue] = [:]
        var section = ""
        var sections: Set<String> = []
        var lineNumber = 0
        // Split on bytes: "\r\n" is a single Character in Swift, so a Character split would miss CRLF lines.
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var scanner = Scanner(line: Array(rawLine), number: lineNumber)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                section = try scanner.parseSectionHeader()
                guard sections.insert(section).inserted else {
                    throw TOMLError(kind: .duplicateKey, line: lineNumber, message: "section [\(section)] repeated")
                }
                continue
            }
            let key = try scanner.parseKey()
            scanner.skipSpaces()
            try scanner.expect(UInt8(ascii: "="))
            scanner.skipSpaces()
            let value = try scanner.parseValue()
            try scanner.expectEndOfLine()
            let path = section.isEmpty ? key : section + "." + key
            guard result[path] == nil else {
                throw TOMLError(kind: .duplicateKey, line: lineNumber, message: "key \(path) set twice")
            }
            result[path] = value
        }
        return result
    }
}

/// A cursor over one line's bytes.
private struct Scanner {
    var line: [UInt8]
    var number: Int
    var position = 0

    init(line: [UInt8], number: Int) {
        // Tolerate CRLF files.
        self.line = line.last == UInt8(ascii: "\r") ? Array(line.dropLast()) : line
        self.number = number
    }

    var peek: UInt8? { position < line.count ? line[position] : nil }
    var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }

    func error(_ kind: TOMLError.Kind, _ message: String) -> TOMLError {
        TOMLError(kind: kind, line: number, message: message)
    }

    mutating func skipSpaces() {
        while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { position += 1 }
    }

    mutating func expect(_ byte: UInt8) throws(TOMLError) {
        guard peek == byte else {
            throw error(.syntax, "expected '\(Character(Unicode.Scalar(byte)))' at column \(position + 1)")
        }
        position += 1
    }

    mutating func expectEndOfLine() throws(TOMLError) {
        skipSpaces()
        guard atEndOrComment else { throw error(.syntax, "unexpected text after value at column \(position + 1)") }
    }

    static func isBareKeyByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    /// A dotted key of bare segments: `a`, `a.b`.
    mutating func parseKey() throws(TOMLError) -> String {
        var segments: [String] = []
        while true {
            skipSpaces()
            let start = position
            while let c = peek, Scanner.isBareKeyByte(c) { position += 1 }
            guard position > start else {
                if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") {
                    throw error(.unsupported, "quoted keys are not supported")
                }
                throw error(.syntax, "expected a key at column \(position + 1)")
            }
            segments.append(String(decoding: line[start..<position], as: UTF8.self))
            skipSpaces()
            guard peek == UInt8(ascii: ".") else { break }
            position += 1
        }
        let key = segments.joined(separator: ".")
        guard key.count <= TOMLParser.keyCharactersMax else { throw error(.tooLarge, "key too long") }
        return key
    }

    mutating func parseSectionHeader() throws(TOMLError) -> String {
        try expect(UInt8(ascii: "["))
        if peek == UInt8(ascii: "[") { throw error(.unsupported, "arrays of tables ([[...]]) are not supported") }
        let key = try parseKey()
        try expect(UInt8(ascii: "]"))
        try expectEndOfLine()
        return key
    }

    mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let c = peek else { throw error(.syntax, "missing value") }
        switch c {
        case UInt8(ascii: "\""): return .string(try parseBasicString())
        case UInt8(ascii: "'"): return .string(try parseLiteralString())
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "{"): throw error(.unsupported, "inline tables are not supported")
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean(try parseBoolean())
        default: return .integer(try parseInteger())
        }
    }

    mutating func parseBasicString() throws(TOMLError) -> String {
        try expect(UInt8(ascii: "\""))
        if peek == UInt8(ascii: "\""), position + 1 < line.count, line[position + 1] == UInt8(ascii: "\"") {
            throw error(.unsupported, "multi-line strings are not supported")
        }
        var bytes: [UInt8] = []
        while let c = peek {
            position += 1
            if c == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
            guard c == UInt8(ascii: "\\") else {
                guard c >= 0x20 || c == UInt8(ascii: "\t") else { throw error(.syntax, "control character in string") }
                bytes.append(c)
                continue
            }
            guard let escaped = peek else { break }
            position += 1
            switch escaped {
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "n"): bytes.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "t"): bytes.append(UInt8(ascii: "\t"))
            default: throw error(.unsupported, "escape \\\(Character(Unicode.Scalar(escaped))) is not supported")
            }
        }
        throw error(.syntax, "unterminated string")
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        try expect(UInt8(ascii: "'"))
        let start = position
        while let c = peek {
            if c == UInt8(ascii: "'") {
                let value = String(decoding: line[start..<position], as: UTF8.self)
                position += 1
                return value
            }
            position += 1
        }
        throw error(.syntax, "unterminated literal string")
    }

    mutating func parseBoolean() throws(TOMLError) -> Bool {
        let rest = line[position...]
        if rest.starts(with: Array("true".utf8)) {
            position += 4
            return true
        }
        if rest.starts(with: Array("false".utf8)) {
            position += 5
            return false
        }
        throw error(.syntax, "expected true or false at column \(position + 1)")
    }

    mutating func parseInteger() throws(TOMLError) -> Int64 {
        var negative = false
        if peek == UInt8(ascii: "-") || peek == UInt8(ascii: "+") {
            negative = peek == UInt8(ascii: "-")
            position += 1
        }
        var value: Int64 = 0
        var digits = 0
        var previousUnderscore = false
        while let c = peek {
            if c == UInt8(ascii: "_"), digits > 0, !previousUnderscore {
                previousUnderscore = true
                position += 1
                continue
            }
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { break }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw error(.syntax, "integer out of range") }
            value = s
            digits += 1
            previousUnderscore = false
            position += 1
        }
        guard digits > 0, !previousUnderscore else {
            throw error(.syntax, "expected a value at column \(position + 1)")
        }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            throw error(.unsupported, "floats are not supported")
        }
        if let c = peek, Scanner.isBareKeyByte(c) || c == UInt8(ascii: ":") {
            throw error(.unsupported, "unsupported value (dates, hex and bare words are not accepted)")
        }
        return negative ? -value : value
    }

    mutating func parseArray() throws(TOMLError) -> TOMLValue {
        try expect(UInt8(ascii: "["))
        var items: [TOMLValue] = []
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            guard peek != nil, peek != UInt8(ascii: "#") else {
                throw error(.unsupported, "arrays must be closed on the line they open")
            }
            let item = try parseValue()
            if case .array = item { throw error(.unsupported, "nested arrays are not supported") }
            items.append(item)
            skipSpaces()
            if peek == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard peek == UInt8(ascii: "]") else {
                throw error(.syntax, "expected ',' or ']' at column \(position + 1)")
            }
        }
    }
}
