import SkiffLog
import SkiffRaft
import Testing

@Suite struct PreallocationTests {
    static let directory = "/data/log"

    static func segmentPath(_ sequence: Int) -> String {
        "/data/log/seg-0000000000000000000\(sequence).log"
    }

    /// Segments are zero-filled ahead of their data (docs/storage.md §2); after a reopen the zeros read as free
    /// space, not as a torn tail, and new blocks go right after the data, in sealed and active segments alike.
    @Test func zeroTailsAreFreeSpace() throws {
        var options = smallSegments(8192)
        options.preallocateBytes = 3000
        let (fileSystem, log) = try makeSimLog(options: options)
        var written: [Entry] = []
        for batch in 0..<12 {
            let first = UInt64(batch * 4 + 1)
            let entries = makeEntries(first, first + 3, size: 300)
            try log.append(entries)
            written += entries
        }
        let active = try #require(fileSystem.contents(of: Self.segmentPath(2)))
        #expect(active.count > dataEnd(active))
        let sealed = try #require(fileSystem.contents(of: Self.segmentPath(1)))
        #expect(sealed.count <= 8192 && dataEnd(sealed) < sealed.count)
        log.close()
        for round in 0..<2 {
            let reopened = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: options)
            #expect(reopened.health == .healthy)
            #expect(reopened.recovery.tornTail == nil)
            #expect(try allEntries(reopened) == written)
            let next = UInt64(written.count + 1)
            let more = makeEntries(next, next + 2, term: UInt64(2 + round), size: 300)
            try reopened.append(more)
            written += more
            reopened.close()
        }
        let final = try SegmentedLog.open(directory: Self.directory, fileSystem: fileSystem, options: options)
        #expect(try allEntries(final) == written)
    }

    /// A block of the last segment that reads as zeros while valid blocks follow it is corruption (lost or
    /// zeroed data), never mistaken for the free space at the end of the segment.
    @Test func zeroedBlockBeforeValidDataIsCorruption() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 5, size: 100))
        try log.append(makeEntries(6, 10, size: 100))
        try log.append(makeEntries(11, 15, size: 100))
        let blocks = try log.readBlocks(from: LogIndex(1), maxBytes: 1 << 20)
        log.close()
        var segment = try #require(fileSystem.contents(of: Self.segmentPath(1)))
        let second = 24 + blocks[0].bytes.count
        for offset in second..<(second + blocks[1].bytes.count) { segment[offset] = 0 }
        fileSystem.setContents(of: Self.segmentPath(1), to: segment)
        let reopened = try SegmentedLog.open(
            directory: Self.directory, fileSystem: fileSystem, options: testLogOptions())
        #expect(!reopened.health.mayVoteOrLead)
        #expect(reopened.recovery.corruption?.offset == second)
        #expect(reopened.recovery.tornTail == nil)
        #expect(try allEntries(reopened) == makeEntries(1, 5, size: 100))
    }

    /// A batch larger than the step extends the file past the zeroed region in one flush and zero-fills a
    /// step beyond it; with preallocation off the file ends exactly at the data.
    @Test func stepsFollowTheData() throws {
        var options = testLogOptions()
        options.preallocateBytes = 1000
        let (fileSystem, log) = try makeSimLog(options: options)
        try log.append(makeEntries(1, 40, size: 300))
        let segment = try #require(fileSystem.contents(of: Self.segmentPath(1)))
        #expect(segment.count == dataEnd(segment) + 1000)
        options.preallocateBytes = 0
        let (plainFS, plain) = try makeSimLog(seed: 2, options: options)
        try plain.append(makeEntries(1, 40, size: 300))
        let plainSegment = try #require(plainFS.contents(of: Self.segmentPath(1)))
        #expect(plainSegment.count == dataEnd(plainSegment))
    }
}
