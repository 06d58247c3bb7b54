import SkiffRaft

/// A run of consecutive entries with the same term inside a block.
public struct TermRun: Sendable, Hashable {
    public var term: Term
    public var count: UInt32

    public init(term: Term, count: UInt32) {
        self.term = term
        self.count = count
    }
}

/// How a block's payload is stored.
public enum BlockCodecKind: UInt8, Sendable, Hashable {
    /// Stored as is (used when LZ4 would not shrink it, and for truncation records).
    case raw = 0
    /// LZ4 block format.
    case lz4 = 1
    /// Independently compressed LZ4 chunks behind a chunk table, for large payloads: the chunks are compressed
    /// (and can be decompressed) in parallel.
    case lz4Chunks = 2
}

/// The decoded, validated header of a log block (see docs/storage.md, "Block").
public struct BlockHeader: Sendable, Hashable {
    public var codec: BlockCodecKind
    /// The index of the first entry. For a truncation record (`entryCount == 0`): the log is cut to
    /// `firstIndex - 1`.
    public var firstIndex: LogIndex
    public var entryCount: UInt32
    public var uncompressedBytes: UInt32
    public var storedBytes: UInt32
    public var checksum: UInt32
    public var termRuns: [TermRun]

    /// The block's size on disk: fixed header, term runs, payload.
    public var totalBytes: Int {
        BlockCodec.fixedHeaderBytes + termRuns.count * BlockCodec.termRunBytes + Int(storedBytes)
    }
    /// The index of the last entry (`firstIndex - 1` for a truncation record).
    public var lastIndex: LogIndex { LogIndex(firstIndex.rawValue + UInt64(entryCount) - 1) }
    /// Whether this block is a truncation record rather than entries.
    public var isTruncation: Bool { entryCount == 0 }

    /// The term of entry `index`, which MUST lie inside the block.
    public func term(at index: LogIndex) -> Term {
        precondition(
            index >= firstIndex && index <= lastIndex, "term(at: \(index)) outside block \(firstIndex)+\(entryCount)")
        var offset = index.rawValue - firstIndex.rawValue
        for run in termRuns {
            if offset < UInt64(run.count) { return run.term }
            offset -= UInt64(run.count)
        }
        preconditionFailure("term runs of block \(firstIndex) do not cover \(entryCount) entries")
    }
}

/// A block exactly as stored on disk: the unit of replication.
public struct RawBlock: Sendable, Hashable {
    public var header: BlockHeader
    public var bytes: [UInt8]
    /// The decoded entries when the encoder or decoder still has them (to warm the log's cache); not part of
    /// equality.
    public private(set) var decodedEntries: [Entry]?

    public init(header: BlockHeader, bytes: [UInt8]) {
        self.header = header
        self.bytes = bytes
    }

    /// A block with its entries, as `BlockCodec.encodeBlocks` and `BlockCodec.decodeBlock` return it. The entries
    /// MUST be exactly what the bytes decode to.
    public init(header: BlockHeader, bytes: [UInt8], decodedEntries: [Entry]) {
        self.header = header
        self.bytes = bytes
        self.decodedEntries = decodedEntries
    }

    public static func == (lhs: RawBlock, rhs: RawBlock) -> Bool {
        lhs.header == rhs.header && lhs.bytes == rhs.bytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(header)
        hasher.combine(bytes)
    }
}

/// Why bytes are not a valid block.
public enum BlockDecodeError: Error, Sendable, Hashable {
    case tooShort(needed: Int, available: Int)
    case badMagic(UInt32)
    case unsupportedVersion(UInt8)
    case unknownCodec(UInt8)
    case inconsistentHeader(String)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case badPayload(String)
}

