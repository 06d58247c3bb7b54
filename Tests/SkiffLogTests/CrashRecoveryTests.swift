import SkiffLog
import SkiffRaft
import Testing

@Suite struct CrashRecoveryTests {
    static let segmentPath = "/data/log/seg-00000000000000000001.log"

    /// For a crash at every byte offset of a block write (the block reached the page cache but its
    /// fdatasync never completed), recovery keeps every acknowledged entry, never shows a garbage or partial
    /// entry, truncates and reports the torn tail, and the log accepts appends again.
    @Test func crashAtEveryByteOfABlockWrite() throws {
        let acknowledged = makeEntries(1, 20, size: 60)
        let inFlight = makeEntries(21, 27, term: 2, size: 90)
        let blockBytes = BlockCodec.encode(inFlight[...]).count
        for keep in 0...blockBytes {
            let (fileSystem, log) = try makeSimLog()
            try log.append(acknowledged)
            fileSystem.crashAtNextSync(.keepUnsyncedBytes(path: Self.segmentPath, bytes: keep))
            #expect(throws: LogError.self) { try log.append(inFlight) }
            let reopened = try SegmentedLog.open(
                directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
            #expect(reopened.health == .healthy)
            let survivors = try allEntries(reopened)
            let expected = keep == blockBytes ? acknowledged + inFlight : acknowledged
            #expect(survivors == expected, "keep \(keep)")
            #expect((reopened.recovery.tornTail != nil) == (keep > 0 && keep < blockBytes), "keep \(keep)")
            try reopened.append(makeEntries(reopened.lastIndex.rawValue + 1, reopened.lastIndex.rawValue + 2, term: 3))
        }
    }

    /// For a crash at every byte of a batch that rolls over to a new segment (header plus block, then the
    /// directory entry), recovery keeps every acknowledged entry and no partial one.
    @Test func crashAtEveryByteOfASegmentRoll() throws {
        let options = smallSegments(600)
        let acknowledged = makeEntries(1, 8, size: 60, seed: 3)
        let inFlight = makeEntries(9, 12, size: 200, seed: 4)
        let newSegment = "/data/log/seg-00000000000000000002.log"
        let blockBytes = BlockCodec.encode(inFlight[...]).count
        for keep in 0...(24 + blockBytes) {
            let (fileSystem, log) = try makeSimLog(options: options)
            try log.append(acknowledged)
            // The crash hits the new segment's data sync; its directory entry survives with `keep` bytes.
            fileSystem.crashAtNextSync(.keepUnsyncedBytes(path: newSegment, bytes: keep), pathContaining: "seg-")
            #expect(throws: LogError.self) { try log.append(inFlight) }
            #expect(fileSystem.exists(newSegment))
            let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
            #expect(reopened.health == .healthy, "keep \(keep)")
            let complete = keep == 24 + blockBytes
            #expect(try allEntries(reopened) == (complete ? acknowledged + inFlight : acknowledged), "keep \(keep)")
            #expect((reopened.recovery.tornTail != nil) == (keep < 24 || (keep > 24 && !complete)), "keep \(keep)")
            #expect(fileSystem.exists(newSegment) == (keep >= 24), "keep \(keep)")
            try reopened.append(makeEntries(reopened.lastIndex.rawValue + 1, reopened.lastIndex.rawValue + 1, term: 2))
        }
    }

    /// Random crashes (seeded) during a stream of appends and hard-state saves never lose an acknowledged
    /// entry or produce a garbage one.
    @Test(arguments: 1...20)
    func randomCrashesKeepAcknowledgedEntries(seed: UInt64) throws {
        var generator = SeededRandom(seed: seed)
        let fileSystem = SimFileSystem(seed: seed)
        let options = smallSegments(2048)
        var acknowledged: [Entry] = []
        var next: UInt64 = 1
        for _ in 0..<6 {
            let log = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
            #expect(log.health == .healthy)
            let recovered = try allEntries(log)
            #expect(Array(recovered.prefix(acknowledged.count)) == acknowledged)
            #expect(
                recovered
                    == makeEntries(1, max(1, log.lastIndex.rawValue), size: 50, seed: seed).prefix(recovered.count).map
                { $0 })
            acknowledged = recovered
            next = log.lastIndex.rawValue + 1
            for _ in 0..<Int(generator.next() % 8) {
                let count = 1 + generator.next() % 6
                let batch = makeEntries(next, next + count - 1, size: 50, seed: seed)
                try log.append(batch)
                acknowledged += batch
                next += count
            }
            fileSystem.crashAtNextSync(.random)
            _ = try? log.append(makeEntries(next, next + 3, size: 50, seed: seed))
            fileSystem.crash(.random)
        }
    }
}
