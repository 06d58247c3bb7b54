import SkiffLog
import SkiffRaft
import Testing

@Suite struct FaultTests {
    static let directory = "/data/log"

    static func segmentPath(_ sequence: Int) -> String {
        "/data/log/seg-" + String(repeating: "0", count: 20 - String(sequence).count) + String(sequence) + ".log"
    }

    /// Writes 3+ segments of 100 entries per block and returns the file system.
    static func threeSegments() throws -> SimFileSystem {
        let (fileSystem, log) = try makeSimLog(options: smallSegments(4096))
        for batch in 0..<30 {
            try log.append(makeEntries(UInt64(batch * 10 + 1), UInt64(batch * 10 + 10), size: 100))
        }
        log.close()
        return fileSystem
    }

    /// A flipped bit in a sealed segment is detected on open: the log is untrusted (no voting or leading),
    /// the corruption names the file and the block's offset, and the entries before it are still readable.
    @Test func bitFlipInSealedSegmentIsReported() throws {
        let fileSystem = try Self.threeSegments()
        let clean = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: smallSegments(4096))
        let blocks = try clean.readBlocks(from: LogIndex(1), maxBytes: 1 << 20)
        clean.close()
        let secondBlockOffset = 24 + blocks[0].bytes.count
        fileSystem.flipBit(path: Self.segmentPath(1), byteOffset: secondBlockOffset + 40, bit: 3)
        let log = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: smallSegments(4096))
        let corruption = try #require(log.recovery.corruption)
        #expect(corruption.file == Self.segmentPath(1))
        #expect(corruption.offset == secondBlockOffset)
        #expect(log.health == .untrusted(corruption))
        #expect(!log.health.mayVoteOrLead)
        #expect(log.recovery.tornTail == nil)
        #expect(log.recovery.description.contains("\(Self.segmentPath(1)) at offset \(secondBlockOffset)"))
        #expect(try log.entries(LogIndex(1)..<LogIndex(11)) == makeEntries(1, 10, size: 100))
        #expect(throws: LogError(.untrusted(corruption))) { try log.append(makeEntries(11, 11)) }
    }

    /// A flipped bit inside the last segment, followed by valid blocks, is corruption, not a torn tail.
    @Test func bitFlipBeforeValidBlocksInLastSegmentIsNotATornTail() throws {
        let (fileSystem, log) = try makeSimLog()
        for batch in 0..<5 { try log.append(makeEntries(UInt64(batch * 4 + 1), UInt64(batch * 4 + 4), size: 64)) }
        log.close()
        fileSystem.flipBit(path: Self.segmentPath(1), byteOffset: 24 + 10)
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.recovery.corruption?.offset == 24)
        #expect(reopened.recovery.tornTail == nil)
        #expect(!reopened.health.mayVoteOrLead)
    }

    /// A bit flipped after open is caught when the block is read (checksum on every read) and the log turns
    /// untrusted.
    @Test func bitFlipDetectedOnRead() throws {
        var options = smallSegments(4096)
        options.blockCacheBytesMax = 0
        let (fileSystem, log) = try makeSimLog(options: options)
        try log.append(makeEntries(1, 10, size: 100))
        fileSystem.flipBit(path: Self.segmentPath(1), byteOffset: 24 + 60)
        #expect(throws: LogError.self) { try log.entries(LogIndex(1)..<LogIndex(3)) }
        guard case .untrusted(let corruption) = log.health else {
            Issue.record("health \(log.health)")
            return
        }
        #expect(corruption.file == Self.segmentPath(1) && corruption.offset == 24)
    }

    /// A missing segment in the middle is reported with its name and the log is untrusted.
    @Test func missingSegmentIsReported() throws {
        let fileSystem = try Self.threeSegments()
        try fileSystem.unlink(Self.segmentPath(2))
        try fileSystem.syncDirectory(Self.directory)
        let log = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: smallSegments(4096))
        #expect(log.recovery.corruption?.reason == .missingSegment(sequence: 2))
        #expect(log.recovery.corruption?.file == Self.segmentPath(2))
        #expect(!log.health.mayVoteOrLead)
    }

    /// A full disk gives a clear error, the log turns read-only but keeps serving reads, nothing on disk is
    /// damaged, and writes resume once space is back.
    @Test func diskFullStopsWritesKeepsReads() throws {
        let (fileSystem, log) = try makeSimLog()
        let before = makeEntries(1, 20, size: 100)
        try log.append(before)
        // Room for 50 more bytes: less than the batch below needs beyond the preallocated zeros.
        fileSystem.capacityBytes = (fileSystem.contents(of: Self.segmentPath(1))?.count ?? 0) + 64 + 50
        #expect {
            try log.append(makeEntries(21, 120, size: 200))
        } throws: { error in
            guard let error = error as? LogError, case .noSpace(let cause) = error.kind else { return false }
            return cause.kind == .noSpace && cause.path == Self.segmentPath(1)
        }
        #expect(log.health.mayVoteOrLead)
        #expect(!log.health.isWritable)
        #expect(try allEntries(log) == before)
        #expect(throws: LogError.self) { try log.append(makeEntries(21, 21)) }
        fileSystem.crash()
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.health == .healthy)
        #expect(reopened.recovery.tornTail == nil)
        #expect(try allEntries(reopened) == before)
        fileSystem.capacityBytes = nil
        log.resumeWrites()
        #expect(log.health == .healthy)
    }

    /// ENOSPC while starting a new segment is a clean read-only state too: after space returns and writes
    /// resume, the roll is retried and everything reads back after a reopen.
    @Test func diskFullDuringSegmentRoll() throws {
        let options = smallSegments(600)
        let (fileSystem, log) = try makeSimLog(options: options)
        try log.append(makeEntries(1, 6, size: 60))
        let used = ["/data/log/state", Self.segmentPath(1)].compactMap { fileSystem.contents(of: $0)?.count }
        fileSystem.capacityBytes = used.reduce(0, +) + 10
        #expect(throws: LogError.self) { try log.append(makeEntries(7, 12, size: 200)) }
        #expect(!log.health.isWritable && log.health.mayVoteOrLead)
        #expect((fileSystem.contents(of: Self.segmentPath(2))?.count ?? -1) == 10)
        fileSystem.capacityBytes = nil
        log.resumeWrites()
        try log.append(makeEntries(7, 12, size: 200))
        #expect(fileSystem.exists(Self.segmentPath(2)))
        log.close()
        let reopened = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: options)
        #expect(reopened.health == .healthy)
        #expect(try allEntries(reopened) == makeEntries(1, 6, size: 60) + makeEntries(7, 12, size: 200))
    }

    /// A failed fdatasync is fatal: the append fails, the log enters the permanent failed state, and no later
    /// write (append or hard state) is attempted even though the disk would now accept it.
    @Test func failedFsyncIsFatalAndNeverRetried() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 5))
        fileSystem.failSyncs(count: 1)
        #expect {
            try log.append(makeEntries(6, 10))
        } throws: { error in
            guard let error = error as? LogError, case .failed(let cause) = error.kind else { return false }
            return cause.kind == .io
        }
        guard case .failed = log.health else {
            Issue.record("health \(log.health)")
            return
        }
        let unsyncedBefore = fileSystem.unsyncedBytes(path: Self.segmentPath(1))
        #expect(throws: LogError.self) { try log.append(makeEntries(6, 10)) }
        #expect(throws: LogError.self) { try log.saveHardState(HardState(term: Term(2))) }
        #expect(fileSystem.unsyncedBytes(path: Self.segmentPath(1)) == unsyncedBefore)
        fileSystem.crash()
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(try allEntries(reopened) == makeEntries(1, 5))
    }

    /// Repair: wiping an untrusted log removes its segments, keeps term and vote, and the log reopens healthy
    /// and empty, ready for a snapshot.
    @Test func wipeRepairsAnUntrustedLog() throws {
        let fileSystem = try Self.threeSegments()
        let log = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: smallSegments(4096))
        try log.saveHardState(HardState(term: Term(9), vote: NodeID(2), commit: LogIndex(100)))
        log.close()
        fileSystem.flipBit(path: Self.segmentPath(1), byteOffset: 100)
        #expect(
            !(try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: testLogOptions()))
                .health.mayVoteOrLead)
        let report = try SegmentedLog.wipe(directory: Self.directory, fileSystem: fileSystem)
        #expect(report.hardStateKept)
        #expect(report.removedSegments.count >= 3)
        let repaired = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(repaired.health == .healthy)
        #expect(repaired.lastIndex == LogIndex(0))
        #expect(repaired.hardState == HardState(term: Term(9), vote: NodeID(2), commit: LogIndex(0)))
        try repaired.resetToSnapshot(LogPosition(index: LogIndex(300), term: Term(1)))
        try repaired.append(makeEntries(301, 305, term: 9))
        #expect(repaired.firstIndex == LogIndex(301) && repaired.lastIndex == LogIndex(305))
        #expect(try repaired.term(at: LogIndex(300)) == Term(1))
    }

    /// When the persisted commit index is above what survives (the last block damaged so that it looks
    /// torn), the log is untrusted instead of silently shorter.
    @Test func tornTailBelowCommitIsCorruption() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 5))
        try log.append(makeEntries(6, 10))
        try log.saveHardState(HardState(term: Term(1), vote: .none, commit: LogIndex(10)))
        log.close()
        let segment = try #require(fileSystem.contents(of: Self.segmentPath(1)))
        fileSystem.setContents(of: Self.segmentPath(1), to: Array(segment.prefix(dataEnd(segment) - 3)))
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.recovery.tornTail != nil)
        #expect(reopened.recovery.corruption?.reason == .missingEntries(after: LogIndex(5), next: LogIndex(10)))
        #expect(!reopened.health.mayVoteOrLead)
    }

    /// A crash after a snapshot reset wrote the new log start but before the old segments were unlinked
    /// never brings old entries back.
    @Test func interruptedResetDoesNotResurrectEntries() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 20))
        // Syncs in a reset: state.tmp, directory (rename), directory (unlinks). Crash at the last one.
        fileSystem.crashAtNextSync(.dropUnsynced, pathContaining: "/data/log", skipping: 2)
        #expect(throws: LogError.self) { try log.resetToSnapshot(LogPosition(index: LogIndex(15), term: Term(1))) }
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.health == .healthy)
        #expect(reopened.recovery.removedFiles == ["seg-00000000000000000001.log"])
        #expect(reopened.logStart == LogPosition(index: LogIndex(15), term: Term(1)))
        #expect(reopened.lastIndex == LogIndex(15))
        try reopened.append(makeEntries(16, 17, term: 2))
        #expect(try allEntries(reopened) == makeEntries(16, 17, term: 2))
    }

    /// A damaged state file makes the log untrusted instead of silently starting over.
    @Test func damagedStateFileIsReported() throws {
        let fileSystem = try Self.threeSegments()
        fileSystem.flipBit(path: "/data/log/state", byteOffset: 9)
        let log = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        guard case .badStateFile = log.recovery.corruption?.reason else {
            Issue.record("corruption \(String(describing: log.recovery.corruption))")
            return
        }
        #expect(!log.health.mayVoteOrLead)
    }
}
