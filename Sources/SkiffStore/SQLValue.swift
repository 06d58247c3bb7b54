/// A SQLite value, as bound to a statement or read from a row.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The integer, or nil for any other type.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text, or nil for any other type.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The blob, or nil for any other type.
    public var blob: [UInt8]? {
        if case .blob(let value) = self { return value }
        return nil
    }

    /// The real, or nil for any other type.
    public var real: Double? {
        if case .real(let value) = self { return value }
        return nil
    }
}

/// One SQL statement with its positional (`?`) bindings.
public struct SQLStatement: Sendable, Hashable {
    public var sql: String
    public var bindings: [SQLValue]

    public init(_ sql: String, _ bindings: [SQLValue] = []) {
        self.sql = sql
        self.bindings = bindings
    }
}

/// A SQLite or snapshot failure.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// SQLite returned an error code (the primary result code, e.g. 13 for SQLITE_FULL).
        case sqlite(code: Int32, message: String)
        /// The store was closed.
        case closed
        /// A snapshot chunk's checksum does not match its bytes: ask for the chunk again.
        case chunkCorrupted(offset: UInt64)
        /// A chunk arrived for another offset than the one expected (resume from `expected`).
        case unexpectedOffset(expected: UInt64, got: UInt64)
        /// The assembled snapshot does not match its metadata (size or whole-file checksum).
        case snapshotMismatch(String)
        /// The snapshot's metadata bytes do not decode.
        case badMetadata(String)
        /// Installing over a database that was not closed cleanly (its write-ahead log is not empty).
        case databaseInUse(String)
        /// A file operation failed.
        case file(String)
        /// The database was written by a newer format than this build reads (`PRAGMA user_version`).
        case unsupportedSchemaVersion(found: Int64, supported: Int64)
    }

    public var kind: Kind
    /// The SQL or the path involved, if any.
    public var context: String

    public init(_ kind: Kind, context: String = "") {
        self.kind = kind
        self.context = context
    }

    public var description: String { context.isEmpty ? "\(kind)" : "\(kind) [\(context)]" }
}
