import SkiffStore
import Testing

@Suite struct RowCompressionTests {
    static func compressible(_ count: Int) -> [UInt8] { [1] + (1..<count).map { UInt8(truncatingIfNeeded: $0 % 251) } }

    static func incompressible(_ count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return [1]
            + (1..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
    }

    /// A compressible value is stored as a smaller LZ4 frame (tag, original length) and decodes to the same bytes.
    @Test func compressibleValueRoundTrips() {
        let raw = Self.compressible(1024)
        let stored = RowCompression.encode(raw)
        #expect(stored.first == RowCompression.compressedTag)
        #expect(stored.count < raw.count / 2)
        #expect(RowCompression.originalLength(stored) == raw.count)
        #expect(RowCompression.decode(stored) == raw)
    }

    /// One compressor encodes a run of values into independent frames: each decodes alone, in any order, to its
    /// own bytes (no value refers back to an earlier one), and gives the same bytes as a one-off `encode`.
    @Test func compressorFramesAreIndependent() {
        let compressor = RowCompression.Compressor()
        let raws = (0..<20).map { Self.compressible(300 + 97 * $0) } + [Self.incompressible(700), [1, 2, 3]]
        let stored = raws.map { compressor.encode($0) }
        for (raw, value) in zip(raws, stored).reversed() {
            #expect(RowCompression.decode(value) == raw)
            #expect(value == RowCompression.encode(raw))
        }
    }

    /// A value too large for the compressor's kept scratch buffer is framed through a buffer of its own, and the
    /// compressor still encodes small values correctly afterwards.
    @Test func valuesLargerThanTheScratchBufferRoundTrip() {
        let compressor = RowCompression.Compressor()
        let small = Self.compressible(1024)
        let large = Self.compressible(RowCompression.Compressor.scratchBytesMax * 2)
        for raw in [small, large, small, Self.incompressible(2048), small] {
            let stored = compressor.encode(raw)
            #expect(RowCompression.decode(stored) == raw)
            #expect(stored == RowCompression.encode(raw))
        }
        #expect(compressor.encode(large).count < large.count / 2)
    }

    /// Values LZ4 does not shrink by an eighth, and short values, are stored raw and decode as themselves.
    @Test func incompressibleAndShortValuesStayRaw() {
        for raw in [Self.incompressible(4096), Self.compressible(RowCompression.compressBytesMin - 1), [], [1]] {
            let stored = RowCompression.encode(raw)
            #expect(stored == raw)
            #expect(RowCompression.originalLength(stored) == raw.count)
            #expect(RowCompression.decode(stored) == raw)
        }
    }

    /// A raw value that begins with the frame tag is always framed (even when short or incompressible), so a
    /// stored value is never ambiguous.
    @Test func rawValueStartingWithTheTagIsFramed() {
        for raw in [[RowCompression.compressedTag], [RowCompression.compressedTag] + Self.incompressible(600)] {
            let stored = RowCompression.encode(raw)
            #expect(stored != raw)
            #expect(stored.first == RowCompression.compressedTag)
            #expect(RowCompression.decode(stored) == raw)
        }
    }

    /// A damaged frame (truncated, wrong declared length, garbage block, absurd length) decodes to nil, never to
    /// wrong bytes.
    @Test func damagedFramesDecodeToNil() {
        let stored = RowCompression.encode(Self.compressible(2048))
        #expect(RowCompression.decode(Array(stored.prefix(stored.count - 3))) == nil)
        #expect(RowCompression.decode(Array(stored.prefix(RowCompression.frameHeaderBytes))) == nil)
        var longer = stored
        longer[4] &+= 1
        #expect(RowCompression.decode(longer) == nil)
        var huge = stored
        huge[1] = 0xFF
        #expect(RowCompression.originalLength(huge) == nil)
        #expect(RowCompression.decode(huge) == nil)
        let garbage = [RowCompression.compressedTag, 0, 0, 1, 0] + [UInt8](repeating: 0xF0, count: 40)
        #expect(RowCompression.decode(garbage) == nil)
    }
}
