import SkiffLog
import Testing

@Suite struct CRC32CTests {
    /// The implementation matches the published CRC-32C check value and RFC 3720 (iSCSI) test vectors.
    @Test func knownVectors() {
        #expect(CRC32C.checksum(of: Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum(of: [UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum(of: [UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(of: (0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum(of: (0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum(of: [UInt8]()) == 0)
    }

    /// Continuing a checksum over a split input equals the checksum of the whole, for every split point
    /// (this exercises the 8-byte and the byte-at-a-time paths).
    @Test func chainingEqualsWhole() {
        let data = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = CRC32C.checksum(of: data)
        for split in 0...data.count {
            let first = CRC32C.checksum(of: data[0..<split])
            #expect(CRC32C.checksum(of: data[split...], continuing: first) == whole)
        }
    }

    /// The dispatched checksum (the SSE4.2 instruction where present) equals the table code for every length
    /// up to 300 bytes at every alignment in a word, and when continuing a previous checksum.
    @Test func dispatchedEqualsSoftware() {
        let data = (0..<320).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        data.withUnsafeBytes { all in
            for start in 0..<8 {
                for length in 0...300 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.checksum(of: slice) == CRC32C.softwareChecksum(of: slice))
                    #expect(
                        CRC32C.checksum(of: slice, continuing: 0xDEAD_BEEF)
                            == CRC32C.softwareChecksum(of: slice, continuing: 0xDEAD_BEEF))
                }
            }
        }
    }
}
