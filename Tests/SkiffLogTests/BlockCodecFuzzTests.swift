import SkiffLog
import SkiffRaft
import Testing

@Suite struct BlockCodecFuzzTests {
    /// 100,000 random and mutated inputs never crash the decoder; every mutated block is rejected (the CRC
    /// or the header catches it), and unmutated blocks decode to their entries.
    @Test func decoderSurvivesRandomAndMutatedInput() throws {
        var generator = SeededRandom(seed: 2024)
        let valid = [
            BlockCodec.encode(makeEntries(1, 3, size: 20)[...]),
            BlockCodec.encode(makeEntries(7, 30, term: 4, size: 90)[...]),
            BlockCodec.encode(makeEntries(5, 5, size: 0)[...], compress: false),
            BlockCodec.encodeTruncation(from: LogIndex(9)),
            BlockCodec.encode(
                [
                    Entry(term: Term(1), index: LogIndex(2), data: [1]),
                    Entry(term: Term(3), index: LogIndex(3), kind: .noop),
                ][...]),
        ]
        for block in valid { #expect(throws: Never.self) { try BlockCodec.decode(block) } }
        var accepted = 0
        for round in 0..<100_000 {
            var input: [UInt8]
            var checksumProtected = true
            if round % 4 == 0 {
                input = (0..<Int(generator.next() % 96)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            } else {
                input = valid[Int(generator.next() % UInt64(valid.count))]
                checksumProtected = mutate(&input, &generator)
            }
            if let header = try? BlockCodec.verify(input) {
                if checksumProtected { accepted += 1 }
                if let entries = try? BlockCodec.decode(input) {
                    #expect(entries.count == Int(header.entryCount))
                }
                #expect(header.totalBytes == input.count)
            }
            _ = input.withUnsafeBytes { try? BlockCodec.parseFixedHeader($0) }
        }
        // Random bytes, bit flips, cuts and extensions must all be rejected (header fields rewritten with a
        // fixed-up CRC may legitimately still form a valid block, and are only required not to crash).
        #expect(accepted == 0)
    }

    /// Mutates `input`; returns whether the CRC still protects against the change.
    private func mutate(_ input: inout [UInt8], _ generator: inout SeededRandom) -> Bool {
        switch generator.next() % 4 {
        case 0:
            let position = Int(generator.next() % UInt64(input.count))
            input[position] ^= UInt8(1) << UInt8(generator.next() % 8)
            return true
        case 1:
            input = Array(input.prefix(Int(generator.next() % UInt64(input.count))))
            return true
        case 2:
            input += (0..<(1 + Int(generator.next() % 8))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            return true
        default:
            // Corrupt a header field and fix the CRC, so the structural checks are reached.
            let position = 4 + Int(generator.next() % 24)
            input[position] = UInt8(truncatingIfNeeded: generator.next())
            let crc = crcWithZeroField(input)
            input.replaceSubrange(28..<32, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
            return false
        }
    }

    private func crcWithZeroField(_ input: [UInt8]) -> UInt32 {
        var copy = input
        copy.replaceSubrange(28..<32, with: [0, 0, 0, 0])
        return CRC32C.checksum(of: copy)
    }
}
