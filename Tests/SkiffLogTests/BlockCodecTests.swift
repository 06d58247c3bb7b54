import SkiffLog
import SkiffRaft
import Testing

@Suite struct BlockCodecTests {
    /// Compressible entries over three terms become an LZ4 block (compressed straight into the block buffer)
    /// whose header, term runs, size and checksum verify, and which decodes to the same entries as the raw
    /// encoding of the same batch.
    @Test func compressedBlockRoundTrips() throws {
        let entries =
            makeEntries(5, 40, term: 2, size: 200) + makeEntries(41, 41, term: 3, size: 0)
            + makeEntries(42, 90, term: 7, size: 300)
        let block = BlockCodec.encode(entries[...])
        let header = try BlockCodec.verify(block)
        #expect(header.codec == .lz4)
        #expect(header.storedBytes < header.uncompressedBytes)
        #expect(header.totalBytes == block.count)
        #expect(header.firstIndex == LogIndex(5) && header.entryCount == 86)
        #expect(header.termRuns.map(\.term) == [Term(2), Term(3), Term(7)])
        #expect(header.termRuns.map(\.count) == [36, 1, 49])
        #expect(try BlockCodec.decode(block) == entries)
        let raw = BlockCodec.encode(entries[...], compress: false)
        #expect(try BlockCodec.verify(raw).codec == .raw)
        #expect(try BlockCodec.decode(raw) == entries)
        #expect(raw.count > block.count)
    }

    /// Payloads LZ4 cannot shrink (4,000 random bytes, a single one-byte entry) are stored raw and still decode.
    @Test func incompressiblePayloadIsStoredRaw() throws {
        var generator = SeededRandom(seed: 99)
        let noise = [
            Entry(
                term: Term(1), index: LogIndex(1),
                data: (0..<4000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        ]
        let tiny = [Entry(term: Term(1), index: LogIndex(1), data: [42])]
        for entries in [noise, tiny] {
            let block = BlockCodec.encode(entries[...])
            #expect(try BlockCodec.verify(block).codec == .raw)
            #expect(try BlockCodec.decode(block) == entries)
        }
    }
}