/// Encodes and decodes log blocks. Pure functions; no I/O.
public enum BlockCodec {
    /// "SKLB" in file order.
    public static let magic: UInt32 = 0x424C_4B53
    public static let version: UInt8 = 1
    public static let fixedHeaderBytes = 32
    public static let termRunBytes = 12
    /// Per entry in the uncompressed payload: kind (1 byte) and data length (4 bytes).
    public static let entryOverheadBytes = 5
    /// Bound on a block's uncompressed payload; larger batches are split into several blocks.
    public static let uncompressedBytesMax = 16 << 20
    /// Bound on entries per block.
    public static let entryCountMax = 1 << 20
    /// Bound on term runs per block.
    public static let termRunCountMax = Int(UInt16.max)
    /// Offset of the checksum field in the fixed header.
    static let checksumOffset = 28
    /// Payloads at least this large are stored as `lz4Chunks`, so several cores can compress one block.
    public static let chunkedPayloadBytesMin = 64 << 10
    /// Bounds on one chunk's uncompressed bytes: a payload is cut in four chunks within these bounds (more than
    /// two, so a helper thread that wakes late still finds work; at least 16 KiB, so LZ4 still finds matches).
    static let chunkBytesMin = 16 << 10
    static let chunkBytesMax = 1 << 20
    /// Bound on chunks per block.
    public static let chunkCountMax = 16
    /// Per chunk in the chunk table: uncompressed and stored sizes (4 bytes each).
    static let chunkTableEntryBytes = 8
    /// The chunk table's leading count field (2 bytes).
    static let chunkTableCountBytes = 2

    /// Where one chunk comes from in the payload and where its compressed bytes may go in a scratch buffer.
    struct ChunkPlan: Sendable {
        var source: Range<Int>
        var destination: Range<Int>
    }

    /// How a payload of `payloadBytes` (at least `chunkedPayloadBytesMin`) is cut into chunks: a function of the
    /// size alone, so every node encodes the same entries to the same bytes. A quarter of the payload per chunk
    /// within `chunkBytesMin...chunkBytesMax`, at most `chunkCountMax` chunks, sizes differing by at most one byte.
    static func chunkRanges(payloadBytes: Int) -> [Range<Int>] {
        let target = min(chunkBytesMax, max(chunkBytesMin, payloadBytes / 4))
        let count = min(chunkCountMax, max(2, payloadBytes / target))
        let base = payloadBytes / count
        let longer = payloadBytes % count
        var start = 0
        return (0..<count).map { chunk in
            let end = start + base + (chunk < longer ? 1 : 0)
            defer { start = end }
            return start..<end
        }
    }

    /// Encodes entries (contiguous indexes, non-decreasing terms) as one block.
    ///
    /// `callerWaits`: the caller will wait for this block's `fdatasync` and then encode the next one (a
    /// synchronous append), so the compressor's workers stay awake briefly for it (`ChunkCompressor`).
    public static func encode(_ entries: ArraySlice<Entry>, compress: Bool = true, callerWaits: Bool = false) -> [UInt8]
    {
        precondition(!entries.isEmpty, "encode of an empty batch")
        let runs = termRuns(of: entries)
        var payload: [UInt8] = []
        payload.reserveCapacity(entries.reduce(0) { $0 + $1.data.count + entryOverheadBytes })
        var expected = entries.first!.index
        for entry in entries {
            precondition(entry.index == expected, "encode: entry \(entry.index) where \(expected) was expected")
            payload.append(entry.kind.rawValue)
            payload.appendLittleEndian(UInt32(entry.data.count))
            payload.append(contentsOf: entry.data)
            expected = expected.next
        }
        precondition(payload.count <= uncompressedBytesMax, "block payload \(payload.count) above bound")
        let first = entries.first!.index
        if compress,
            let block = compressedBlock(
                firstIndex: first, count: UInt32(entries.count), runs, payload, callerWaits: callerWaits)
        {
            return block
        }
        return assemble(firstIndex: first, count: UInt32(entries.count), runs: runs, stored: payload)
    }

