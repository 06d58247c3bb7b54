import SkiffRaft

extension SegmentedLog {
    /// Persists the hard state atomically (temp file, fsync, rename, directory fsync).
    ///
    /// A failure here leaves the log `.failed`: the node MUST NOT answer the RPC that needed it.
    public func saveHardState(_ hardState: HardState) throws {
        try lock.withLock {
            try checkWritable()
            var next = state
            next.hardState = hardState
            try persistState(next)
        }
    }

    /// Deletes whole segments whose live entries are all at or below `min(checkpoint, lastIndex - keepTail)`.
    ///
    /// `checkpoint` MUST be durable elsewhere (a SQLite checkpoint or snapshot). Never deletes an entry above
    /// `checkpoint`, never deletes the segment being written, and keeps at least `keepTailEntries` entries
    /// for slow followers. The new log start is written to the state file before any file is removed.
    @discardableResult
    public func compact(checkpoint: LogIndex, keepTailEntries: UInt64 = 0) throws -> CompactionResult {
        try lock.withLock {
            try checkWritable()
            let tailStart = lastIndexValue.rawValue > keepTailEntries ? lastIndexValue.rawValue - keepTailEntries : 0
            let plan = CompactionPlan.make(
                segments: segmentSummaries(), logStart: state.logStart.index,
                cutoff: LogIndex(min(checkpoint.rawValue, tailStart)))
            guard plan.deleteCount > 0 else { return CompactionResult(deletedSegments: [], logStart: state.logStart) }
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

    /// Replaces the whole log with an empty one that starts after a snapshot at `snapshot`.
    ///
    /// Call after the snapshot is installed durably. Segments are removed first and the new start written
    /// after, so a crash in between leaves an empty log at the old start (the shell resets again).
    public func resetToSnapshot(_ snapshot: LogPosition) throws {
        try lock.withLock {
            try checkWritable()
            let doomed = segments
            segments.removeAll()
            blocks.removeAll()
            cache.removeAll()
            try unlinkSegments(doomed)
            var next = state
            next.logStart = snapshot
            next.firstSegmentSequence = (doomed.last?.sequence ?? state.firstSegmentSequence - 1) + 1
            if next.hardState.commit < snapshot.index { next.hardState.commit = snapshot.index }
            try persistState(next)
            lastIndexValue = snapshot.index
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

    /// Writes the state file; any failure is fatal (the rename or a sync may or may not have happened).
    private func persistState(_ next: LogState) throws {
        do {
            try writeStateFile(next)
        } catch let error as FileSystemError {
            if error.kind == .noSpace {
                healthValue = .readOnly(error)
                throw LogError(.noSpace(error))
            }
            healthValue = .failed(error)
            throw LogError(.failed(error))
        }
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
