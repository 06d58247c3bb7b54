import SkiffRaft

extension BlockCodec {
    /// Parses and validates the 32-byte fixed header (not the checksum). Returns the header with empty term
    /// runs, the number of term runs, and the block's total size, so a reader knows how much to read.
    public static func parseFixedHeader(
        _ bytes: UnsafeRawBufferPointer
    ) throws -> (header: BlockHeader, termRunCount: Int, totalBytes: Int) {
        guard bytes.count >= fixedHeaderBytes else {
            throw BlockDecodeError.tooShort(needed: fixedHeaderBytes, available: bytes.count)
        }
        let foundMagic = bytes.loadLittleEndian(at: 0, as: UInt32.self)
        guard foundMagic == magic else { throw BlockDecodeError.badMagic(foundMagic) }
        let foundVersion = bytes[4]
        guard foundVersion == version else { throw BlockDecodeError.unsupportedVersion(foundVersion) }
        guard let codec = BlockCodecKind(rawValue: bytes[5]) else { throw BlockDecodeError.unknownCodec(bytes[5]) }
        let runCount = Int(bytes.loadLittleEndian(at: 6, as: UInt16.self))
        let header = BlockHeader(
            codec: codec, firstIndex: LogIndex(bytes.loadLittleEndian(at: 8, as: UInt64.self)),
            entryCount: bytes.loadLittleEndian(at: 16, as: UInt32.self),
            uncompressedBytes: bytes.loadLittleEndian(at: 20, as: UInt32.self),
            storedBytes: bytes.loadLittleEndian(at: 24, as: UInt32.self),
            checksum: bytes.loadLittleEndian(at: checksumOffset, as: UInt32.self), termRuns: [])
        try validate(header, runCount: runCount)
        return (header, runCount, fixedHeaderBytes + runCount * termRunBytes + Int(header.storedBytes))
    }

    private static func validate(_ header: BlockHeader, runCount: Int) throws {
        let count = Int(header.entryCount)
        guard header.firstIndex.rawValue >= 1, header.firstIndex.rawValue <= UInt64(Int64.max) else {
            throw BlockDecodeError.inconsistentHeader("first index \(header.firstIndex.rawValue)")
        }
        guard count <= entryCountMax, Int(header.uncompressedBytes) <= uncompressedBytesMax else {
            throw BlockDecodeError.inconsistentHeader("count \(count) or size \(header.uncompressedBytes) above bound")
        }
        if count == 0 {
            guard runCount == 0, header.uncompressedBytes == 0, header.storedBytes == 0, header.codec == .raw else {
                throw BlockDecodeError.inconsistentHeader("truncation record with contents")
            }
            return
        }
        guard runCount >= 1, runCount <= count else {
            throw BlockDecodeError.inconsistentHeader("\(runCount) term runs for \(count)")
        }
        guard Int(header.uncompressedBytes) >= count * entryOverheadBytes else {
            throw BlockDecodeError.inconsistentHeader(
                "payload \(header.uncompressedBytes) too small for \(count) entries")
        }
        switch header.codec {
        case .raw:
            guard header.storedBytes == header.uncompressedBytes else {
                throw BlockDecodeError.inconsistentHeader("raw size")
            }
        case .lz4, .lz4Chunks:
            guard header.storedBytes > 0, header.storedBytes < header.uncompressedBytes else {
                throw BlockDecodeError.inconsistentHeader(
                    "lz4 stored \(header.storedBytes) of \(header.uncompressedBytes)")
            }
        }
    }

    /// Validates a whole block (header, term runs, checksum). `bytes` MUST be exactly one block.
    public static func verify(_ bytes: UnsafeRawBufferPointer) throws -> BlockHeader {
        try verify(bytes, checkingChecksum: true)
    }

    /// The header of a block this process just encoded (and checksummed): every structural check of `verify`
    /// but not the CRC pass over the payload.
    static func headerOfEncoded(_ bytes: [UInt8]) throws -> BlockHeader {
        try bytes.withUnsafeBytes { try verify($0, checkingChecksum: false) }
    }

