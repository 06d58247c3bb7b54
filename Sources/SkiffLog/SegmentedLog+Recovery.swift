import SkiffRaft

extension SegmentedLog {
    /// Rebuilds the in-memory state from disk. MUST be called with the lock held, before the log is shared.
    func recover() throws {
        try fileSystem.makeDirectory(directory)
        let names = try fileSystem.list(directory: directory)
        if names.contains(LogFiles.stateTempFileName) {
            try removeFile(LogFiles.stateTempFileName)
        }
        let sequences = names.compactMap(LogFiles.parseSegmentName).sorted()
        guard try loadState(present: names.contains(LogFiles.stateFileName), hasSegments: !sequences.isEmpty) else {
            return
        }
        var kept: [UInt64] = []
        for sequence in sequences {
            if sequence < state.firstSegmentSequence {
                try removeFile(LogFiles.segmentName(sequence))
            } else {
                kept.append(sequence)
            }
        }
        if !report.removedFiles.isEmpty { try fileSystem.syncDirectory(directory) }
        lastIndexValue = state.logStart.index
        try loadSegments(kept)
        finishRecovery()
    }

    private func removeFile(_ name: String) throws {
        try fileSystem.unlink(joinPath(directory, name))
        report.removedFiles.append(name)
    }

    /// Reads the state file, or creates it for a new log. Returns false when the log is untrusted.
    private func loadState(present: Bool, hasSegments: Bool) throws -> Bool {
        let path = joinPath(directory, LogFiles.stateFileName)
        guard present else {
            if hasSegments {
                markUntrusted(LogCorruption(file: path, offset: 0, reason: .missingStateFile))
                return false
            }
            try writeStateFile(LogState())
            state = LogState()
            return true
        }
        let file = try fileSystem.open(path, create: false)
        defer { file.close() }
        let bytes = try file.read(at: 0, count: LogFiles.stateBytes + 1)
        switch LogState.decode(bytes) {
        case .success(let decoded):
            state = decoded
            return true
        case .failure(let problem):
            markUntrusted(LogCorruption(file: path, offset: 0, reason: .badStateFile(problem.message)))
            return false
        }
    }

    /// Opens and scans the segments in order, stopping at the first corruption.
    private func loadSegments(_ sequences: [UInt64]) throws {
        for (position, sequence) in sequences.enumerated() {
            let expected = state.firstSegmentSequence + UInt64(position)
            guard sequence == expected else {
                let path = joinPath(directory, LogFiles.segmentName(expected))
                markUntrusted(LogCorruption(file: path, offset: 0, reason: .missingSegment(sequence: expected)))
                return
            }
            let path = joinPath(directory, LogFiles.segmentName(sequence))
            let file = try fileSystem.open(path, create: false)
            let bytes = try file.read(at: 0, count: try file.size())
            report.segmentsScanned += 1
            report.bytesScanned += bytes.count
            let isLast = position == sequences.count - 1
            let outcome = scanSegment(bytes, sequence: sequence, path: path, isLast: isLast)
            switch outcome {
            case .clean(let end):
                segments.append(Segment(sequence: sequence, path: path, file: file, size: end, allocated: bytes.count))
            case .torn(let offset, let reason):
                try cutTornTail(file: file, path: path, sequence: sequence, offset: offset, size: bytes.count, reason)
            case .corrupt(let corruption):
                segments.append(Segment(sequence: sequence, path: path, file: file, size: bytes.count))
                markUntrusted(corruption)
                return
            }
        }
    }

    private func cutTornTail(
        file: any StorageFile, path: String, sequence: UInt64, offset: Int, size: Int, _ reason: String
    ) throws {
        report.tornTail = TornTail(file: path, offset: offset, bytesRemoved: size - offset, reason: reason)
        if offset < LogFiles.segmentHeaderBytes {
            // Not even the header survived: the segment was being created. Remove it.
            file.close()
            try fileSystem.unlink(path)
            try fileSystem.syncDirectory(directory)
            return
        }
        try file.truncate(to: offset)
        try file.sync()
        segments.append(Segment(sequence: sequence, path: path, file: file, size: offset))
    }

    enum ScanOutcome {
        /// Every block is valid; the data ends at `end` (the file may hold zeros after it).
        case clean(end: Int)
        case torn(offset: Int, reason: String)
        case corrupt(LogCorruption)
    }

    /// Validates a segment's header and blocks, applying each valid block to the live list.
    func scanSegment(_ bytes: [UInt8], sequence: UInt64, path: String, isLast: Bool) -> ScanOutcome {
        let headerEnd = min(bytes.count, LogFiles.segmentHeaderBytes)
        let headerProblem: String?
        switch LogFiles.decodeSegmentHeader(bytes[0..<headerEnd]) {
        case .success(let found): headerProblem = found == sequence ? nil : "header names segment \(found)"
        case .failure(let problem): headerProblem = problem.message
        }
        if let problem = headerProblem {
            if isLast && !Self.validBlockExists(in: bytes, after: 0) { return .torn(offset: 0, reason: problem) }
            return .corrupt(LogCorruption(file: path, offset: 0, reason: .badSegmentHeader(problem)))
        }
        var offset = LogFiles.segmentHeaderBytes
        while offset < bytes.count {
            // Zeros from a block boundary to the end of the file are preallocated free space. A block never
            // starts with a zero byte (magic), and any non-zero byte later makes this a damaged block instead.
            if bytes[offset] == 0 && Self.isZero(bytes, from: offset) { return .clean(end: offset) }
            switch Self.verifyBlock(in: bytes, at: offset) {
            case .success(let header):
                report.blocksScanned += 1
                apply(header, segment: sequence, offset: offset)
                offset += header.totalBytes
            case .failure(let error):
                if isLast && !Self.validBlockExists(in: bytes, after: offset) {
                    return .torn(offset: offset, reason: "\(error)")
                }
                return .corrupt(LogCorruption(file: path, offset: offset, reason: .badBlock(error)))
            }
        }
        return .clean(end: offset)
    }

