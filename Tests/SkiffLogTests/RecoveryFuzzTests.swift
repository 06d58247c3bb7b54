import SkiffLog
import SkiffRaft
import Testing

@Suite struct RecoveryFuzzTests {
    /// Opening a log whose last segment was damaged at random (bit flips, cuts, garbage appended, random
    /// bytes overwritten) never crashes and never returns an entry that was not written: what it serves is
    /// always a prefix of the original entries, and it is either healthy or untrusted with a file and offset.
    @Test(arguments: 1...8)
    func damagedSegmentsNeverYieldGarbage(seedBase: UInt64) throws {
        var original: [Entry] = []
        for batch in 0..<12 {
            let first = UInt64(batch * 6 + 1)
            original += makeEntries(first, first + 5, term: UInt64(1 + batch / 4), size: 70)
        }
        let (fileSystem, log) = try makeSimLog()
        for batch in 0..<12 { try log.append(Array(original[(batch * 6)..<(batch * 6 + 6)])) }
        log.close()
        let path = "/data/log/seg-00000000000000000001.log"
        let pristine = try #require(fileSystem.contents(of: path))
        var generator = SeededRandom(seed: seedBase &* 7919)
        for _ in 0..<60 {
            var damaged = pristine
            for _ in 0..<(1 + Int(generator.next() % 3)) { Self.damage(&damaged, &generator) }
            fileSystem.setContents(of: path, to: damaged)
            let reopened = try SegmentedLog.open(
                directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
            let served = (try? allEntries(reopened)) ?? []
            #expect(served == Array(original.prefix(served.count)))
            if case .untrusted(let corruption) = reopened.health {
                #expect(corruption.file == path)
                #expect(corruption.offset >= 0 && corruption.offset < damaged.count)
            }
            reopened.close()
        }
    }

    static func damage(_ bytes: inout [UInt8], _ generator: inout SeededRandom) {
        guard !bytes.isEmpty else { return }
        switch generator.next() % 4 {
        case 0: bytes[Int(generator.next() % UInt64(bytes.count))] ^= UInt8(1) << UInt8(generator.next() % 8)
        case 1: bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
        case 2: bytes += (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        default:
            let start = Int(generator.next() % UInt64(bytes.count))
            for position in start..<min(bytes.count, start + 16) {
                bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            }
        }
    }
}