    private static func verify(_ bytes: UnsafeRawBufferPointer, checkingChecksum: Bool) throws -> BlockHeader {
        var (header, runCount, total) = try parseFixedHeader(bytes)
        guard bytes.count == total else {
            throw bytes.count < total
                ? BlockDecodeError.tooShort(needed: total, available: bytes.count)
                : BlockDecodeError.inconsistentHeader("\(bytes.count) bytes for a block of \(total)")
        }
        if checkingChecksum {
            let computed = checksum(bytes)
            guard computed == header.checksum else {
                throw BlockDecodeError.checksumMismatch(stored: header.checksum, computed: computed)
            }
        }
        var covered: UInt64 = 0
        var previous: Term?
        header.termRuns.reserveCapacity(runCount)
        for run in 0..<runCount {
            let base = fixedHeaderBytes + run * termRunBytes
            let term = Term(bytes.loadLittleEndian(at: base, as: UInt64.self))
            let length = bytes.loadLittleEndian(at: base + 8, as: UInt32.self)
            guard length > 0, previous.map({ $0 < term }) ?? true else {
                throw BlockDecodeError.inconsistentHeader("term run \(run) empty or not increasing")
            }
            previous = term
            covered += UInt64(length)
            header.termRuns.append(TermRun(term: term, count: length))
        }
        guard covered == UInt64(header.entryCount) else {
            throw BlockDecodeError.inconsistentHeader("term runs cover \(covered) of \(header.entryCount) entries")
        }
        return header
    }

    /// Validates a block held in an array.
    public static func verify(_ bytes: [UInt8]) throws -> BlockHeader {
        try bytes.withUnsafeBytes { try verify($0) }
    }

