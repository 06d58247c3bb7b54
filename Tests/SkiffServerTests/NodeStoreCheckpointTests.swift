import Foundation
import SkiffBroker
import SkiffLog
import SkiffRaft
import SkiffStore
import Testing

@testable import SkiffServer

@Suite struct NodeStoreCheckpointTests {
    static let conf = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)], learners: [])

    static func payload(_ seq: UInt64) -> Payload {
        Payload(id: "m-\(seq)", body: Array("body of message \(seq)".utf8), headers: [], key: nil)
    }

    /// A delta that stores the payloads of `seqs`, as the broker's checkpoint writes them.
    static func payloadDelta(_ seqs: [UInt64]) -> [StoreStatement] {
        seqs.map { seq in
            StoreStatement(
                sql: "INSERT OR REPLACE INTO broker_payloads(seq, payload) VALUES (?, ?)",
                bindings: [.int(Int64(seq)), .blob(payload(seq).encoded())])
        }
    }

    static func rows(_ seqs: [UInt64]) -> (_ emit: (StoreStatement) throws -> Void) throws -> Void {
        let statements = payloadDelta(seqs)
        return { emit in
            for statement in statements { try emit(statement) }
        }
    }

    static func metadata(_ index: UInt64) -> SkiffRaft.SnapshotMetadata {
        SkiffRaft.SnapshotMetadata(index: LogIndex(index), term: Term(2), confState: conf)
    }

    static func snapshotFileNames(_ store: NodeStore) throws -> [String] {
        try store.fileSystem.list(directory: store.snapshotDirectory).filter { $0.hasPrefix("snap-") }.sorted()
    }

    /// A checkpoint without a snapshot is durable at its index, keeps its payloads readable, and writes no file.
    @Test func checkpointWithoutSnapshotWritesNoFile() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let outcome = try store.checkpoint(
            rows: Self.rows([7, 8]), metadata: Self.metadata(5), generation: store.currentGeneration(),
            snapshot: false)
        #expect(outcome == .written(snapshot: nil))
        #expect(try store.appliedIndex() == LogIndex(5))
        #expect(try Self.snapshotFileNames(store).isEmpty)
        #expect(store.payload(for: MessageSeq(7)) == Self.payload(7))
        #expect(store.payload(for: MessageSeq(9)) == nil)
        // A restart sees the same checkpoint.
        store.close()
        let reopened = try NodeStore(directory: directory.path)
        defer { reopened.close() }
        #expect(try reopened.appliedIndex() == LogIndex(5))
        #expect(reopened.payload(for: MessageSeq(8)) == Self.payload(8))
    }

    /// Batched payload reads return what single reads return for every sequence in the database, nil for the
    /// others, and nil for every sequence of a request too sparse for one range scan.
    @Test func batchedPayloadReadsMatchSingleReads() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let stored: [UInt64] = [1, 2, 3, 4, 6, 7, 8, 9, 10]
        _ = try store.checkpoint(
            rows: Self.rows(stored), metadata: Self.metadata(5), generation: store.currentGeneration(),
            snapshot: false)
        let asked: [UInt64] = [2, 3, 5, 7, 10, 12]
        let batch = store.payloads(for: asked.map { MessageSeq($0) })
        #expect(batch == asked.map { stored.contains($0) ? Self.payload($0) : nil })
        #expect(batch == asked.map { store.payload(for: MessageSeq($0)) })
        let sparse = store.payloads(for: [MessageSeq(1), MessageSeq(1_000_000)])
        #expect(sparse == [nil, nil])
    }

    /// A checkpoint asked for a snapshot leaves a complete file of that index, which later checkpoints that make
    /// no snapshot leave untouched (its size and CRC still match what its metadata says).
    @Test func snapshotFileIsMadeOnlyWhenAsked() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let first = try store.checkpoint(
            rows: Self.rows([1]), metadata: Self.metadata(10), generation: store.currentGeneration(), snapshot: true)
        guard case .written(let file?) = first else {
            Issue.record("no snapshot file: \(first)")
            return
        }
        #expect(file.metadata == Self.metadata(10))
        _ = try store.checkpoint(
            rows: Self.rows([2, 3]), metadata: Self.metadata(20), generation: store.currentGeneration(),
            snapshot: false)
        #expect(try Self.snapshotFileNames(store) == ["snap-10.db", "snap-10.db.meta"])
        #expect(store.existingSnapshots().map(\.metadata) == [Self.metadata(10)])
        let bytes = try store.readWholeFile(file.path)
        #expect(UInt64(bytes.count) == file.storeMetadata.byteCount)
        #expect(CRC32C.checksum(of: bytes) == file.storeMetadata.checksum)
        #expect(try store.appliedIndex() == LogIndex(20))
    }

    /// A payload read from SQLite brings the following small payloads into the cache with it: reading a run of
    /// sequences costs one query, and every payload read is the one checkpointed.
    @Test func payloadReadsReadAhead() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let count = UInt64(NodeStore.payloadReadAheadRows) + 10
        _ = try store.checkpoint(
            rows: Self.rows(Array(1...count)), metadata: Self.metadata(4), generation: store.currentGeneration(),
            snapshot: false)
        for seq in 1...count { #expect(store.payload(for: MessageSeq(seq)) == Self.payload(seq)) }
        let stats = store.payloads.stats
        // Misses: sequence 1, then the first one past the read-ahead window.
        #expect(stats.misses == 2)
        #expect(stats.hits == Int(count) - 2)
        #expect(store.payload(for: MessageSeq(count + 1)) == nil)
    }

    /// A delta taken before a snapshot install (an older database generation) is not written.
    @Test func staleGenerationIsSkipped() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        let outcome = try store.checkpoint(
            rows: Self.rows([4]), metadata: Self.metadata(3), generation: store.currentGeneration() + 1,
            snapshot: true)
        #expect(outcome == .skipped)
        #expect(try store.appliedIndex() == .zero)
        #expect(try Self.snapshotFileNames(store).isEmpty)
        #expect(store.payload(for: MessageSeq(4)) == nil)
    }

    /// A payload read returns while a checkpoint is stuck inside its transaction (holding the store's checkpoint
    /// lock): reads use their own connection and never wait for the checkpoint.
    @Test(.timeLimit(.minutes(1))) func payloadReadsDoNotWaitForACheckpoint() throws {
        let directory = try TemporaryDataDirectory()
        let store = try NodeStore(directory: directory.path)
        defer { store.close() }
        _ = try store.checkpoint(
            rows: Self.rows([1]), metadata: Self.metadata(1), generation: store.currentGeneration(), snapshot: false)
        // Another connection holds SQLite's write lock, so the next checkpoint waits (busy timeout) inside
        // NodeStore's lock until it is released.
        let blocker = try StateStore.open(path: store.databasePath)
        defer { blocker.close() }
        try blocker.execute("BEGIN IMMEDIATE")
        let finished = CheckpointProbe()
        let thread = Thread {
            finished.outcome = try? store.checkpoint(
                rows: Self.rows([2]), metadata: Self.metadata(2), generation: store.currentGeneration(),
                snapshot: false)
            finished.done.signal()
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.3)
        let started = Date()
        let read = store.payload(for: MessageSeq(1))
        let waited = Date().timeIntervalSince(started)
        #expect(finished.done.wait(timeout: .now()) == .timedOut, "the checkpoint was not held up by the blocker")
        try blocker.execute("COMMIT")
        #expect(finished.done.wait(timeout: .now() + 30) == .success)
        #expect(read == Self.payload(1))
        #expect(waited < 1, "a payload read waited \(waited) s for the checkpoint")
        #expect(finished.outcome == .written(snapshot: nil))
        #expect(store.payload(for: MessageSeq(2)) == Self.payload(2))
    }
}

/// Written by the checkpoint thread and read after `done` is signalled.
private final class CheckpointProbe: @unchecked Sendable {
    var outcome: CheckpointOutcome?
    let done = DispatchSemaphore(value: 0)
}