    /// An LZ4 block with the payload compressed straight into the block's buffer (no intermediate copy); nil
    /// when LZ4 does not make the payload smaller.
    static func compressedBlock(
        firstIndex: LogIndex, count: UInt32, _ runs: [TermRun], _ payload: [UInt8], callerWaits: Bool = false
    ) -> [UInt8]? {
        if payload.count >= chunkedPayloadBytesMin {
            return chunkedBlock(firstIndex: firstIndex, count: count, runs, payload, callerWaits: callerWaits)
        }
        let headerBytes = fixedHeaderBytes + runs.count * termRunBytes
        let storedMax = payload.count - 1
        guard storedMax > 0 else { return nil }
        var stored = 0
        var block = [UInt8](unsafeUninitializedCapacity: headerBytes + storedMax) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            stored = payload.withUnsafeBytes {
                LZ4.compress($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[headerBytes...]))
            }
            guard stored > 0 else {
                initialized = 0
                return
            }
            let header = BlockHeader(
                codec: .lz4, firstIndex: firstIndex, entryCount: count, uncompressedBytes: UInt32(payload.count),
                storedBytes: UInt32(stored), checksum: 0, termRuns: runs)
            storeHeader(header, into: raw)
            initialized = headerBytes + stored
        }
        guard stored > 0 else { return nil }
        block.storeLittleEndian(CRC32C.checksum(of: block), at: checksumOffset)
        return block
    }

    /// An `lz4Chunks` block: header, chunk table, then each chunk's LZ4 bytes. The chunks are compressed in
    /// parallel into a scratch region of the block's own buffer and moved down to close the gaps. Nil when the
    /// result would not be smaller than the payload.
    static func chunkedBlock(
        firstIndex: LogIndex, count: UInt32, _ runs: [TermRun], _ payload: [UInt8], callerWaits: Bool
    ) -> [UInt8]? {
        let ranges = chunkRanges(payloadBytes: payload.count)
        let headerBytes = fixedHeaderBytes + runs.count * termRunBytes
        let tableBytes = chunkTableCountBytes + ranges.count * chunkTableEntryBytes
        var plans: [ChunkPlan] = []
        var scratch = headerBytes + tableBytes
        for range in ranges {
            let bound = LZ4.compressBound(range.count)
            plans.append(ChunkPlan(source: range, destination: scratch..<(scratch + bound)))
            scratch += bound
        }
        var stored = 0
        var block = [UInt8](unsafeUninitializedCapacity: scratch) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            let sizes = payload.withUnsafeBytes {
                ChunkCompressor.shared.compress($0, into: raw, chunks: plans, callerWaits: callerWaits)
            }
            guard !sizes.contains(0) else {
                initialized = 0
                return
            }
            var end = headerBytes + tableBytes
            var tableOffset = headerBytes
            raw.storeBytes(of: UInt16(ranges.count).littleEndian, toByteOffset: tableOffset, as: UInt16.self)
            tableOffset += chunkTableCountBytes
            for (plan, size) in zip(plans, sizes) {
                raw.storeBytes(of: UInt32(plan.source.count).littleEndian, toByteOffset: tableOffset, as: UInt32.self)
                raw.storeBytes(of: UInt32(size).littleEndian, toByteOffset: tableOffset + 4, as: UInt32.self)
                tableOffset += chunkTableEntryBytes
                if plan.destination.lowerBound != end {
                    (raw.baseAddress! + end).copyMemory(
                        from: raw.baseAddress! + plan.destination.lowerBound, byteCount: size)
                }
                end += size
            }
            stored = end - headerBytes
            guard stored < payload.count else {
                initialized = 0
                return
            }
            let header = BlockHeader(
                codec: .lz4Chunks, firstIndex: firstIndex, entryCount: count,
                uncompressedBytes: UInt32(payload.count), storedBytes: UInt32(stored), checksum: 0, termRuns: runs)
            storeHeader(header, into: raw)
            initialized = end
        }
        guard block.count > 0 else { return nil }
        block.storeLittleEndian(CRC32C.checksum(of: block), at: checksumOffset)
        return block
    }

    /// Writes the fixed header (checksum zero) and the term runs at the start of `raw`.
    private static func storeHeader(_ header: BlockHeader, into raw: UnsafeMutableRawBufferPointer) {
        var offset = 0
        func put<T: FixedWidthInteger>(_ value: T) {
            raw.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
            offset += MemoryLayout<T>.size
        }
        put(magic)
        put(version)
        put(header.codec.rawValue)
        put(UInt16(header.termRuns.count))
        put(header.firstIndex.rawValue)
        put(header.entryCount)
        put(header.uncompressedBytes)
        put(header.storedBytes)
        put(UInt32(0))  // checksum, filled by the caller
        for run in header.termRuns {
            put(run.term.rawValue)
            put(run.count)
        }
    }

    /// Encodes entries as blocks within the codec's bounds: normally one block, more only when the entries
    /// exceed `uncompressedBytesMax`, `entryCountMax` or `termRunCountMax`. This is how `SegmentedLog.append`
    /// splits a batch, so a follower that writes these blocks holds the same bytes as a leader that appended
    /// the same entries. Entries MUST be contiguous with non-decreasing terms, each within the bounds.
    public static func encodeBlocks(_ entries: [Entry], compress: Bool = true, callerWaits: Bool = false) -> [RawBlock]
    {
        var result: [RawBlock] = []
        var start = 0
        while start < entries.count {
            let end = blockEnd(entries, from: start)
            let slice = entries[start..<end]
            let encoded = encode(slice, compress: compress, callerWaits: callerWaits)
            // Paired check: what we write must parse back (the CRC was computed from these very bytes).
            let header = try! headerOfEncoded(encoded)
            result.append(RawBlock(header: header, bytes: encoded, decodedEntries: Array(slice)))
            start = end
        }
        return result
    }

    /// The end of the longest run of entries from `start` that fits one block (at least one entry).
    private static func blockEnd(_ entries: [Entry], from start: Int) -> Int {
        var end = start
        var bytes = 0
        var runs = 0
        while end < entries.count {
            let size = entries[end].data.count + entryOverheadBytes
            let newRun = end == start || entries[end].term != entries[end - 1].term
            let full = bytes + size > uncompressedBytesMax || end - start >= entryCountMax
            if (full || (newRun && runs >= termRunCountMax)) && end > start { break }
            precondition(size <= uncompressedBytesMax, "entry \(entries[end].index) of \(size) bytes")
            bytes += size
            runs += newRun ? 1 : 0
            end += 1
        }
        return end
    }

    /// Whether entries fit the bounds of one block.
    public static func fits(_ entries: [Entry]) -> Bool {
        guard !entries.isEmpty, entries.count <= entryCountMax else { return false }
        var bytes = 0
        var runs = 1
        for (position, entry) in entries.enumerated() {
            bytes += entry.data.count + entryOverheadBytes
            if position > 0 && entry.term != entries[position - 1].term { runs += 1 }
        }
        return bytes <= uncompressedBytesMax && runs <= termRunCountMax
    }

    /// Whether indexes are contiguous and terms never decrease (what `encode` requires).
    public static func isWellFormed(_ entries: [Entry]) -> Bool {
        for position in entries.indices.dropFirst() {
            let previous = entries[position - 1]
            let entry = entries[position]
            guard entry.index == previous.index.next, entry.term >= previous.term else { return false }
        }
        return true
    }

    /// Encodes a truncation record: replaying it cuts the log to `firstIndex - 1`.
    public static func encodeTruncation(from index: LogIndex) -> [UInt8] {
        assemble(firstIndex: index, count: 0, runs: [], stored: [])
    }

    static func termRuns(of entries: ArraySlice<Entry>) -> [TermRun] {
        var runs: [TermRun] = []
        for entry in entries {
            if let last = runs.last, last.term == entry.term {
                runs[runs.count - 1].count += 1
            } else {
                precondition(runs.last.map { $0.term < entry.term } ?? true, "terms decrease at \(entry.index)")
                runs.append(TermRun(term: entry.term, count: 1))
            }
        }
        return runs
    }

    /// A block whose payload is stored as given: the raw codec, or a truncation record when `count` is 0.
    static func assemble(firstIndex: LogIndex, count: UInt32, runs: [TermRun], stored: [UInt8]) -> [UInt8] {
        let header = BlockHeader(
            codec: .raw, firstIndex: firstIndex, entryCount: count, uncompressedBytes: UInt32(stored.count),
            storedBytes: UInt32(stored.count), checksum: 0, termRuns: runs)
        let headerBytes = fixedHeaderBytes + runs.count * termRunBytes
        var block = [UInt8](unsafeUninitializedCapacity: headerBytes + stored.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            storeHeader(header, into: raw)
            stored.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[headerBytes...]).copyMemory(from: $0) }
            initialized = headerBytes + stored.count
        }
        block.storeLittleEndian(CRC32C.checksum(of: block), at: checksumOffset)
        return block
    }
}
