import SkiffRaft

extension SegmentedLog {
    /// Persists the hard state atomically (temp file, fsync, rename, directory fsync).
    ///
    /// A failure here leaves the log `.failed`: the node MUST NOT answer the RPC that needed it.
    public func saveHardState(_ hardState: HardState) throws {
        try writeLock.withLock {
            let next = try lock.withLock { () throws -> LogState in
                try checkWritable()
                var next = state
                next.hardState = hardState
                return next
            }
            // The file I/O runs without `lock`, so readers are not held up by the syncs.
            let failure = stateFileFailure(next)
            try lock.withLock {
                if let failure { throw recordStateFailure(failure) }
                state = next
            }
        }
    }

    /// Deletes whole segments whose live entries are all at or below `min(checkpoint, lastIndex - keepTail)`.
    ///
    /// `checkpoint` MUST be durable elsewhere (a SQLite checkpoint or snapshot). Allowed while the log is
    /// read-only for a full disk. Never deletes an entry above
    /// `checkpoint`, never deletes the segment being written, and keeps at least `keepTailEntries` entries
    /// for slow followers. The new log start is written to the state file before any file is removed.
    @discardableResult
    public func compact(checkpoint: LogIndex, keepTailEntries: UInt64 = 0) throws -> CompactionResult {
        try writeLock.withLock {
            try lock.withLock {
                // Allowed while read-only for a full disk: compaction is how space comes back.
                if case .readOnly = healthValue {} else { try checkWritable() }
                let tailStart =
                    lastIndexValue.rawValue > keepTailEntries ? lastIndexValue.rawValue - keepTailEntries : 0
                let plan = CompactionPlan.make(
                    segments: segmentSummaries(), logStart: state.logStart.index,
                    cutoff: LogIndex(min(checkpoint.rawValue, tailStart)))
                guard plan.deleteCount > 0 else {
                    return CompactionResult(deletedSegments: [], logStart: state.logStart)
                }
                var next = state
                if plan.newLogStart > state.logStart.index {
                    next.logStart = LogPosition(index: plan.newLogStart, term: try termLocked(at: plan.newLogStart))
                }
                next.firstSegmentSequence = segments[plan.deleteCount].sequence
                precondition(next.logStart.index <= checkpoint, "compaction past checkpoint \(checkpoint)")
                try persistState(next)
                let doomed = segments[0..<plan.deleteCount]
                let doomedSequences = Set(doomed.map(\.sequence))
                segments.removeFirst(plan.deleteCount)
                blocks.removeAll { doomedSequences.contains($0.segment) || $0.lastLive <= next.logStart.index }
                cache.removeAll()
                try unlinkSegments(Array(doomed))
                return CompactionResult(deletedSegments: doomed.map(\.path), logStart: next.logStart)
            }
        }
    }

    /// Replaces the whole log with an empty one that starts after a snapshot at `snapshot`.
    ///
    /// Call after the snapshot is installed durably. The new start is written first, naming a first segment
    /// sequence above every existing segment; so after a crash before the unlinks, the old segments are
    /// leftovers that the next open deletes, and no old entry comes back.
    public func resetToSnapshot(_ snapshot: LogPosition) throws {
        try writeLock.withLock {
            try lock.withLock {
                try checkWritable()
                let doomed = segments
                var next = state
                next.logStart = snapshot
                next.firstSegmentSequence = (doomed.last?.sequence ?? state.firstSegmentSequence - 1) + 1
                if next.hardState.commit < snapshot.index { next.hardState.commit = snapshot.index }
                try persistState(next)
                segments.removeAll()
                blocks.removeAll()
                cache.removeAll()
                lastIndexValue = snapshot.index
                try unlinkSegments(doomed)
            }
        }
    }

    /// Per segment: its sequence and the highest live index in it (nil when it holds no live entries).
    private func segmentSummaries() -> [CompactionPlan.Segment] {
        var highest: [UInt64: LogIndex] = [:]
        for block in blocks { highest[block.segment] = max(highest[block.segment] ?? .zero, block.lastLive) }
        return segments.map { CompactionPlan.Segment(sequence: $0.sequence, highestLiveIndex: highest[$0.sequence]) }
    }

    private func unlinkSegments(_ doomed: [Segment]) throws {
        guard !doomed.isEmpty else { return }
        do {
            for segment in doomed {
                segment.file.close()
                try fileSystem.unlink(segment.path)
            }
            try fileSystem.syncDirectory(directory)
        } catch let error as FileSystemError {
            healthValue = .failed(error)
            throw LogError(.failed(error))
        }
    }

