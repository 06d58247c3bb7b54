import SkiffLog
import SkiffRaft
import SkiffStore
import Testing

@Suite struct SnapshotTests {
    /// Builds a store with enough rows to span many chunks.
    static func populatedStore(at path: String) throws -> StateStore {
        let store = try StateStore.open(path: path)
        try store.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body BLOB NOT NULL)")
        let inserts = (1...400).map { id in
            SQLStatement(
                "INSERT INTO messages (id, queue, body) VALUES (?, ?, ?)",
                [.integer(Int64(id)), .text("q\(id % 7)"), .blob((0..<300).map { UInt8(truncatingIfNeeded: $0 * id) })])
        }
        try store.checkpoint(appliedIndex: LogIndex(1234), term: Term(5), membership: [1, 0, 2], statements: inserts)
        return store
    }

    /// Snapshot round trip: create with VACUUM INTO, stream in chunks with one chunk corrupted in transit
    /// (rejected, then resent), install atomically, and the installed database has identical contents and
    /// checkpoint metadata.
    @Test func roundTripWithCorruptedChunkRetried() throws {
        let directory = try TempDirectory()
        let source = try Self.populatedStore(at: directory.path + "/leader.db")
        let metadata = try source.createSnapshot(at: directory.path + "/snap.db")
        #expect(metadata.lastIndex == LogIndex(1234) && metadata.term == Term(5) && metadata.membership == [1, 0, 2])
        #expect(try SnapshotMetadata.decode(metadata.encode()) == metadata)

        let reader = try SnapshotReader(path: directory.path + "/snap.db", metadata: metadata, chunkBytes: 8192)
        let writer = try SnapshotWriter(metadata: metadata, tempPath: directory.path + "/incoming.tmp")
        var corrupted = false
        var retries = 0
        while !writer.isComplete {
            var chunk = try reader.chunk(at: writer.nextOffset)
            if !corrupted && chunk.offset >= 16384 {
                corrupted = true
                chunk.bytes[100] ^= 0x40
                #expect(throws: StoreError(.chunkCorrupted(offset: chunk.offset), context: writer.tempPath)) {
                    try writer.accept(chunk)
                }
                retries += 1
                continue
            }
            try writer.accept(chunk)
        }
        #expect(retries == 1)
        #expect(throws: StoreError.self) {
            try writer.accept(SnapshotChunk(offset: 0, bytes: [1], checksum: CRC32C.checksum(of: [1]), isLast: false))
        }

        let followerPath = directory.path + "/follower.db"
        let follower = try StateStore.open(path: followerPath)
        try follower.execute("CREATE TABLE stale (x INTEGER)")
        follower.close()
        try writer.install(at: followerPath)
        let installed = try StateStore.open(path: followerPath)
        #expect(try installed.checkpointMeta() == source.checkpointMeta())
        let query = "SELECT id, queue, body FROM messages ORDER BY id"
        #expect(try installed.query(query) == source.query(query))
        #expect(try installed.query("SELECT name FROM sqlite_master WHERE name = 'stale'").isEmpty)
        installed.close()
        source.close()
    }

    /// A writer refuses to install an incomplete transfer or one whose whole-file checksum differs.
    @Test func incompleteOrMismatchedSnapshotIsNotInstalled() throws {
        let directory = try TempDirectory()
        let source = try Self.populatedStore(at: directory.path + "/leader.db")
        let metadata = try source.createSnapshot(at: directory.path + "/snap.db")
        source.close()
        let reader = try SnapshotReader(path: directory.path + "/snap.db", metadata: metadata, chunkBytes: 4096)
        let writer = try SnapshotWriter(metadata: metadata, tempPath: directory.path + "/incoming.tmp")
        try writer.accept(try reader.chunk(at: 0))
        #expect(throws: StoreError.self) { try writer.install(at: directory.path + "/target.db") }
        var wrong = metadata
        wrong.checksum ^= 1
        let badWriter = try SnapshotWriter(metadata: wrong, tempPath: directory.path + "/incoming2.tmp")
        while !badWriter.isComplete { try badWriter.accept(try reader.chunk(at: badWriter.nextOffset)) }
        #expect(throws: StoreError.self) { try badWriter.install(at: directory.path + "/target.db") }
    }

    /// Installing over a database whose store is still open (non-empty WAL) is refused.
    @Test func installRefusesAnOpenDatabase() throws {
        let directory = try TempDirectory()
        let source = try Self.populatedStore(at: directory.path + "/leader.db")
        let metadata = try source.createSnapshot(at: directory.path + "/snap.db")
        let reader = try SnapshotReader(path: directory.path + "/snap.db", metadata: metadata)
        let writer = try SnapshotWriter(metadata: metadata, tempPath: directory.path + "/incoming.tmp")
        while !writer.isComplete { try writer.accept(try reader.chunk(at: writer.nextOffset)) }
        try source.run("INSERT INTO messages (id, queue, body) VALUES (9999, 'x', x'00')")
        #expect {
            try writer.install(at: directory.path + "/leader.db")
        } throws: { error in
            guard let error = error as? StoreError, case .databaseInUse = error.kind else { return false }
            return true
        }
        source.close()
    }
}

@Suite struct PayloadCacheTests {
    /// The cache never holds more than its byte bound, evicts the least recently used payload first, and
    /// `fetch` loads a miss once.
    @Test func boundedByBytesLRU() {
        let cache = PayloadCache<Int>(bytesMax: 1000)
        for key in 0..<10 { cache.put(key, [UInt8](repeating: UInt8(key), count: 300)) }
        #expect(cache.bytes <= 1000)
        #expect(cache.get(9) != nil && cache.get(8) != nil && cache.get(7) != nil)
        #expect(cache.get(0) == nil)
        _ = cache.get(7)
        cache.put(10, [UInt8](repeating: 10, count: 300))
        #expect(cache.get(9) == nil && cache.get(7) != nil && cache.get(8) != nil)
        var loads = 0
        for _ in 0..<3 {
            let value = cache.fetch(42) {
                loads += 1
                return [4, 2]
            }
            #expect(value == [4, 2])
        }
        #expect(loads == 1)
        cache.put(99, [UInt8](repeating: 0, count: 5000))
        #expect(cache.get(99) == nil && cache.bytes <= 1000)
    }
}

@Suite struct SnapshotMetadataTests {
    /// Metadata survives encoding, and any single flipped bit or cut is rejected by its checksum or length.
    @Test func encodingDetectsDamage() throws {
        let metadata = SnapshotMetadata(
            lastIndex: LogIndex(77), term: Term(3), membership: [1, 2, 3, 4], byteCount: 4096, checksum: 0xDEAD_BEEF)
        let bytes = metadata.encode()
        #expect(try SnapshotMetadata.decode(bytes) == metadata)
        for position in bytes.indices {
            var damaged = bytes
            damaged[position] ^= 0x10
            #expect(throws: StoreError.self) { try SnapshotMetadata.decode(damaged) }
        }
        #expect(throws: StoreError.self) { try SnapshotMetadata.decode(Array(bytes.dropLast())) }
    }
}
