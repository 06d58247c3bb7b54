import SkiffRaft

extension SegmentedLog {
    /// An encoded block ready to write, with its decoded entries when known (to warm the cache).
    struct PreparedBlock {
        var header: BlockHeader
        var bytes: [UInt8]
        var entries: [Entry]?
    }

    /// Appends entries as one block and returns once they are durable.
    ///
    /// If `entries[0].index <= lastIndex`, the suffix from there is replaced (Raft conflict resolution; the
    /// caller MUST NOT replace committed entries). Indexes MUST be contiguous, terms MUST NOT decrease.
    public func append(_ entries: [Entry]) throws {
        guard !entries.isEmpty else { return }
        try appendBatch([.entries(entries)])
    }

    /// Verifies a block received from the leader (checksum and header) and appends its bytes unchanged.
    /// Same suffix rule as `append`. Returns the block's header.
    @discardableResult
    public func appendVerifiedBlock(_ bytes: [UInt8]) throws -> BlockHeader {
        let header: BlockHeader
        do {
            header = try BlockCodec.verify(bytes)
        } catch let error as BlockDecodeError {
            throw LogError(.invalidBlock(error))
        }
        try appendBatch([.block(RawBlock(header: header, bytes: bytes))])
        return header
    }

    /// Cuts the log to `index - 1` durably (a truncation record). `index` MUST be above the log start.
    public func truncateSuffix(from index: LogIndex) throws {
        try appendBatch([.truncation(from: index)])
    }

    /// Writes several items with one write per segment and one `fdatasync`: the group-commit primitive.
    ///
    /// Items apply in order. On ENOSPC the log becomes `.readOnly`; on any other write or sync failure it
    /// becomes `.failed` for good. When a batch spans a segment roll, a prefix of it may be durable when an
    /// error is thrown: `lastIndex` tells.
    public func appendBatch(_ items: [AppendItem]) throws {
        // Lock order: writeLock, then lock. The write and the fdatasync run without `lock`, so readers
        // (replication, apply) are not held up by the sync; only the in-memory update takes it.
        try writeLock.withLock {
            let prepared = try lock.withLock { () throws -> [PreparedBlock] in
                try checkWritable()
                return try prepare(items)
            }
            guard !prepared.isEmpty else { return }
            try write(prepared)
        }
    }

    /// Validates the items against the log and each other, and encodes them.
    private func prepare(_ items: [AppendItem]) throws -> [PreparedBlock] {
        var last = lastIndexValue
        var lastTerm = lastTermLocked()
        var prepared: [PreparedBlock] = []
        for item in items {
            if case .entries(let entries) = item, entries.isEmpty { continue }
            let first = item.firstIndex
            guard first > state.logStart.index else { throw LogError(.compacted(state.logStart.index)) }
            guard first <= last.next else { throw LogError(.notContiguous(expectedAtMost: last.next, got: first)) }
            let previousTerm = first.previous == last ? lastTerm : try term(at: first.previous, after: prepared)
            switch item {
            case .entries(let entries):
                try validate(entries, previousTerm: previousTerm)
                prepared += encodeBlocks(entries)
                last = entries.last!.index
                lastTerm = entries.last!.term
            case .block(let block):
                if let firstTerm = block.header.termRuns.first?.term, firstTerm < previousTerm {
                    throw LogError(.termRegression(first))
                }
                prepared.append(PreparedBlock(header: block.header, bytes: block.bytes, entries: block.decodedEntries))
                last = block.header.lastIndex
                lastTerm = block.header.termRuns.last?.term ?? previousTerm
            case .truncation(let from):
                let bytes = BlockCodec.encodeTruncation(from: from)
                prepared.append(PreparedBlock(header: try BlockCodec.verify(bytes), bytes: bytes, entries: nil))
                last = from.previous
                lastTerm = previousTerm
            }
        }
        return prepared
    }

    /// The term of `index` in the log as it will be once `prepared` is applied.
    ///
    /// The latest prepared block starting at or below `index` holds it (a later block starting above it
    /// cannot have cut it); when there is none, the log does.
    private func term(at index: LogIndex, after prepared: [PreparedBlock]) throws -> Term {
        if let holder = prepared.last(where: { $0.header.firstIndex <= index }) {
            precondition(
                !holder.header.isTruncation && index <= holder.header.lastIndex,
                "index \(index) cut by the batch but below its end")
            return holder.header.term(at: index)
        }
        return try termLocked(at: index)
    }

    private func validate(_ entries: [Entry], previousTerm: Term) throws {
        var expected = entries[0].index
        var term = previousTerm
        for entry in entries {
            guard entry.index == expected else {
                throw LogError(.notContiguous(expectedAtMost: expected, got: entry.index))
            }
            guard entry.term >= term else { throw LogError(.termRegression(entry.index)) }
            expected = expected.next
            term = entry.term
        }
    }

    /// Splits entries into blocks within the codec's bounds (normally one block) and encodes them.
    private func encodeBlocks(_ entries: [Entry]) -> [PreparedBlock] {
        // A synchronous append: this thread waits for the fsync and then encodes the caller's next batch.
        BlockCodec.encodeBlocks(entries, compress: options.compress, callerWaits: true).map {
            PreparedBlock(header: $0.header, bytes: $0.bytes, entries: $0.decodedEntries)
        }
    }

