import SkiffLog
import SkiffRaft
import Testing

@Suite struct SegmentedLogTests {
    /// Appended entries read back identically after reopening, across several segment roll-overs.
    @Test func appendReadReopenAcrossSegments() throws {
        let (fileSystem, log) = try makeSimLog(options: smallSegments())
        var written: [Entry] = []
        for batch in 0..<40 {
            let first = UInt64(batch * 5 + 1)
            let entries = makeEntries(first, first + 4, term: UInt64(1 + batch / 10), size: 100)
            try log.append(entries)
            written += entries
        }
        #expect(log.lastIndex == LogIndex(200))
        #expect(try allEntries(log) == written)
        log.close()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: smallSegments())
        #expect(reopened.health == .healthy)
        #expect(reopened.recovery.segmentsScanned > 3)
        #expect(reopened.recovery.tornTail == nil)
        #expect(try allEntries(reopened) == written)
        #expect(try reopened.term(at: LogIndex(200)) == Term(4))
        #expect(try reopened.term(at: LogIndex(0)) == Term(0))
    }

    /// `entries` honours maxBytes but always returns at least one entry, and rejects ranges outside the log.
    @Test func rangeReadsAndBounds() throws {
        let (_, log) = try makeSimLog()
        try log.append(makeEntries(1, 10, size: 100))
        #expect(try log.entries(LogIndex(3)..<LogIndex(8), maxBytes: 250).map(\.index.rawValue) == [3, 4])
        #expect(try log.entries(LogIndex(3)..<LogIndex(8), maxBytes: 1).count == 1)
        #expect(throws: LogError.self) { try log.entries(LogIndex(5)..<LogIndex(12)) }
        #expect(throws: LogError.self) { try log.entries(LogIndex(0)..<LogIndex(2)) }
        #expect(throws: LogError.self) { try log.append(makeEntries(12, 13)) }
    }

    /// Appending at an index inside the log replaces the suffix (conflict resolution), and the replacement
    /// survives a reopen; a pure truncation does too.
    @Test func suffixReplacementAndTruncation() throws {
        let (fileSystem, log) = try makeSimLog(options: smallSegments())
        try log.append(makeEntries(1, 30, term: 1, size: 100))
        try log.append(makeEntries(31, 60, term: 1, size: 100))
        let replacement = makeEntries(25, 40, term: 2, size: 100, seed: 99)
        try log.append(replacement)
        #expect(log.lastIndex == LogIndex(40))
        try log.truncateSuffix(from: LogIndex(38))
        #expect(log.lastIndex == LogIndex(37))
        let expected = makeEntries(1, 24, term: 1, size: 100) + replacement.prefix(13)
        #expect(try allEntries(log) == expected)
        log.close()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: smallSegments())
        #expect(reopened.health == .healthy)
        #expect(try allEntries(reopened) == expected)
        #expect(try reopened.term(at: LogIndex(37)) == Term(2))
    }

    /// One batch may replace a suffix written earlier in the same batch (a follower's conflict arriving in
    /// the same group-commit flush), and the result survives a reopen.
    @Test func batchWithInternalOverlap() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 4))
        let replacement = makeEntries(6, 8, term: 2, seed: 5)
        try log.appendBatch([
            .entries(makeEntries(5, 10)), .entries(replacement), .truncation(from: LogIndex(8)),
            .entries(makeEntries(8, 9, term: 3, seed: 6)),
        ])
        let expected = makeEntries(1, 5) + replacement.prefix(2) + makeEntries(8, 9, term: 3, seed: 6)
        #expect(try allEntries(log) == expected)
        #expect(throws: LogError(.termRegression(LogIndex(10)))) {
            try log.appendBatch([.entries(makeEntries(10, 10, term: 4)), .entries(makeEntries(10, 10, term: 1))])
        }
        fileSystem.crash()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
        #expect(try allEntries(reopened) == expected)
    }

    /// Terms may not go down and indexes must continue the log.
    @Test func rejectsBadAppends() throws {
        let (_, log) = try makeSimLog()
        try log.append(makeEntries(1, 5, term: 3))
        #expect(throws: LogError(.termRegression(LogIndex(6)))) { try log.append(makeEntries(6, 7, term: 2)) }
        #expect(throws: LogError(.notContiguous(expectedAtMost: LogIndex(6), got: LogIndex(8)))) {
            try log.append(makeEntries(8, 9, term: 3))
        }
        #expect(log.lastIndex == LogIndex(5))
    }

    /// The hard state round-trips through the atomic state file.
    @Test func hardStatePersists() throws {
        let (fileSystem, log) = try makeSimLog()
        let saved = HardState(term: Term(7), vote: NodeID(3), commit: LogIndex(0))
        try log.saveHardState(saved)
        fileSystem.crash()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.hardState == saved)
        #expect(!fileSystem.exists("/data/log/state.tmp"))
    }

    /// A crash at any point of a hard-state save (torn temp file at every byte, or before the rename is
    /// durable) leaves either the old or the new hard state, never a damaged one.
    @Test func hardStateSaveIsAtomicUnderCrashes() throws {
        let old = HardState(term: Term(4), vote: NodeID(1), commit: LogIndex(0))
        let new = HardState(term: Term(5), vote: NodeID(2), commit: LogIndex(0))
        for keep in 0...64 {
            let (fileSystem, log) = try makeSimLog()
            try log.saveHardState(old)
            fileSystem.crashAtNextSync(.keepUnsyncedBytes(path: "/data/log/state.tmp", bytes: keep))
            #expect(throws: LogError.self) { try log.saveHardState(new) }
            let reopened = try SegmentedLog.open(
                directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
            #expect(reopened.health == .healthy, "keep \(keep)")
            #expect(reopened.hardState == old, "keep \(keep)")
        }
        for skip in 0...1 {
            let (fileSystem, log) = try makeSimLog()
            try log.saveHardState(old)
            fileSystem.crashAtNextSync(.dropUnsynced, pathContaining: "/data/log", skipping: skip)
            #expect(throws: LogError.self) { try log.saveHardState(new) }
            let reopened = try SegmentedLog.open(
                directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
            #expect(reopened.health == .healthy)
            #expect(reopened.hardState == old || reopened.hardState == new)
        }
    }

    /// A raw block read from one log is accepted byte for byte by another, and decodes to the same entries.
    @Test func rawBlockReplication() throws {
        let (_, leader) = try makeSimLog()
        let (followerFS, follower) = try makeSimLog(seed: 2)
        try leader.append(makeEntries(1, 10, size: 200))
        try leader.append(makeEntries(11, 20, term: 2, size: 200))
        let blocks = try leader.readBlocks(from: LogIndex(1), maxBytes: 1 << 20)
        #expect(blocks.count == 2)
        for block in blocks { try follower.appendVerifiedBlock(block.bytes) }
        #expect(try allEntries(follower) == allEntries(leader))
        let segment = try #require(followerFS.contents(of: "/data/log/seg-00000000000000000001.log"))
        #expect(Array(segment[24..<dataEnd(segment)]) == blocks.flatMap(\.bytes))
        var damaged = blocks[0].bytes
        damaged[damaged.count - 1] ^= 1
        #expect(throws: LogError.self) { try follower.appendVerifiedBlock(damaged) }
    }

    /// `blockRange(containing:)` answers the live entries of the block holding an index from the index alone:
    /// for every index of every block, after a suffix replacement cut a block short, and nil outside the log.
    @Test func blockRangeFollowsLiveBlocks() throws {
        let (_, log) = try makeSimLog()
        try log.append(makeEntries(1, 10))
        try log.append(makeEntries(11, 25))
        try log.append(makeEntries(26, 30))
        for index in 1...30 {
            let expected: ClosedRange<UInt64> = index <= 10 ? 1...10 : index <= 25 ? 11...25 : 26...30
            let range = try #require(log.blockRange(containing: LogIndex(UInt64(index))))
            #expect(
                range.lowerBound.rawValue == expected.lowerBound && range.upperBound.rawValue == expected.upperBound)
        }
        try log.append(makeEntries(18, 20, term: 2))
        #expect(log.blockRange(containing: LogIndex(12)) == LogIndex(11)...LogIndex(17))
        #expect(log.blockRange(containing: LogIndex(19)) == LogIndex(18)...LogIndex(20))
        #expect(log.blockRange(containing: LogIndex(21)) == nil)
        #expect(log.blockRange(containing: .zero) == nil)
    }
}