    /// The CRC32C of a block with its checksum field read as zero.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let zero: [UInt8] = [0, 0, 0, 0]
        var crc = CRC32C.checksum(of: UnsafeRawBufferPointer(rebasing: bytes[0..<checksumOffset]))
        crc = zero.withUnsafeBytes { CRC32C.checksum(of: $0, continuing: crc) }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[(checksumOffset + 4)...])
        return CRC32C.checksum(of: rest, continuing: crc)
    }

    /// Verifies a block and decodes its entries.
    public static func decode(_ bytes: [UInt8]) throws -> [Entry] {
        let header = try verify(bytes)
        return try bytes.withUnsafeBytes { try decodePayload(header: header, block: $0) }
    }

    /// Verifies a block received from elsewhere (a leader) and decodes it, keeping its bytes unchanged.
    /// Throws `BlockDecodeError` on any damage; a truncation record is not a replicable block.
    public static func decodeBlock(_ bytes: [UInt8]) throws -> RawBlock {
        let header = try verify(bytes)
        guard !header.isTruncation else { throw BlockDecodeError.inconsistentHeader("truncation record") }
        let entries = try bytes.withUnsafeBytes { try decodePayload(header: header, block: $0) }
        return RawBlock(header: header, bytes: bytes, decodedEntries: entries)
    }

    /// Decodes the entries of a block already verified by `verify`.
    static func decodePayload(header: BlockHeader, block: UnsafeRawBufferPointer) throws -> [Entry] {
        if header.isTruncation { return [] }
        let payloadStart = fixedHeaderBytes + header.termRuns.count * termRunBytes
        let stored = UnsafeRawBufferPointer(rebasing: block[payloadStart...])
        switch header.codec {
        case .raw:
            return try parseEntries(header: header, payload: stored)
        case .lz4:
            guard let payload = LZ4.decompress(stored, originalBytes: Int(header.uncompressedBytes)) else {
                throw BlockDecodeError.badPayload(
                    "lz4 payload does not decompress to \(header.uncompressedBytes) bytes")
            }
            return try payload.withUnsafeBytes { try parseEntries(header: header, payload: $0) }
        case .lz4Chunks:
            let payload = try decompressChunks(stored, uncompressedBytes: Int(header.uncompressedBytes))
            return try payload.withUnsafeBytes { try parseEntries(header: header, payload: $0) }
        }
    }

    /// Reads an `lz4Chunks` payload: the chunk table (count, then uncompressed and stored size per chunk) and
    /// each chunk's LZ4 bytes, which must decode to exactly its size and together fill `uncompressedBytes`.
    static func decompressChunks(_ stored: UnsafeRawBufferPointer, uncompressedBytes: Int) throws -> [UInt8] {
        guard stored.count >= chunkTableCountBytes else { throw BlockDecodeError.badPayload("chunk table cut") }
        let count = Int(stored.loadLittleEndian(at: 0, as: UInt16.self))
        let tableBytes = chunkTableCountBytes + count * chunkTableEntryBytes
        guard count >= 2, count <= chunkCountMax, tableBytes <= stored.count else {
            throw BlockDecodeError.badPayload("chunk table of \(count) chunks in \(stored.count) bytes")
        }
        var chunks: [(uncompressed: Int, stored: Int)] = []
        var uncompressedTotal = 0
        var storedTotal = tableBytes
        for chunk in 0..<count {
            let entry = chunkTableCountBytes + chunk * chunkTableEntryBytes
            let sizes = (
                Int(stored.loadLittleEndian(at: entry, as: UInt32.self)),
                Int(stored.loadLittleEndian(at: entry + 4, as: UInt32.self))
            )
            guard sizes.0 > 0, sizes.1 > 0 else { throw BlockDecodeError.badPayload("empty chunk \(chunk)") }
            uncompressedTotal += sizes.0
            storedTotal += sizes.1
            chunks.append(sizes)
        }
        guard uncompressedTotal == uncompressedBytes, storedTotal == stored.count else {
            throw BlockDecodeError.badPayload(
                "chunks hold \(uncompressedTotal) of \(uncompressedBytes) bytes in \(storedTotal) of \(stored.count)")
        }
        var failed: Int?
        let payload = [UInt8](unsafeUninitializedCapacity: uncompressedBytes) { buffer, initialized in
            let output = UnsafeMutableRawBufferPointer(buffer)
            var input = tableBytes
            var produced = 0
            for (chunk, sizes) in chunks.enumerated() {
                let source = UnsafeRawBufferPointer(rebasing: stored[input..<(input + sizes.stored)])
                let target = UnsafeMutableRawBufferPointer(rebasing: output[produced..<(produced + sizes.uncompressed)])
                guard LZ4.decompress(source, into: target) else {
                    failed = chunk
                    break
                }
                input += sizes.stored
                produced += sizes.uncompressed
            }
            initialized = failed == nil ? uncompressedBytes : 0
        }
        if let failed { throw BlockDecodeError.badPayload("lz4 chunk \(failed) does not decompress to its size") }
        return payload
    }

    private static func parseEntries(header: BlockHeader, payload: UnsafeRawBufferPointer) throws -> [Entry] {
        var entries: [Entry] = []
        entries.reserveCapacity(Int(header.entryCount))
        var position = 0
        var index = header.firstIndex
        for run in header.termRuns {
            for _ in 0..<run.count {
                guard position + entryOverheadBytes <= payload.count else {
                    throw BlockDecodeError.badPayload("entry \(index) header cut")
                }
                guard let kind = EntryKind(rawValue: payload[position]) else {
                    throw BlockDecodeError.badPayload("entry \(index) has kind \(payload[position])")
                }
                let length = Int(payload.loadLittleEndian(at: position + 1, as: UInt32.self))
                position += entryOverheadBytes
                guard length <= payload.count - position else {
                    throw BlockDecodeError.badPayload("entry \(index) data cut")
                }
                let data = [UInt8](UnsafeRawBufferPointer(rebasing: payload[position..<(position + length)]))
                entries.append(Entry(term: run.term, index: index, kind: kind, data: data))
                position += length
                index = index.next
            }
        }
        guard position == payload.count else {
            throw BlockDecodeError.badPayload("\(payload.count - position) trailing payload bytes")
        }
        return entries
    }
}
