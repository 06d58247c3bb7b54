import SkiffLog
import SkiffRaft
import Testing

@testable import SkiffServer

@Suite struct LogStorageTests {
    /// A log of `batches` blocks of 100 entries each (terms rising every 7 blocks) on a simulated disk.
    private func writtenLog(batches: Int, options: LogOptions) throws -> (SimFileSystem, SegmentedLog, [Entry]) {
        let fileSystem = SimFileSystem(seed: 3)
        let log = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
        var all: [Entry] = []
        for batch in 0..<batches {
            let first = UInt64(batch * 100 + 1)
            let entries = sampleEntries(first, first + 99, term: UInt64(batch / 7 + 1), size: 200)
            try log.append(entries)
            all += entries
        }
        return (fileSystem, log, all)
    }

    private func storage(
        _ log: SegmentedLog, snapshot: SnapshotMetadata = SnapshotMetadata(), onUnreadable: @escaping (LogError) -> Void
    ) -> LogStorage {
        LogStorage(
            log: log, snapshot: snapshot, hardState: HardState(), confState: ConfState(voters: [NodeID(1)]),
            unreadable: onUnreadable)
    }

    /// Every entry and term is served from the segmented log through a block cache far smaller than the log
    /// (64 KiB, three blocks, for 4 MiB of entries), after a reopen that decoded nothing, with the core's byte
    /// bound honoured.
    @Test func readsThroughABoundedCache() throws {
        var options = LogOptions()
        options.blockCacheBytesMax = 64 << 10
        options.segmentBytesMax = 256 << 10
        let (fileSystem, written, all) = try writtenLog(batches: 200, options: options)
        written.close()
        let log = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
        var failures = 0
        let view = storage(log) { _ in failures += 1 }
        #expect(view.firstIndex == LogIndex(1) && view.lastIndex == LogIndex(20_000))
        #expect(log.cachedBlocks.count == 0, "opening the log and the view decoded no block")
        for index in stride(from: 1, through: 20_000, by: 997) {
            #expect(try view.term(LogIndex(UInt64(index))) == all[index - 1].term)
        }
        var next = LogIndex(1)
        while next <= view.lastIndex {
            let chunk = try view.entries(next..<view.lastIndex.next, maxBytes: 50_000)
            #expect(chunk.count == 250, "50,000 bytes of 200-byte entries")
            #expect(chunk.first == all[Int(next.rawValue) - 1])
            next = LogIndex(next.rawValue + UInt64(chunk.count))
        }
        #expect(try view.entries(LogIndex(5)..<LogIndex(6), maxBytes: 0) == [all[4]], "always at least one entry")
        #expect(log.cachedBlocks.bytes <= options.blockCacheBytesMax && log.cachedBlocks.count >= 1)
        #expect(failures == 0)
        log.close()
    }

    /// The view's boundaries move only when the shell says so: entries on disk beyond `lastIndex` are
    /// unavailable until `append`, a compaction makes the prefix `compacted` and answers the snapshot's term,
    /// and a received snapshot empties the view.
    @Test func boundariesFollowTheShell() throws {
        let (_, log, all) = try writtenLog(batches: 3, options: LogOptions())
        let view = storage(log) { _ in Issue.record("no read should fail") }
        let more = sampleEntries(301, 310, term: 5)
        try log.append(more)
        #expect(view.lastIndex == LogIndex(300))
        #expect(throws: StorageError.unavailable) { try view.term(LogIndex(301)) }
        #expect(throws: StorageError.unavailable) { try view.entries(LogIndex(300)..<LogIndex(302), maxBytes: .max) }
        view.append(more)
        #expect(view.lastIndex == LogIndex(310))
        #expect(try view.term(LogIndex(310)) == Term(5))

        view.compact(through: LogIndex(150), confState: ConfState(voters: [NodeID(1)]))
        #expect(view.firstIndex == LogIndex(151))
        #expect(try view.term(LogIndex(150)) == all[149].term)
        #expect(throws: StorageError.compacted) { try view.term(LogIndex(149)) }
        #expect(throws: StorageError.compacted) { try view.entries(LogIndex(150)..<LogIndex(152), maxBytes: .max) }
        #expect(try view.entries(LogIndex(151)..<LogIndex(153), maxBytes: .max) == Array(all[150..<152]))

        let snapshot = SnapshotMetadata(index: LogIndex(500), term: Term(9), confState: ConfState(voters: [NodeID(2)]))
        try log.resetToSnapshot(LogPosition(index: snapshot.index, term: snapshot.term))
        view.applySnapshot(snapshot)
        #expect(view.firstIndex == LogIndex(501) && view.lastIndex == LogIndex(500))
        #expect(try view.term(LogIndex(500)) == Term(9))
        #expect(view.confState == snapshot.confState && view.hardState.commit == LogIndex(500))
        log.close()
    }

    /// A block that verified at open but is damaged when read later is reported to the unreadable handler
    /// (the node stops) instead of being served, and the core sees the read as failed.
    @Test func damagedBlockIsReported() throws {
        var options = LogOptions()
        options.blockCacheBytesMax = 0
        let (fileSystem, log, _) = try writtenLog(batches: 4, options: options)
        var reported: [LogError] = []
        let view = storage(log) { reported.append($0) }
        let segment = try #require(try fileSystem.list(directory: "/data/log").first { $0.hasPrefix("seg-") })
        fileSystem.flipBit(path: "/data/log/" + segment, byteOffset: 200, bit: 3)
        #expect(throws: StorageError.unavailable) { try view.entries(LogIndex(1)..<LogIndex(3), maxBytes: .max) }
        #expect(reported.count == 1)
        if case .untrusted(let corruption) = reported.first?.kind {
            #expect(corruption.file.hasSuffix(segment))
        } else {
            Issue.record("expected an untrusted-log error, got \(reported)")
        }
        #expect(!log.health.mayVoteOrLead)
        log.close()
    }
}