    /// Writes prepared blocks, rolling segments as needed; one write and one fdatasync per segment touched.
    /// MUST be called with `writeLock` held and `lock` not held.
    private func write(_ prepared: [PreparedBlock]) throws {
        var pending = PendingWrite()
        var createdSegment = false
        for block in prepared {
            if segments.isEmpty {
                try rollSegment()
                createdSegment = true
            }
            let active = segments[segments.count - 1]
            let used = active.size + pending.bytes
            if used > LogFiles.segmentHeaderBytes && used + block.bytes.count > options.segmentBytesMax {
                try flush(&pending, syncDirectory: createdSegment)
                try rollSegment()
                createdSegment = true
            }
            pending.blocks.append((block, segments[segments.count - 1].size + pending.bytes))
            pending.bytes += block.bytes.count
        }
        try flush(&pending, syncDirectory: createdSegment)
    }

    /// Blocks bound for the active segment, with their offsets in it.
    private struct PendingWrite {
        var blocks: [(block: PreparedBlock, offset: Int)] = []
        var bytes = 0
    }

    private func flush(_ pending: inout PendingWrite, syncDirectory: Bool) throws {
        guard pending.bytes > 0 else { return }
        let active = segments[segments.count - 1]
        do {
            if pending.blocks.count == 1 {
                // The common case (one block per append): write the block's own buffer, no concatenation copy.
                try active.file.write(at: active.size, pending.blocks[0].block.bytes)
            } else {
                var joined: [UInt8] = []
                joined.reserveCapacity(pending.bytes)
                for (block, _) in pending.blocks { joined += block.bytes }
                try active.file.write(at: active.size, joined)
            }
            // The zeros go after the data: a crash keeps a prefix of the writes, and zeros behind a torn block
            // read as free space.
            try preallocate(active, through: active.size + pending.bytes)
        } catch let error as FileSystemError {
            throw writeFailed(error, segment: active)
        }
        do {
            try active.file.dataSync()
            if syncDirectory { try fileSystem.syncDirectory(directory) }
        } catch let error as FileSystemError {
            // Invariant: a failed sync is never retried; the durable state is unknown.
            lock.withLock { healthValue = .failed(error) }
            throw LogError(.failed(error))
        }
        lock.withLock {
            active.size += pending.bytes
            for (block, offset) in pending.blocks {
                apply(block.header, segment: active.sequence, offset: offset)
                if let entries = block.entries {
                    cache.insert(
                        entries, for: CacheKey(segment: active.sequence, offset: offset),
                        weight: Int(block.header.uncompressedBytes))
                }
            }
        }
        pending = PendingWrite()
    }

    /// Zero-fills the segment `preallocateBytes` beyond `end` (not beyond `segmentBytesMax` unless `end` is)
    /// when `end` passes the zeroed region, in the same flush as the data that needs it.
    private func preallocate(_ segment: Segment, through end: Int) throws {
        let step = options.preallocateBytes
        guard step > 0, end > segment.allocated else { return }
        let target = max(end, min(end + step, options.segmentBytesMax))
        var offset = end
        while offset < target {
            let count = min(target - offset, Self.zeroChunk.count)
            try segment.file.write(
                at: offset, count == Self.zeroChunk.count ? Self.zeroChunk : Array(Self.zeroChunk.prefix(count)))
            offset += count
        }
        segment.allocated = target
    }

    /// Zeros written by `preallocate`, a chunk at a time.
    private static let zeroChunk = [UInt8](repeating: 0, count: 256 << 10)

    /// ENOSPC: cut back to the last durable size and go read-only. Anything else: failed for good.
    private func writeFailed(_ error: FileSystemError, segment: Segment) -> LogError {
        guard error.kind == .noSpace else { return enterFailed(error) }
        do {
            try segment.file.truncate(to: segment.size)
            segment.allocated = segment.size
        } catch let truncateError as FileSystemError {
            return enterFailed(truncateError)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
        lock.withLock { healthValue = .readOnly(error) }
        return LogError(.noSpace(error))
    }

    private func enterFailed(_ error: FileSystemError) -> LogError {
        lock.withLock { healthValue = .failed(error) }
        return LogError(.failed(error))
    }

    /// Creates the next segment file with its header (made durable by the next flush and directory sync).
    private func rollSegment() throws {
        let sequence = segments.last.map { $0.sequence + 1 } ?? state.firstSegmentSequence
        let path = joinPath(directory, LogFiles.segmentName(sequence))
        let file: any StorageFile
        do {
            file = try fileSystem.open(path, create: true)
            try file.truncate(to: 0)
            try file.write(at: 0, LogFiles.encodeSegmentHeader(sequence: sequence))
        } catch let error as FileSystemError {
            guard error.kind == .noSpace else { throw enterFailed(error) }
            lock.withLock { healthValue = .readOnly(error) }
            throw LogError(.noSpace(error))
        }
        let segment = Segment(sequence: sequence, path: path, file: file, size: LogFiles.segmentHeaderBytes)
        lock.withLock { segments.append(segment) }
    }
}
