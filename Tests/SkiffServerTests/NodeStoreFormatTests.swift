import Foundation
import SkiffBroker
import SkiffLog
import SkiffRaft
import SkiffStore
import Testing

@testable import SkiffServer

/// The on-disk format of `state.db`: compressed payload rows and the schema version.
@Suite struct NodeStoreFormatTests {
    typealias Support = NodeStoreCheckpointTests

    /// A 1 KiB body like the bench's (bytes `i % 251`), which LZ4 shrinks well.
    static func largePayload(_ seq: UInt64) -> Payload {
        Payload(
            id: "m-\(seq)", body: (0..<1024).map { UInt8(truncatingIfNeeded: ($0 + Int(seq)) % 251) }, headers: [],
            key: nil)
    }

    static func largeRows(_ seqs: [UInt64]) -> (_ emit: (StoreStatement) throws -> Void) throws -> Void {
        { emit in
            for seq in seqs {
                try emit(
                    StoreStatement(
                        sql: BrokerStateMachine.upsertPayloadSQL,
                        bindings: [.int(Int64(seq)), .blob(largePayload(seq).encoded())]))
            }
        }
    }

    static func storedPayload(_ store: NodeStore, _ seq: UInt64) throws -> [UInt8]? {
        let probe = try StateStore.open(path: store.databasePath)
        defer { probe.close() }
        return try probe.query("SELECT payload FROM broker_payloads WHERE seq = ?", [.integer(Int64(seq))])
            .first?.first?.blob
    }

    /// A checkpoint stores a compressible payload as a smaller LZ4 frame, and every read path (fresh read,
    /// read-ahead, after a restart) gives the original payload back.
    @Test func payloadRowsAreCompressedAndReadBack() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let seqs = Array(UInt64(1)...UInt64(80))
        _ = try store.checkpoint(
            rows: Self.largeRows(seqs), metadata: Support.metadata(3), generation: store.currentGeneration(),
            snapshot: false)
        let stored = try #require(try Self.storedPayload(store, 5))
        #expect(stored.first == RowCompression.compressedTag)
        #expect(stored.count < Self.largePayload(5).encoded().count / 2)
        for seq in seqs { #expect(store.payload(for: MessageSeq(seq)) == Self.largePayload(seq)) }
        #expect(store.payloads.stats.misses == 2, "read-ahead decoded the compressed rows")
        store.close()
        let reopened = try NodeStore(directory: directory.path)
        defer { reopened.close() }
        #expect(reopened.payload(for: MessageSeq(77)) == Self.largePayload(77))
    }

