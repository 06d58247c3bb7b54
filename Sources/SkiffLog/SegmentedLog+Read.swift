import SkiffRaft

extension SegmentedLog {
    /// The term of the entry at `index`. `logStart.index` is answered from the log start.
    ///
    /// Throws `.compacted` below the log start and `.unavailable` beyond the last entry.
    public func term(at index: LogIndex) throws -> Term {
        try lock.withLock {
            try checkReadable()
            return try termLocked(at: index)
        }
    }

    func termLocked(at index: LogIndex) throws -> Term {
        if index == state.logStart.index { return state.logStart.term }
        guard index > state.logStart.index else { throw LogError(.compacted(state.logStart.index)) }
        guard index <= lastIndexValue else { throw LogError(.unavailable(index)) }
        return blocks[blockPosition(containing: index)].header.term(at: index)
    }

    /// The position in `blocks` of the live block holding `index` (which MUST be in the log).
    func blockPosition(containing index: LogIndex) -> Int {
        var low = 0
        var high = blocks.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if blocks[middle].firstIndex <= index { low = middle } else { high = middle - 1 }
        }
        precondition(
            !blocks.isEmpty && blocks[low].firstIndex <= index && index <= blocks[low].lastLive,
            "index \(index) not in live blocks (last \(lastIndexValue))")
        return low
    }

    /// Entries in `range`, stopping before the total data size would exceed `maxBytes` (at least one entry
    /// is returned when the range is not empty). Reads from the compressed blocks, verifying each checksum.
    ///
    /// Throws `.compacted` / `.unavailable` when the range leaves the log, and `.untrusted` when a block
    /// fails verification (the log then becomes untrusted).
    public func entries(_ range: Range<LogIndex>, maxBytes: Int = .max) throws -> [Entry] {
        try lock.withLock {
            try checkReadable()
            guard !range.isEmpty else { return [] }
            guard range.lowerBound > state.logStart.index else { throw LogError(.compacted(state.logStart.index)) }
            guard range.upperBound <= lastIndexValue.next else {
                throw LogError(.unavailable(range.upperBound.previous))
            }
            var result: [Entry] = []
            var bytes = 0
            var position = blockPosition(containing: range.lowerBound)
            var next = range.lowerBound
            while next < range.upperBound {
                let block = blocks[position]
                let decoded = try loadEntries(block)
                let end = min(block.lastLive, range.upperBound.previous)
                for offset in (next.rawValue - block.firstIndex.rawValue)...(end.rawValue - block.firstIndex.rawValue) {
                    let entry = decoded[Int(offset)]
                    if !result.isEmpty && bytes + entry.data.count > maxBytes { return result }
                    bytes += entry.data.count
                    result.append(entry)
                }
                next = end.next
                position += 1
            }
            return result
        }
    }

    /// The entry at `index`.
    public func entry(at index: LogIndex) throws -> Entry {
        let found = try entries(index..<index.next)
        return found[0]
    }

    /// Raw blocks (exactly as on disk) starting with the block that holds `index`, until `maxBytes` (at least
    /// one block). The first block may start before `index`. Stops before a block that a later truncation
    /// cut short; it returns [] when the block holding `index` is such a block: send entries instead.
    /// A follower appends each block with `appendVerifiedBlock`, which replaces its suffix from the block's
    /// first index atomically; when that index is at or below the follower's log start it throws
    /// `.compacted`, and the leader sends entries from `index` instead.
    public func readBlocks(from index: LogIndex, maxBytes: Int) throws -> [RawBlock] {
        try lock.withLock {
            try checkReadable()
            guard index > state.logStart.index else { throw LogError(.compacted(state.logStart.index)) }
            guard index <= lastIndexValue else { throw LogError(.unavailable(index)) }
            var result: [RawBlock] = []
            var bytes = 0
            var position = blockPosition(containing: index)
            while position < blocks.count, blocks[position].isFullyLive {
                let block = blocks[position]
                if !result.isEmpty && bytes + block.header.totalBytes > maxBytes { break }
                let raw = try readVerified(block)
                result.append(RawBlock(header: block.header, bytes: raw))
                bytes += raw.count
                position += 1
            }
            return result
        }
    }

    /// The live entries of the block holding `index`, from the in-memory index (no disk read); nil when
    /// `index` is not in the log. A replicator uses it to find the next block boundary.
    public func blockRange(containing index: LogIndex) -> ClosedRange<LogIndex>? {
        lock.withLock {
            guard !isClosed, index > state.logStart.index, index <= lastIndexValue else { return nil }
            let block = blocks[blockPosition(containing: index)]
            return block.firstIndex...block.lastLive
        }
    }

    /// The decoded entries of a block, from the cache or from disk.
    private func loadEntries(_ block: BlockRef) throws -> [Entry] {
        let key = CacheKey(segment: block.segment, offset: block.offset)
        if let cached = cache.value(for: key) { return cached }
        let raw = try readVerified(block)
        let decoded: [Entry]
        do {
            decoded = try raw.withUnsafeBytes { try BlockCodec.decodePayload(header: block.header, block: $0) }
        } catch let error as BlockDecodeError {
            throw corruptionFound(block, .badBlock(error))
        }
        cache.insert(decoded, for: key, weight: Int(block.header.uncompressedBytes))
        return decoded
    }

    /// Reads a block's bytes and checks them against its checksum and the header indexed at open.
    private func readVerified(_ block: BlockRef) throws -> [UInt8] {
        let segment = segment(block.segment)
        let raw: [UInt8]
        do {
            raw = try segment.file.read(at: block.offset, count: block.header.totalBytes)
        } catch let error as FileSystemError {
            throw LogError(.io(error))
        }
        do {
            let header = try BlockCodec.verify(raw)
            guard header == block.header else {
                throw BlockDecodeError.inconsistentHeader("header differs from the one indexed at open")
            }
        } catch let error as BlockDecodeError {
            throw corruptionFound(block, .badBlock(error))
        }
        return raw
    }

    private func corruptionFound(_ block: BlockRef, _ reason: LogCorruption.Reason) -> LogError {
        let corruption = LogCorruption(file: segment(block.segment).path, offset: block.offset, reason: reason)
        markUntrusted(corruption)
        return LogError(.untrusted(corruption))
    }
}
