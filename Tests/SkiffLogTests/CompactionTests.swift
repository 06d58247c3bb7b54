import SkiffLog
import SkiffRaft
import Testing

@Suite struct CompactionTests {
    /// Over many seeded logs (random batch sizes, suffix replacements) and random checkpoints and tails,
    /// compaction never removes an entry above the checkpoint or inside the kept tail, only removes whole
    /// segments, and the result survives a reopen.
    @Test(arguments: 1...25)
    func neverDeletesAboveCheckpoint(seed: UInt64) throws {
        var generator = SeededRandom(seed: seed)
        let options = smallSegments(1024 + Int(generator.next() % 3000))
        let (fileSystem, log) = try makeSimLog(seed: seed, options: options)
        var term: UInt64 = 1
        for _ in 0..<(10 + Int(generator.next() % 40)) {
            let last = log.lastIndex.rawValue
            var first = last + 1
            if last > 5 && generator.next() % 6 == 0 {
                first = last - generator.next() % 5
                term += 1
            }
            try log.append(
                makeEntries(first, first + generator.next() % 12, term: term, size: 30 + Int(generator.next() % 200)))
        }
        let before = try allEntries(log)
        let last = log.lastIndex.rawValue
        let checkpoint = LogIndex(generator.next() % (last + 1))
        let tail = generator.next() % 3 == 0 ? generator.next() % 40 : 0
        let result = try log.compact(checkpoint: checkpoint, keepTailEntries: tail)
        let keepFrom = min(checkpoint.rawValue, last >= tail ? last - tail : 0) + 1
        #expect(log.firstIndex.rawValue <= keepFrom)
        #expect(result.logStart.index <= checkpoint)
        #expect(log.lastIndex.rawValue == last)
        let after = try allEntries(log)
        #expect(after == Array(before.suffix(after.count)))
        #expect(try log.term(at: log.logStart.index) == log.logStart.term)
        log.close()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
        #expect(reopened.health == .healthy)
        #expect(try allEntries(reopened) == after)
    }

    /// The planner alone: a segment with any live entry above the cutoff stops deletion, segments with no
    /// live entries are removable, and the last segment is always kept.
    @Test func planRespectsCutoff() {
        let segments = [
            CompactionPlan.Segment(sequence: 1, highestLiveIndex: LogIndex(10)),
            CompactionPlan.Segment(sequence: 2, highestLiveIndex: nil),
            CompactionPlan.Segment(sequence: 3, highestLiveIndex: LogIndex(30)),
            CompactionPlan.Segment(sequence: 4, highestLiveIndex: LogIndex(40)),
        ]
        #expect(CompactionPlan.make(segments: segments, logStart: .zero, cutoff: LogIndex(9)).deleteCount == 0)
        let two = CompactionPlan.make(segments: segments, logStart: .zero, cutoff: LogIndex(29))
        #expect(two.deleteCount == 2 && two.newLogStart == LogIndex(10))
        #expect(CompactionPlan.make(segments: segments, logStart: .zero, cutoff: LogIndex(1000)).deleteCount == 3)
    }

    /// A crash after the new log start is written but before the old segments are unlinked leaves files that
    /// the next open removes, with the same entries.
    @Test func interruptedCompactionIsFinishedOnOpen() throws {
        let options = smallSegments(2048)
        let (fileSystem, log) = try makeSimLog(options: options)
        for batch in 0..<20 { try log.append(makeEntries(UInt64(batch * 5 + 1), UInt64(batch * 5 + 5), size: 100)) }
        let before = try allEntries(log)
        // Compaction syncs state.tmp, then the directory (rename durable), then the directory again (unlinks
        // durable). Crash at that third sync: the new start is on disk, the old segments still are too.
        fileSystem.crashAtNextSync(.dropUnsynced, pathContaining: "/data/log", skipping: 2)
        #expect(throws: LogError.self) { try log.compact(checkpoint: LogIndex(60)) }
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
        #expect(reopened.health == .healthy)
        #expect(!reopened.recovery.removedFiles.isEmpty)
        #expect(reopened.firstIndex > LogIndex(1) && reopened.firstIndex <= LogIndex(61))
        let expected = Array(before.suffix(Int(reopened.lastIndex.rawValue - reopened.firstIndex.rawValue + 1)))
        #expect(try allEntries(reopened) == expected)
    }
}

@Suite struct CompactionDeletesTests {
    /// Compacting to the last index deletes every segment but the one being written and moves the log start
    /// to the last entry of the deleted segments; reads below it fail as compacted.
    @Test func deletesWholeSegmentsOnly() throws {
        let options = smallSegments(2048)
        let (fileSystem, log) = try makeSimLog(options: options)
        for batch in 0..<20 { try log.append(makeEntries(UInt64(batch * 5 + 1), UInt64(batch * 5 + 5), size: 100)) }
        let segmentsBefore = try fileSystem.list(directory: "/data/log").filter { $0.hasPrefix("seg-") }
        let result = try log.compact(checkpoint: LogIndex(100))
        let segmentsAfter = try fileSystem.list(directory: "/data/log").filter { $0.hasPrefix("seg-") }
        #expect(segmentsAfter.count == 1)
        #expect(result.deletedSegments.count == segmentsBefore.count - 1)
        #expect(result.logStart.index.rawValue % 5 == 0)
        #expect(log.firstIndex == result.logStart.index.next)
        #expect(throws: LogError(.compacted(result.logStart.index))) {
            try log.entries(result.logStart.index..<log.lastIndex)
        }
        #expect(try allEntries(log) == makeEntries(log.firstIndex.rawValue, 100, size: 100))
    }
}
