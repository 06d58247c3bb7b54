import SkiffLog
import SkiffRaft
import SkiffStore
import Testing

@Suite struct StateStoreTests {
    /// The statement caches (recently used, then by SQL text, flushed when full) always run the statement whose
    /// SQL was given: many distinct statements interleaved with a repeated one, past the cache bound, each give
    /// their own result.
    @Test func preparedStatementCachesRunTheRightStatement() throws {
        let directory = try TempDirectory()
        let store = try StateStore.open(path: directory.path + "/state.db")
        defer { store.close() }
        for round in 0..<(StateStore.preparedStatementCountMax * 2 + 3) {
            #expect(try store.query("SELECT ? + \(round)", [.integer(1)]) == [[.integer(Int64(round) + 1)]])
            #expect(try store.query("SELECT ? * 2", [.integer(Int64(round))]) == [[.integer(Int64(round) * 2)]])
            #expect(try store.query("SELECT ? + \(round % 3)", [.integer(0)]) == [[.integer(Int64(round % 3))]])
        }
    }

    /// A checkpoint's statements and its applied index commit together and are read back after reopening.
    @Test func checkpointRoundTrip() throws {
        let directory = try TempDirectory()
        let path = directory.path + "/state.db"
        let store = try StateStore.open(path: path)
        try store.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        #expect(try store.appliedIndex == LogIndex(0))
        try store.checkpoint(
            appliedIndex: LogIndex(42), term: Term(3), membership: [1, 2, 3],
            statements: [
                SQLStatement("INSERT INTO messages (id, body) VALUES (?, ?)", [.integer(1), .blob([9, 9])]),
                SQLStatement("INSERT INTO messages (id, body) VALUES (?, ?)", [.integer(2), .blob([8])]),
            ])
        store.close()
        let reopened = try StateStore.open(path: path)
        #expect(
            try reopened.checkpointMeta()
                == CheckpointMeta(appliedIndex: LogIndex(42), term: Term(3), membership: [1, 2, 3]))
        #expect(
            try reopened.query("SELECT id, body FROM messages ORDER BY id") == [
                [.integer(1), .blob([9, 9])], [.integer(2), .blob([8])],
            ])
        reopened.close()
    }

    /// A failing statement rolls back the whole checkpoint, applied index included.
    @Test func checkpointIsAtomic() throws {
        let directory = try TempDirectory()
        let store = try StateStore.open(path: directory.path + "/state.db")
        try store.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        #expect(throws: StoreError.self) {
            try store.checkpoint(
                appliedIndex: LogIndex(5), term: Term(1), membership: [],
                statements: [SQLStatement("INSERT INTO t VALUES (1)"), SQLStatement("INSERT INTO t VALUES (1)")])
        }
        #expect(try store.appliedIndex == LogIndex(0))
        #expect(try store.query("SELECT COUNT(*) FROM t") == [[.integer(0)]])
        store.close()
    }
}
