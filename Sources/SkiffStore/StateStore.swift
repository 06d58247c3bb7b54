import CSQLite
import SkiffLog
import SkiffRaft

/// The SQLite state store (WAL mode, `synchronous=FULL`): the broker's checkpointed state.
///
/// Generic: the broker owns its tables and hands over SQL with bindings; the store adds the checkpoint
/// metadata (`applied_index`, term, membership) and snapshots. Thread-safe through one lock around the
/// single connection.
public final class StateStore: @unchecked Sendable {
    /// The table holding the checkpoint metadata (one row).
    public static let metaTable = "skiff_checkpoint"
    /// How long SQLite waits on a lock held by another connection (milliseconds).
    public static let busyTimeoutMs: Int32 = 5_000

    /// Bound on cached prepared statements (the broker uses a handful of distinct SQL strings).
    public static let preparedStatementCountMax = 128

    /// The database file.
    public let path: String
    let lock = StorageLock()
    var handle: OpaquePointer?
    /// Prepared statements by SQL text, reused across calls. Guarded by `lock`.
    var prepared: [String: OpaquePointer] = [:]
    /// The statements used last, most recent last, looked up before `prepared`: a checkpoint alternates between a
    /// few statements, and comparing their SQL text is cheaper than hashing it. Holds no statement that is not in
    /// `prepared` (which owns and finalizes them). Guarded by `lock`.
    var recent: [(sql: String, statement: OpaquePointer)] = []
    /// Bound on `recent`.
    static let recentStatementCount = 4

    private init(path: String, handle: OpaquePointer) {
        self.path = path
        self.handle = handle
    }

    deinit {
        for statement in prepared.values { sqlite3_finalize(statement) }
        if let handle { sqlite3_close_v2(handle) }
    }

