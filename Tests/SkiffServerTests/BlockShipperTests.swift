import NIOCore
import SkiffLog
import SkiffRaft
import Testing

@testable import SkiffServer

@Suite struct BlockShipperTests {
    /// Ships one batch from `leader` to `follower` the way the node does: the leader encodes and persists
    /// blocks, sends the append, the follower decodes it and persists the entries it carries.
    private func replicate(
        _ entries: [Entry], after previous: LogPosition, leader: LogDisk, follower: LogDisk
    ) throws -> SkiffRaft.Message {
        let blocks = leader.shipper.blocks(persisting: entries)
        try leader.persist(PersistBatch(entries: entries, blocks: blocks))
        var frame = ByteBuffer()
        leader.shipper.write(appendMessage(after: previous, entries), into: &frame)
        let received = try follower.shipper.decode(frame)
        let followerBlocks = follower.shipper.blocks(persisting: received.entries)
        try follower.persist(PersistBatch(entries: received.entries, blocks: followerBlocks))
        return received
    }

    /// A follower's segment files are byte-for-byte the leader's for the same entries: the follower writes the
    /// leader's compressed blocks unchanged and never encodes a block of its own.
    @Test func followerSegmentsEqualLeaders() throws {
        let leaderDirectory = try TemporaryDataDirectory()
        let followerDirectory = try TemporaryDataDirectory()
        let leader = try makeLogDisk(leaderDirectory)
        let follower = try makeLogDisk(followerDirectory)
        var previous = LogPosition.zero
        for (first, last, term) in [(1, 40, 1), (41, 41, 1), (42, 200, 2), (201, 230, 3)] as [(UInt64, UInt64, UInt64)]
        {
            let entries = sampleEntries(first, last, term: term)
            let received = try replicate(entries, after: previous, leader: leader, follower: follower)
            #expect(received.entries == entries)
            previous = LogPosition(index: LogIndex(last), term: Term(term))
        }
        #expect(follower.shipper.counters.blocksEncoded == 0)
        #expect(follower.shipper.counters.receivedBlocksPersisted == 4)
        #expect(leader.shipper.counters.blockFramesSent == 4)
        #expect(leader.shipper.counters.entryFramesSent == 0)
        #expect(
            try follower.log.entries(LogIndex(1)..<LogIndex(231)) == leader.log.entries(LogIndex(1)..<LogIndex(231)))
        let leaderSegments = try segmentBytes(leader.log.directory)
        #expect(!leaderSegments.isEmpty)
        #expect(try segmentBytes(follower.log.directory) == leaderSegments)
        leader.close()
        follower.close()
    }

    /// A Ready holding more than one append's worth is cut into blocks where the core cuts its appends, so
    /// every append of the batch goes as whole blocks; a follower that persists all of them in one Ready writes
    /// the received blocks, and its segments equal the leader's.
    @Test func largeReadyIsCutWhereAppendsAre() throws {
        let leaderDirectory = try TemporaryDataDirectory()
        let followerDirectory = try TemporaryDataDirectory()
        let messageBytesMax = 4096
        let leader = try makeLogDisk(leaderDirectory, messageBytesMax: messageBytesMax)
        let follower = try makeLogDisk(followerDirectory, messageBytesMax: messageBytesMax)
        let entries = sampleEntries(1, 100)
        let blocks = leader.shipper.blocks(persisting: entries)
        #expect(blocks.count == 8, "13 entries of 300 bytes fit 4096 bytes: 100 entries make 8 appends")
        try leader.persist(PersistBatch(entries: entries, blocks: blocks))
        var received: [Entry] = []
        var start = 0
        while start < entries.count {
            let end = BlockShipper.messageEnd(entries, from: start, bytesMax: messageBytesMax)
            let previous = LogPosition(index: LogIndex(UInt64(start)), term: Term(start == 0 ? 0 : 1))
            var frame = ByteBuffer()
            leader.shipper.write(appendMessage(after: previous, Array(entries[start..<end])), into: &frame)
            received += try follower.shipper.decode(frame).entries
            start = end
        }
        #expect(leader.shipper.counters.blockFramesSent == 8 && leader.shipper.counters.entryFramesSent == 0)
        #expect(received == entries)
        try follower.persist(PersistBatch(entries: received, blocks: follower.shipper.blocks(persisting: received)))
        #expect(follower.shipper.counters.blocksEncoded == 0)
        #expect(try segmentBytes(follower.log.directory) == segmentBytes(leader.log.directory))
        leader.close()
        follower.close()
    }

    /// Catch-up after a restart (nothing recent in memory) ships whole blocks read back from the log when the
    /// range is block-aligned, and plain entries when it starts inside a block; both decode to the entries.
    @Test func catchUpReadsBlocksFromTheLog() throws {
        let directory = try TemporaryDataDirectory()
        let writer = try makeLogDisk(directory)
        let first = sampleEntries(1, 50)
        let second = sampleEntries(51, 90, term: 2)
        try writer.persist(PersistBatch(entries: first, blocks: writer.shipper.blocks(persisting: first)))
        try writer.persist(PersistBatch(entries: second, blocks: writer.shipper.blocks(persisting: second)))
        let restarted = BlockShipper(log: writer.log, messageBytesMax: 1 << 20)
        let receiver = BlockShipper(log: writer.log, messageBytesMax: 1 << 20)

        var aligned = ByteBuffer()
        restarted.write(appendMessage(after: .zero, first + second), into: &aligned)
        #expect(restarted.counters.blockFramesSent == 1 && restarted.counters.blocksSent == 2)
        #expect(try receiver.decode(aligned).entries == first + second)

        var inside = ByteBuffer()
        let tail = Array(first[10...])
        restarted.write(appendMessage(after: LogPosition(index: LogIndex(10), term: Term(1)), tail), into: &inside)
        #expect(restarted.counters.entryFramesSent == 1)
        #expect(inside.getInteger(at: inside.readerIndex, as: UInt8.self) == CodecLimits.messageVersion)
        #expect(try receiver.decode(inside).entries == tail)

        var partial = ByteBuffer()
        restarted.write(appendMessage(after: .zero, Array(first[..<20])), into: &partial)
        #expect(restarted.counters.entryFramesSent == 2, "a range ending inside a block goes as entries")
        writer.close()
    }

    /// A block damaged in transit is refused before the Raft core sees it, and nothing of it is kept: the
    /// follower's log stays empty and a later persist of the same entries encodes them afresh.
    @Test func corruptedBlockIsRejected() throws {
        let leaderDirectory = try TemporaryDataDirectory()
        let followerDirectory = try TemporaryDataDirectory()
        let leader = try makeLogDisk(leaderDirectory)
        let follower = try makeLogDisk(followerDirectory)
        let entries = sampleEntries(1, 30)
        _ = leader.shipper.blocks(persisting: entries)
        var frame = ByteBuffer()
        leader.shipper.write(appendMessage(after: .zero, entries), into: &frame)
        #expect(leader.shipper.counters.blockFramesSent == 1)
        for offset in [frame.readableBytes - 1, frame.readableBytes - 100, frame.readableBytes / 2] {
            var damaged = frame
            let byte = damaged.getInteger(at: offset, as: UInt8.self)!
            damaged.setInteger(byte ^ 0x10, at: offset)
            #expect(throws: PeerFrameError.self) { try follower.shipper.decode(damaged) }
        }
        var cut = frame
        cut.moveWriterIndex(to: frame.writerIndex - 7)
        #expect(throws: PeerFrameError.self) { try follower.shipper.decode(cut) }
        #expect(follower.shipper.counters.framesRejected == 4)
        #expect(follower.log.lastIndex == .zero)
        _ = follower.shipper.blocks(persisting: entries)
        #expect(follower.shipper.counters.blocksEncoded == 1, "no damaged block was remembered")
        leader.close()
        follower.close()
    }

    /// A catch-up range that starts and ends inside blocks ships the whole blocks between as they are, with the
    /// entries before and after them plain; a follower persisting those entries writes the received block
    /// unchanged and encodes only the plain parts.
    @Test func unalignedCatchUpShipsTheWholeBlocksInside() throws {
        let leaderDirectory = try TemporaryDataDirectory()
        let followerDirectory = try TemporaryDataDirectory()
        let leader = try makeLogDisk(leaderDirectory)
        let follower = try makeLogDisk(followerDirectory)
        for (first, last) in [(1, 50), (51, 90), (91, 120)] as [(UInt64, UInt64)] {
            let entries = sampleEntries(first, last)
            try leader.persist(PersistBatch(entries: entries, blocks: leader.shipper.blocks(persisting: entries)))
        }
        let restarted = BlockShipper(log: leader.log, messageBytesMax: 1 << 20)
        let range = sampleEntries(31, 100)
        var frame = ByteBuffer()
        restarted.write(appendMessage(after: LogPosition(index: LogIndex(30), term: Term(1)), range), into: &frame)
        #expect(restarted.counters.blockFramesSent == 1 && restarted.counters.blocksSent == 1)
        #expect(restarted.counters.plainEntriesInBlockFrames == 30, "20 leading and 10 trailing entries")
        let received = try follower.shipper.decode(frame)
        #expect(received.entries == range)
        let blocks = follower.shipper.blocks(persisting: received.entries)
        #expect(blocks.map(\.header.firstIndex) == [LogIndex(31), LogIndex(51), LogIndex(91)])
        #expect(follower.shipper.counters.receivedBlocksPersisted == 1 && follower.shipper.counters.blocksEncoded == 2)
        let leaderBlock = try #require(try leader.log.readBlocks(from: LogIndex(51), maxBytes: 1).first)
        #expect(blocks[1].bytes == leaderBlock.bytes)
        leader.close()
        follower.close()
    }

    /// A leader of a later term replaces a follower's conflicting suffix with its block: the follower's log
    /// keeps its own prefix, holds the leader's entries after it, and the replacing block is the leader's
    /// bytes (read back from the follower's log).
    @Test func receivedBlockReplacesAConflictingSuffix() throws {
        let leaderDirectory = try TemporaryDataDirectory()
        let followerDirectory = try TemporaryDataDirectory()
        let leader = try makeLogDisk(leaderDirectory)
        let follower = try makeLogDisk(followerDirectory)
        let common = sampleEntries(1, 5)
        let stale = sampleEntries(6, 10, term: 1, size: 120)
        try follower.persist(PersistBatch(entries: common + stale))
        try leader.persist(PersistBatch(entries: common))
        let winning = sampleEntries(6, 12, term: 2)
        try leader.persist(PersistBatch(entries: winning, blocks: leader.shipper.blocks(persisting: winning)))
        var frame = ByteBuffer()
        leader.shipper.write(
            appendMessage(after: LogPosition(index: LogIndex(5), term: Term(1)), winning), into: &frame)
        let received = try follower.shipper.decode(frame)
        let blocks = follower.shipper.blocks(persisting: received.entries)
        #expect(follower.shipper.counters.receivedBlocksPersisted == 1 && follower.shipper.counters.blocksEncoded == 0)
        try follower.persist(PersistBatch(entries: received.entries, blocks: blocks))
        #expect(try follower.log.entries(LogIndex(1)..<LogIndex(13)) == common + winning)
        #expect(follower.log.lastIndex == LogIndex(12) && follower.log.lastTerm == Term(2))
        let written = try #require(try follower.log.readBlocks(from: LogIndex(6), maxBytes: 1).first)
        let shipped = try #require(try leader.log.readBlocks(from: LogIndex(6), maxBytes: 1).first)
        #expect(written.bytes == shipped.bytes)
        leader.close()
        follower.close()
    }

    /// A follower's Ready that spans several received blocks, or starts inside one it already held a prefix
    /// of, writes every received block it wholly contains and encodes only the rest.
    @Test func readyAcrossReceivedBlocks() throws {
        let directory = try TemporaryDataDirectory()
        let leader = try makeLogDisk(directory)
        let first = sampleEntries(1, 10)
        let second = sampleEntries(11, 20)
        var frames: [ByteBuffer] = []
        for (entries, previous) in [
            (first, LogPosition.zero), (second, LogPosition(index: LogIndex(10), term: Term(1))),
        ] {
            try leader.persist(PersistBatch(entries: entries, blocks: leader.shipper.blocks(persisting: entries)))
            var frame = ByteBuffer()
            leader.shipper.write(appendMessage(after: previous, entries), into: &frame)
            frames.append(frame)
        }
        let receiver = BlockShipper(log: leader.log, messageBytesMax: 1 << 20)
        for frame in frames { _ = try receiver.decode(frame) }
        let whole = receiver.blocks(persisting: first + second)
        #expect(whole.map(\.header.firstIndex) == [LogIndex(1), LogIndex(11)])
        #expect(receiver.counters.receivedBlocksPersisted == 2 && receiver.counters.blocksEncoded == 0)
        let inside = receiver.blocks(persisting: Array((first + second)[3...]))
        #expect(inside.map(\.header.firstIndex) == [LogIndex(4), LogIndex(11)])
        #expect(receiver.counters.receivedBlocksPersisted == 3 && receiver.counters.blocksEncoded == 1)
        leader.close()
    }

    /// Blocks that do not continue the message's previous index are refused (they would misplace entries).
    @Test func misplacedBlockIsRejected() throws {
        let directory = try TemporaryDataDirectory()
        let disk = try makeLogDisk(directory)
        let entries = sampleEntries(1, 10)
        _ = disk.shipper.blocks(persisting: entries)
        var frame = ByteBuffer()
        var message = appendMessage(after: .zero, entries)
        disk.shipper.write(message, into: &frame)
        let (_, blocks) = try BlockShipper.parseBlockFrame(frame)
        #expect(blocks.count == 1)
        message.index = LogIndex(3)
        message.entries = []
        let header = message.encoded()
        var forged = ByteBuffer()
        forged.writeInteger(BlockShipper.blockFrameTag)
        forged.writeInteger(BlockShipper.blockFrameVersion)
        forged.writeInteger(UInt32(header.count))
        forged.writeBytes(header)
        forged.writeInteger(UInt32(0))
        forged.writeInteger(UInt32(1))
        forged.writeInteger(UInt32(blocks[0].bytes.count))
        forged.writeBytes(blocks[0].bytes)
        #expect(throws: PeerFrameError.self) { try BlockShipper.parseBlockFrame(forged) }

        // Plain entries that do not continue the message, or a leading count beyond them, are refused too.
        for (plainEntries, leading) in [(sampleEntries(5, 6), 2), (sampleEntries(13, 14), 0), (sampleEntries(1, 1), 2)]
        {
            message.index = .zero
            message.entries = plainEntries
            let withPlain = message.encoded()
            var bad = ByteBuffer()
            bad.writeInteger(BlockShipper.blockFrameTag)
            bad.writeInteger(BlockShipper.blockFrameVersion)
            bad.writeInteger(UInt32(withPlain.count))
            bad.writeBytes(withPlain)
            bad.writeInteger(UInt32(leading))
            bad.writeInteger(UInt32(1))
            bad.writeInteger(UInt32(blocks[0].bytes.count))
            bad.writeBytes(blocks[0].bytes)
            #expect(throws: PeerFrameError.self) { try BlockShipper.parseBlockFrame(bad) }
        }
        disk.close()
    }

    /// Messages that carry no entries (heartbeats, votes, empty appends) keep the plain encoding.
    @Test func otherMessagesStayPlain() throws {
        let directory = try TemporaryDataDirectory()
        let disk = try makeLogDisk(directory)
        var vote = SkiffRaft.Message(kind: .vote, from: NodeID(1), to: NodeID(2), term: Term(4))
        vote.index = LogIndex(9)
        for message in [vote, appendMessage(after: .zero, [])] {
            var frame = ByteBuffer()
            disk.shipper.write(message, into: &frame)
            #expect(Array(buffer: frame) == message.encoded())
            #expect(try disk.shipper.decode(frame) == message)
        }
        #expect(disk.shipper.counters == BlockShipper.Counters())
        disk.close()
    }
}