    /// The batched read of a receive (`payloads(for:)`) decodes compressed payload rows too, not just raw ones:
    /// without it every compressed row would fall back to a single read.
    @Test func batchedReadsDecodeCompressedRows() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let seqs = Array(UInt64(1)...UInt64(40))
        _ = try store.checkpoint(
            rows: Self.largeRows(seqs), metadata: Support.metadata(3), generation: store.currentGeneration(),
            snapshot: false)
        #expect(try Self.storedPayload(store, 7)?.first == RowCompression.compressedTag)
        let asked = seqs.filter { $0 % 3 != 0 }
        let batch = store.payloads(for: asked.map { MessageSeq($0) })
        #expect(batch == asked.map { Self.largePayload($0) })
    }

    /// Delta statements become SQL as they are, except payload upserts, whose compressible payloads are bound as
    /// LZ4 frames that `decodeStoredPayload` reads back; incompressible payloads stay raw. The byte count the WAL
    /// slices use is what is bound after compression.
    @Test func onlyPayloadRowsAreCompressed() throws {
        let compressor = RowCompression.Compressor()
        let large = Self.largePayload(3).encoded()
        let (payload, payloadBytes) = NodeStore.sqlStatement(
            StoreStatement(sql: BrokerStateMachine.upsertPayloadSQL, bindings: [.int(3), .blob(large)]), compressor)
        let stored = try #require(payload.bindings.last?.blob)
        #expect(stored.first == RowCompression.compressedTag)
        #expect(payloadBytes == MemoryLayout<Int64>.size + stored.count)
        #expect(NodeStore.decodeStoredPayload(stored) == Self.largePayload(3))

        var noise: UInt64 = 0x2545_F491_4F6C_DD1D
        let randomBody = (0..<1024).map { _ -> UInt8 in
            noise ^= noise << 13
            noise ^= noise >> 7
            noise ^= noise << 17
            return UInt8(truncatingIfNeeded: noise)
        }
        let random = Payload(id: "r", body: randomBody, headers: [], key: nil)
        let (raw, _) = NodeStore.sqlStatement(
            StoreStatement(sql: BrokerStateMachine.upsertPayloadSQL, bindings: [.int(4), .blob(random.encoded())]),
            compressor)
        #expect(raw.bindings.last?.blob == random.encoded())
        #expect(NodeStore.decodeStoredPayload(random.encoded()) == random)

        let meta = StoreStatement(
            sql: "INSERT OR REPLACE INTO broker_meta(key, value) VALUES (?, ?)",
            bindings: [
                .text("q/1"), .blob(large),
            ])
        let (metaSQL, metaBytes) = NodeStore.sqlStatement(meta, compressor)
        #expect(metaSQL.bindings.last?.blob == large)
        #expect(metaBytes == 3 + large.count)
    }

    /// A new database records the current schema version; a file from before versioning (user_version 0, raw
    /// payload rows) opens, is upgraded in place, and its raw rows stay readable next to new compressed ones.
    @Test func oldDatabaseIsUpgradedAndStaysReadable() throws {
        let directory = try TemporaryDataDirectory()
        let path = directory.path + "/state.db"
        do {
            let old = try StateStore.open(path: path)
            for statement in BrokerStateMachine.schema { try old.execute(statement) }
            try old.run(
                "INSERT INTO broker_payloads(seq, payload) VALUES (?, ?)",
                [.integer(1), .blob(Self.largePayload(1).encoded())])
            old.close()
        }
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let probe = try StateStore.open(path: path)
        defer { probe.close() }
        #expect(try probe.query("PRAGMA user_version").first?.first?.integer == NodeStore.schemaVersion)
        _ = try store.checkpoint(
            rows: Self.largeRows([2]), metadata: Support.metadata(2), generation: store.currentGeneration(),
            snapshot: false)
        #expect(try Self.storedPayload(store, 1)?.first == 1)
        #expect(try Self.storedPayload(store, 2)?.first == RowCompression.compressedTag)
        #expect(store.payload(for: MessageSeq(1)) == Self.largePayload(1))
        #expect(store.payload(for: MessageSeq(2)) == Self.largePayload(2))
    }

    /// A database written by a newer format is refused with `unsupportedSchemaVersion`, not misread.
    @Test func newerDatabaseIsRefused() throws {
        let directory = try TemporaryDataDirectory()
        do {
            let newer = try StateStore.open(path: directory.path + "/state.db")
            try newer.execute("PRAGMA user_version = \(NodeStore.schemaVersion + 1)")
            newer.close()
        }
        #expect {
            _ = try NodeStore(directory: directory.path)
        } throws: { error in
            (error as? StoreError)?.kind
                == .unsupportedSchemaVersion(found: NodeStore.schemaVersion + 1, supported: NodeStore.schemaVersion)
        }
    }

    /// A snapshot keeps the compressed rows and the schema version: installed on another node it gives the same
    /// payloads. A snapshot of a newer format is refused before it replaces the database.
    @Test func snapshotInstallChecksTheSchemaVersion() throws {
        let sourceDirectory = try TemporaryDataDirectory()
        let source = try NodeStore(directory: sourceDirectory.path)
        defer { source.close() }
        guard
            case .written(let file?) = try source.checkpoint(
                rows: Self.largeRows([1, 2, 3]), metadata: Support.metadata(9), generation: source.currentGeneration(),
                snapshot: true)
        else {
            Issue.record("no snapshot file")
            return
        }
        let (stream, done) = try source.readSnapshotChunk(file, offset: 0, chunkBytes: 64 << 20)
        #expect(done)

        let targetDirectory = try TemporaryDataDirectory()
        let target = try NodeStore(directory: targetDirectory.path)
        defer { target.close() }
        var newer = stream
        let versionAt = stream.count - Int(file.size) + NodeStore.userVersionHeaderOffset
        newer[versionAt + 3] = UInt8(NodeStore.schemaVersion + 1)
        try Data(newer).write(to: URL(fileURLWithPath: target.incomingStreamPath))
        #expect {
            try target.installIncomingSnapshot(Support.metadata(9))
        } throws: { error in
            if case .unsupportedSchemaVersion = (error as? StoreError)?.kind { return true }
            return false
        }
        #expect(try target.appliedIndex() == .zero)

        try Data(stream).write(to: URL(fileURLWithPath: target.incomingStreamPath))
        try target.installIncomingSnapshot(Support.metadata(9))
        #expect(try target.appliedIndex() == LogIndex(9))
        #expect(try Self.storedPayload(target, 2)?.first == RowCompression.compressedTag)
        for seq in UInt64(1)...3 { #expect(target.payload(for: MessageSeq(seq)) == Self.largePayload(seq)) }
    }
}