    /// Opens (creating if needed) the database at `path` in WAL mode with `synchronous=FULL`.
    public static func open(path: String) throws -> StateStore {
        var raw: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &raw, flags, nil)
        guard status == SQLITE_OK, let handle = raw else {
            let message = raw.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let raw { sqlite3_close_v2(raw) }
            throw StoreError(.sqlite(code: status, message: message), context: path)
        }
        let store = StateStore(path: path, handle: handle)
        sqlite3_busy_timeout(handle, busyTimeoutMs)
        try store.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS \(metaTable) (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                applied_index INTEGER NOT NULL,
                term INTEGER NOT NULL,
                membership BLOB NOT NULL
            );
            INSERT OR IGNORE INTO \(metaTable) (id, applied_index, term, membership) VALUES (1, 0, 0, x'');
            """)
        let mode = try store.query("PRAGMA journal_mode")
        guard mode.first?.first?.text?.lowercased() == "wal" else {
            throw StoreError(.sqlite(code: SQLITE_ERROR, message: "WAL mode refused: \(mode)"), context: path)
        }
        return store
    }

    /// Checkpoints the write-ahead log into the database and closes it. Further calls throw `.closed`.
    public func close() {
        lock.withLock {
            guard let handle else { return }
            for statement in prepared.values { sqlite3_finalize(statement) }
            prepared.removeAll()
            recent.removeAll()
            sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    /// Runs one or more statements without bindings (schema, pragmas).
    public func execute(_ sql: String) throws {
        try lock.withLock {
            let db = try open()
            var error: UnsafeMutablePointer<CChar>?
            let status = sqlite3_exec(db, sql, nil, nil, &error)
            guard status == SQLITE_OK else {
                let message = error.map { String(cString: $0) } ?? "error \(status)"
                sqlite3_free(error)
                throw StoreError(.sqlite(code: status, message: message), context: sql)
            }
        }
    }

    /// Runs one statement and returns its rows.
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws -> [[SQLValue]] {
        try lock.withLock { try runLocked(SQLStatement(sql, bindings)) }
    }

    /// Runs one statement for its effect; returns the number of rows changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLValue] = []) throws -> Int {
        try lock.withLock {
            _ = try runLocked(SQLStatement(sql, bindings))
            return Int(sqlite3_changes(try open()))
        }
    }

    /// Runs statements in one transaction (all or nothing).
    public func transaction(_ statements: [SQLStatement]) throws {
        try lock.withLock { try transactionLocked(statements) }
    }

    func open() throws -> OpaquePointer {
        guard let handle else { throw StoreError(.closed, context: path) }
        return handle
    }

    func transactionLocked(_ statements: [SQLStatement]) throws {
        try transactionLocked {
            for statement in statements { _ = try runLocked(statement) }
        }
    }

    /// Runs `body` (which runs statements with `runLocked`) in one transaction: all or nothing. MUST hold the
    /// lock.
    func transactionLocked(_ body: () throws -> Void) throws {
        _ = try runLocked(SQLStatement("BEGIN IMMEDIATE"))
        do {
            try body()
            _ = try runLocked(SQLStatement("COMMIT"))
        } catch {
            _ = try? runLocked(SQLStatement("ROLLBACK"))
            throw error
        }
    }

    /// Binds and steps one (cached) prepared statement to completion. MUST be called with the lock held.
    func runLocked(_ statement: SQLStatement) throws -> [[SQLValue]] {
        let db = try open()
        let prepared = try preparedStatement(statement.sql, db)
        defer {
            sqlite3_reset(prepared)
            sqlite3_clear_bindings(prepared)
        }
        for (position, value) in statement.bindings.enumerated() {
            let bound = bind(value, to: prepared, at: Int32(position + 1))
            guard bound == SQLITE_OK else { throw failure(db, bound, statement.sql) }
        }
        var rows: [[SQLValue]] = []
        while true {
            let step = sqlite3_step(prepared)
            if step == SQLITE_DONE { return rows }
            guard step == SQLITE_ROW else { throw failure(db, step, statement.sql) }
            rows.append(readRow(prepared))
        }
    }

    /// The cached prepared statement for `sql`, preparing it on first use.
    private func preparedStatement(_ sql: String, _ db: OpaquePointer) throws -> OpaquePointer {
        if let hit = recent.lastIndex(where: { $0.sql == sql }) { return recent[hit].statement }
        let statement = try cachedStatement(sql, db)
        if recent.count >= Self.recentStatementCount { recent.removeFirst() }
        recent.append((sql, statement))
        return statement
    }

    /// The statement for `sql` from `prepared`, preparing it on first use.
    private func cachedStatement(_ sql: String, _ db: OpaquePointer) throws -> OpaquePointer {
        if let cached = prepared[sql] { return cached }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw failure(db, status, sql)
        }
        if prepared.count >= Self.preparedStatementCountMax {
            for old in prepared.values { sqlite3_finalize(old) }
            prepared.removeAll()
            recent.removeAll()
        }
        prepared[sql] = statement
        return statement
    }

    private func bind(_ value: SQLValue, to statement: OpaquePointer, at position: Int32) -> Int32 {
        // SQLITE_TRANSIENT: SQLite copies the bytes, so Swift storage need not outlive the call.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        switch value {
        case .null: return sqlite3_bind_null(statement, position)
        case .integer(let number): return sqlite3_bind_int64(statement, position, number)
        case .real(let number): return sqlite3_bind_double(statement, position, number)
        case .text(let string): return sqlite3_bind_text(statement, position, string, -1, transient)
        case .blob(let bytes):
            return bytes.withUnsafeBytes {
                sqlite3_bind_blob(
                    statement, position, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), transient)
            }
        }
    }

    private func readRow(_ statement: OpaquePointer) -> [SQLValue] {
        (0..<sqlite3_column_count(statement)).map { column in
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
            case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(statement, column)))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(statement, column))
                guard count > 0, let base = sqlite3_column_blob(statement, column) else { return .blob([]) }
                return .blob([UInt8](UnsafeRawBufferPointer(start: base, count: count)))
            default: return .null
            }
        }
    }

    private func failure(_ db: OpaquePointer, _ status: Int32, _ sql: String) -> StoreError {
        StoreError(.sqlite(code: status & 0xFF, message: String(cString: sqlite3_errmsg(db))), context: sql)
    }
}
