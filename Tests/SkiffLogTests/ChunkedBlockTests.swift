import Dispatch
import SkiffLog
import SkiffRaft
import Testing

@Suite struct ChunkedBlockTests {
    /// A payload of 64 KiB or more is stored as independently compressed LZ4 chunks behind a chunk table
    /// (docs/storage.md §3.1); it verifies, decodes to the same entries, and encodes to the same bytes every
    /// time, whichever threads compressed which chunk.
    @Test func largePayloadsBecomeChunkedBlocksThatRoundTrip() throws {
        let cases: [(entries: [Entry], chunks: Int)] = [
            (makeEntries(1, 1, size: 65_536), 4),
            (makeEntries(10, 209, term: 3, size: 1_000), 4),
            (makeEntries(5, 7, term: 2, size: 2 << 20) + makeEntries(8, 8, term: 4, size: 10), 6),
        ]
        for (entries, chunks) in cases {
            let block = BlockCodec.encode(entries[...])
            let header = try BlockCodec.verify(block)
            #expect(header.codec == .lz4Chunks)
            #expect(header.storedBytes < header.uncompressedBytes)
            #expect(header.totalBytes == block.count)
            #expect(chunkCount(block, header) == chunks)
            #expect(try BlockCodec.decode(block) == entries)
            for round in 0..<8 { #expect(BlockCodec.encode(entries[...], callerWaits: round % 2 == 0) == block) }
            let decoded = try BlockCodec.decodeBlock(block)
            #expect(decoded.decodedEntries == entries)
        }
    }

    /// Several threads encoding large blocks at once share the compressor's workers without mixing up their
    /// chunks: every block decodes to its own entries and equals the block encoded alone.
    @Test func concurrentEncodersGetTheirOwnChunks() throws {
        let batches = (0..<6).map { makeEntries(1, 80, size: 1_000, seed: UInt64(100 + $0)) }
        let expected = batches.map { BlockCodec.encode($0[...]) }
        let mismatches = MismatchCounter()
        DispatchQueue.concurrentPerform(iterations: 6) { thread in
            for round in 0..<20 {
                let batch = (thread + round) % batches.count
                let block = BlockCodec.encode(batches[batch][...])
                if block != expected[batch] || (try? BlockCodec.decode(block)) != batches[batch] { mismatches.add() }
            }
        }
        #expect(mismatches.value == 0)
    }

    /// Below 64 KiB the single-stream LZ4 codec is kept, and a large payload LZ4 cannot shrink is stored raw.
    @Test func smallOrIncompressiblePayloadsAreNotChunked() throws {
        let small = makeEntries(1, 1, size: 65_000)
        #expect(try BlockCodec.verify(BlockCodec.encode(small[...])).codec == .lz4)
        var generator = SeededRandom(seed: 5)
        let noise = [
            Entry(
                term: Term(1), index: LogIndex(1),
                data: (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            )
        ]
        let block = BlockCodec.encode(noise[...])
        #expect(try BlockCodec.verify(block).codec == .raw)
        #expect(try BlockCodec.decode(block) == noise)
    }

    /// A damaged chunk table or chunk is a typed decode error, never a crash or wrong entries, even when the
    /// block's CRC has been recomputed over the damage (so only the structural checks can catch it).
    @Test func damagedChunkTablesAreRejected() throws {
        let entries = makeEntries(1, 100, size: 1_000)
        let block = BlockCodec.encode(entries[...])
        let header = try BlockCodec.verify(block)
        let table = BlockCodec.fixedHeaderBytes + header.termRuns.count * BlockCodec.termRunBytes
        var generator = SeededRandom(seed: 77)
        var rejected = 0
        for round in 0..<2_000 {
            var damaged = block
            let span = round % 2 == 0 ? 2 + 4 * 8 : Int(header.storedBytes)
            let position = table + Int(generator.next() % UInt64(span))
            damaged[position] ^= UInt8(1) << UInt8(generator.next() % 8)
            refreshChecksum(&damaged)
            #expect(try BlockCodec.verify(damaged).codec == .lz4Chunks)
            do {
                let decoded = try BlockCodec.decode(damaged)
                // A flipped literal inside a chunk still decodes, to different bytes of the same sizes.
                #expect(decoded.count == entries.count)
            } catch is BlockDecodeError {
                rejected += 1
            }
        }
        #expect(rejected > 500)
        var zeroCount = block
        zeroCount[table] = 0
        zeroCount[table + 1] = 0
        refreshChecksum(&zeroCount)
        #expect(throws: BlockDecodeError.self) { try BlockCodec.decode(zeroCount) }
    }

    /// A large entry appended to the log on disk reads back after a reopen (recovery scans chunked blocks like
    /// any other: it checks the CRC without decompressing).
    @Test func logStoresChunkedBlocks() throws {
        let (fileSystem, log) = try makeSimLog()
        let entries = makeEntries(1, 1, size: 300_000) + makeEntries(2, 3, size: 50)
        try log.append(Array(entries.prefix(1)))
        try log.append(Array(entries.dropFirst()))
        log.close()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
        #expect(reopened.health == .healthy)
        #expect(try allEntries(reopened) == entries)
    }

    private func chunkCount(_ block: [UInt8], _ header: BlockHeader) -> Int {
        let table = BlockCodec.fixedHeaderBytes + header.termRuns.count * BlockCodec.termRunBytes
        return Int(block[table]) | Int(block[table + 1]) << 8
    }

    private func refreshChecksum(_ block: inout [UInt8]) {
        block.replaceSubrange(28..<32, with: [0, 0, 0, 0])
        let crc = CRC32C.checksum(of: block)
        block.replaceSubrange(28..<32, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
    }
}

/// Counts failures seen by concurrent test threads.
private final class MismatchCounter: @unchecked Sendable {
    private let lock = SerialLock()
    private var count = 0
    var value: Int { lock.locked { count } }
    func add() { lock.locked { count += 1 } }
}

/// A serial queue used as a lock for the counter.
private final class SerialLock: @unchecked Sendable {
    private let queue = DispatchQueue(label: "chunked-block-tests.counter")
    func locked<T>(_ body: () -> T) -> T { queue.sync(execute: body) }
}
