import SkiffBroker

/// An in-memory stand-in for the broker's SQLite checkpoint tables: it executes the statements of
/// `BrokerStateMachine.takeCheckpointDelta()` and answers the SELECTs of `BrokerStateMachine.restore(query:)`.
/// Each table is keyed by its first column, as the real schema's primary keys are.
struct BrokerTable: Equatable {
    struct BadStatement: Error, CustomStringConvertible {
        var description: String
    }

    /// Table name -> primary key -> full row (columns in schema order).
    private(set) var tables: [String: [StoreValue: [StoreValue]]] = [:]
    /// The decoded payload rows (what `PayloadSource` serves).
    private(set) var payloads: [UInt64: Payload] = [:]

    static let tableNames = ["broker_meta", "broker_messages", "broker_records", "broker_payloads"]

    /// Executes one checkpoint transaction.
    mutating func execute(_ statements: [StoreStatement]) throws {
        for statement in statements {
            let words = statement.sql.split(whereSeparator: { $0 == " " || $0 == "(" })
            guard let first = words.first, let key = statement.bindings.first else {
                throw BadStatement(description: "empty statement \(statement.sql)")
            }
            if first == "INSERT", words.count > 4, words[1] == "OR", words[2] == "REPLACE", words[3] == "INTO" {
                let table = String(words[4])
                guard Self.tableNames.contains(table) else { throw BadStatement(description: statement.sql) }
                tables[table, default: [:]][key] = statement.bindings
                if table == "broker_payloads" { try notePayload(statement.bindings) }
            } else if first == "DELETE", words.count > 2, words[1] == "FROM" {
                let table = String(words[2])
                guard Self.tableNames.contains(table) else { throw BadStatement(description: statement.sql) }
                tables[table]?[key] = nil
                if table == "broker_payloads", case .int(let seq) = key { payloads[UInt64(bitPattern: seq)] = nil }
            } else {
                throw BadStatement(description: "unsupported statement \(statement.sql)")
            }
        }
    }

    private mutating func notePayload(_ row: [StoreValue]) throws {
        guard row.count == 2, case .int(let seq) = row[0], case .blob(let bytes) = row[1] else {
            throw BadStatement(description: "payload row shape")
        }
        payloads[UInt64(bitPattern: seq)] = try Payload.decode(bytes)
    }

    /// Answers `SELECT ... FROM <table> ORDER BY <first column>`: every row, ordered by primary key.
    func query(_ sql: String) throws -> [[StoreValue]] {
        let words = sql.split(separator: " ")
        guard let from = words.firstIndex(of: "FROM"), from + 1 < words.count else {
            throw BadStatement(description: "unsupported query \(sql)")
        }
        let rows = tables[String(words[from + 1])] ?? [:]
        return rows.keys.sorted(by: Self.ordered).map { rows[$0]! }
    }

    private static func ordered(_ lhs: StoreValue, _ rhs: StoreValue) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a < b
        case (.text(let a), .text(let b)): return a < b
        default: return false
        }
    }

    /// A Sendable, immutable view of the payloads for the broker's `payloadSource`.
    var payloadSource: TablePayloads { TablePayloads(payloads: payloads) }
}

/// Serves checkpointed payloads from a copy of the table (copy-on-write, so cheap until the next checkpoint).
struct TablePayloads: PayloadSource {
    let payloads: [UInt64: Payload]
    func payload(for sequence: MessageSeq) -> Payload? { payloads[sequence.rawValue] }
}

/// The byte form of the tables, carried inside the simulator's Raft snapshots.
extension BrokerTable {
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        for name in Self.tableNames {
            let rows = tables[name] ?? [:]
            appendWord(&bytes, UInt64(rows.count))
            for key in rows.keys.sorted(by: Self.ordered) {
                let row = rows[key]!
                appendWord(&bytes, UInt64(row.count))
                for value in row { Self.encode(value, into: &bytes) }
            }
        }
        return bytes
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = WordReader(bytes: bytes)
        for name in Self.tableNames {
            let count = try reader.word()
            for _ in 0..<count {
                let columns = try reader.word()
                guard columns > 0, columns <= 8 else { throw BadStatement(description: "row of \(columns) columns") }
                var row: [StoreValue] = []
                for _ in 0..<columns { row.append(try Self.decode(&reader)) }
                tables[name, default: [:]][row[0]] = row
                if name == "broker_payloads" { try notePayload(row) }
            }
        }
        guard reader.atEnd else { throw BadStatement(description: "trailing bytes in table image") }
    }

    private static func encode(_ value: StoreValue, into bytes: inout [UInt8]) {
        switch value {
        case .null: bytes.append(0)
        case .int(let number):
            bytes.append(1)
            appendWord(&bytes, UInt64(bitPattern: number))
        case .real(let number):
            bytes.append(2)
            appendWord(&bytes, number.bitPattern)
        case .text(let text):
            bytes.append(3)
            appendWord(&bytes, UInt64(text.utf8.count))
            bytes += text.utf8
        case .blob(let blob):
            bytes.append(4)
            appendWord(&bytes, UInt64(blob.count))
            bytes += blob
        }
    }

    private static func decode(_ reader: inout WordReader) throws -> StoreValue {
        switch try reader.byte() {
        case 0: return .null
        case 1: return .int(Int64(bitPattern: try reader.word()))
        case 2: return .real(Double(bitPattern: try reader.word()))
        case 3: return .text(String(decoding: try reader.bytes(Int(try reader.word())), as: UTF8.self))
        case 4: return .blob(try reader.bytes(Int(try reader.word())))
        case let tag: throw BadStatement(description: "unknown value tag \(tag)")
        }
    }
}

func appendWord(_ bytes: inout [UInt8], _ word: UInt64) {
    for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
}

/// Reads little-endian words and byte strings, throwing on truncation.
struct WordReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw BrokerTable.BadStatement(description: "truncated at \(offset)") }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func word() throws -> UInt64 {
        let raw = try self.bytes(8)
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(raw[$1]) << (8 * UInt64($1)) }
    }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= bytes.count - offset else {
            throw BrokerTable.BadStatement(description: "truncated: \(count) bytes at \(offset)")
        }
        offset += count
        return Array(bytes[(offset - count)..<offset])
    }
}