    /// Writes the state file and adopts it. MUST be called with both locks held.
    private func persistState(_ next: LogState) throws {
        if let failure = stateFileFailure(next) { throw recordStateFailure(failure) }
        state = next
    }

    /// Writes the state file; returns the failure, if any. Touches no in-memory state.
    private func stateFileFailure(_ next: LogState) -> FileSystemError? {
        do {
            try writeStateFile(next)
            return nil
        } catch let error as FileSystemError {
            return error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// ENOSPC from the write of the temp file leaves the old file in place: read-only. Anything else,
    /// including ENOSPC reported by a sync, is fatal (the rename or a sync may or may not have happened).
    /// MUST be called with `lock` held.
    private func recordStateFailure(_ error: FileSystemError) -> LogError {
        if error.kind == .noSpace && error.operation == "pwrite" {
            healthValue = .readOnly(error)
            return LogError(.noSpace(error))
        }
        healthValue = .failed(error)
        return LogError(.failed(error))
    }

    /// Removes every segment of the log in `directory` and resets the log start to zero, keeping the term and
    /// vote when the state file is readable (so the node cannot vote twice in a term). The node then needs a
    /// snapshot from the leader. Used by `skiff node repair` on an untrusted log; the log MUST NOT be open.
    @discardableResult
    public static func wipe(directory: String, fileSystem: any FileSystem = RealFileSystem()) throws -> WipeReport {
        var report = WipeReport()
        let names = try fileSystem.list(directory: directory)
        var kept = LogState()
        if names.contains(LogFiles.stateFileName) {
            let file = try fileSystem.open(joinPath(directory, LogFiles.stateFileName), create: false)
            if case .success(let old) = LogState.decode(try file.read(at: 0, count: LogFiles.stateBytes + 1)) {
                kept.hardState = HardState(term: old.hardState.term, vote: old.hardState.vote, commit: .zero)
                kept.firstSegmentSequence = old.firstSegmentSequence
                report.hardStateKept = true
            }
            file.close()
        }
        var highest = kept.firstSegmentSequence - 1
        for name in names {
            guard let sequence = LogFiles.parseSegmentName(name) else { continue }
            try fileSystem.unlink(joinPath(directory, name))
            report.removedSegments.append(name)
            highest = max(highest, sequence)
        }
        try fileSystem.syncDirectory(directory)
        kept.firstSegmentSequence = highest + 1
        let scratch = SegmentedLog(directory: directory, fileSystem: fileSystem, options: LogOptions())
        try scratch.lock.withLock { try scratch.writeStateFile(kept) }
        report.keptHardState = kept.hardState
        return report
    }
}

/// What `SegmentedLog.wipe` did.
public struct WipeReport: Sendable, Hashable {
    public var removedSegments: [String] = []
    /// Whether term and vote were carried over. When false, the state file was unreadable: the operator
    /// MUST make sure the node does not vote in a term it may already have voted in.
    public var hardStateKept = false
    public var keptHardState = HardState()
}

/// Which segments a compaction may delete. Pure, so the bound can be tested directly.
public enum CompactionPlan {
    public struct Segment: Sendable, Hashable {
        public var sequence: UInt64
        public var highestLiveIndex: LogIndex?

        public init(sequence: UInt64, highestLiveIndex: LogIndex?) {
            self.sequence = sequence
            self.highestLiveIndex = highestLiveIndex
        }
    }

    /// How many leading segments to delete, and the log start afterwards.
    public struct Result: Sendable, Hashable {
        public var deleteCount: Int
        public var newLogStart: LogIndex
    }

    /// Deletes a prefix of segments whose live entries are all `<= cutoff`; never the last segment.
    public static func make(segments: [Segment], logStart: LogIndex, cutoff: LogIndex) -> Result {
        var count = 0
        var newStart = logStart
        while count < segments.count - 1 {
            let highest = segments[count].highestLiveIndex
            if let highest, highest > cutoff { break }
            if let highest { newStart = max(newStart, highest) }
            count += 1
        }
        // Invariant: nothing above the cutoff leaves the log.
        precondition(newStart <= max(cutoff, logStart), "plan moves start to \(newStart) past cutoff \(cutoff)")
        return Result(deleteCount: count, newLogStart: newStart)
    }
}