    /// Whether every byte of `bytes` from `offset` on is zero.
    static func isZero(_ bytes: [UInt8], from offset: Int) -> Bool {
        bytes.withUnsafeBytes { raw in
            var position = offset
            // Eight bytes at a time, then the rest.
            while position + 8 <= raw.count {
                if raw.loadUnaligned(fromByteOffset: position, as: UInt64.self) != 0 { return false }
                position += 8
            }
            while position < raw.count {
                if raw[position] != 0 { return false }
                position += 1
            }
            return true
        }
    }

    /// Verifies the block starting at `offset` of a segment image.
    static func verifyBlock(in bytes: [UInt8], at offset: Int) -> Result<BlockHeader, BlockDecodeError> {
        bytes.withUnsafeBytes { raw in
            let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
            do {
                let (_, _, total) = try BlockCodec.parseFixedHeader(rest)
                guard total <= rest.count else { return .failure(.tooShort(needed: total, available: rest.count)) }
                return .success(try BlockCodec.verify(UnsafeRawBufferPointer(rebasing: rest[0..<total])))
            } catch let error as BlockDecodeError {
                return .failure(error)
            } catch {
                preconditionFailure("unexpected error \(error)")
            }
        }
    }

    /// Whether any complete, valid block starts after `offset`. Decides torn tail (no) from corruption (yes).
    static func validBlockExists(in bytes: [UInt8], after offset: Int) -> Bool {
        let magic: [UInt8] = [0x53, 0x4B, 0x4C, 0x42]
        var position = offset + 1
        while position + BlockCodec.fixedHeaderBytes <= bytes.count {
            if bytes[position] == magic[0] && bytes[position + 1] == magic[1] && bytes[position + 2] == magic[2]
                && bytes[position + 3] == magic[3], case .success = verifyBlock(in: bytes, at: position)
            {
                return true
            }
            position += 1
        }
        return false
    }

    /// Applies one block to the live list: cut the log to `firstIndex - 1`, then add the block's entries.
    func apply(_ header: BlockHeader, segment: UInt64, offset: Int) {
        cutLive(to: header.firstIndex.previous)
        if header.isTruncation { return }
        blocks.append(BlockRef(segment: segment, offset: offset, header: header, liveCount: header.entryCount))
        lastIndexValue = header.lastIndex
    }

    /// Removes live entries above `index` (never below the log start).
    func cutLive(to index: LogIndex) {
        let limit = max(index, state.logStart.index)
        while let last = blocks.last, last.firstIndex > limit { blocks.removeLast() }
        if var last = blocks.last, last.lastLive > limit {
            last.liveCount = UInt32(limit.rawValue - last.firstIndex.rawValue + 1)
            blocks[blocks.count - 1] = last
        }
        if lastIndexValue > limit { lastIndexValue = limit }
    }

    /// Drops blocks wholly covered by the log start and checks that the live entries are contiguous.
    private func finishRecovery() {
        blocks.removeAll { $0.lastLive <= state.logStart.index }
        var expected = state.logStart.index.next
        for (position, block) in blocks.enumerated() {
            let fits = position == 0 ? block.firstIndex <= expected : block.firstIndex == expected
            guard fits else {
                noteGap(after: expected.previous, next: block.firstIndex, block: block)
                blocks.removeSubrange(position...)
                lastIndexValue = expected.previous
                break
            }
            expected = block.lastLive.next
        }
        if healthValue == .healthy && lastIndexValue != expected.previous {
            noteGap(after: expected.previous, next: lastIndexValue.next, block: nil)
            lastIndexValue = expected.previous
        }
        if healthValue == .healthy && state.hardState.commit > lastIndexValue {
            // Committed entries were durable once; if they are gone (a lost last segment, or a damaged last
            // block mistaken for a torn tail), this node must not act on its log.
            let path = segments.last?.path ?? joinPath(directory, LogFiles.stateFileName)
            let reason = LogCorruption.Reason.missingEntries(after: lastIndexValue, next: state.hardState.commit)
            markUntrusted(LogCorruption(file: path, offset: segments.last?.size ?? 0, reason: reason))
        }
        report.firstIndex = state.logStart.index.next
        report.lastIndex = lastIndexValue
    }

    private func noteGap(after: LogIndex, next: LogIndex, block: BlockRef?) {
        let path = block.map { joinPath(directory, LogFiles.segmentName($0.segment)) } ?? directory
        markUntrusted(
            LogCorruption(file: path, offset: block?.offset ?? 0, reason: .missingEntries(after: after, next: next)))
    }

    func markUntrusted(_ corruption: LogCorruption) {
        if case .untrusted = healthValue { return }
        healthValue = .untrusted(corruption)
        if report.corruption == nil { report.corruption = corruption }
    }

    /// Writes the state file atomically: temp file, fsync, rename, directory fsync. Does not change `state`.
    func writeStateFile(_ newState: LogState) throws {
        let temp = joinPath(directory, LogFiles.stateTempFileName)
        let file = try fileSystem.open(temp, create: true)
        defer { file.close() }
        try file.truncate(to: 0)
        try file.write(at: 0, newState.encode())
        try file.sync()
        try fileSystem.rename(from: temp, to: joinPath(directory, LogFiles.stateFileName))
        try fileSystem.syncDirectory(directory)
    }
}
