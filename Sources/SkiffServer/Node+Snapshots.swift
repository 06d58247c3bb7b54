import Logging
import NIOCore
import SkiffBroker
import SkiffRaft

#if canImport(Glibc)
    import Glibc
#endif

/// Checkpoints, snapshots and log compaction.
///
/// A checkpoint writes the broker's delta since the previous one into SQLite with `applied_index`, in one
/// transaction on the checkpoint thread. That is all a restart needs (open SQLite at `applied_index`, replay
/// the log after it). A snapshot file (a `VACUUM INTO` copy of the whole database, whose cost grows with the
/// backlog) is made only at a low, bounded rate: at a checkpoint once `snapshotLogBytesFactor` times
/// `checkpointLogBytes` of log were written, or `snapshotIntervalFactor` times `checkpointIntervalMs` passed,
/// since the newest file. The log is compacted only through a snapshot file (the newest that leaves at least
/// `logRetainEntries` entries behind it), so a follower that needs a snapshot is always sent one this node
/// holds, and slow followers usually catch up from the log.
///
/// The checkpoint thread runs at a lower CPU priority than the event loop and the disk thread: a checkpoint
/// writes every pending message into SQLite, which can take a second of CPU. On a small machine it would
/// otherwise take that CPU from the publish path (see docs/benchmarks.md). Nothing on the hot path waits for a
/// checkpoint (payload reads use their own SQLite connection), so running it later only delays log compaction.
extension Node {
    /// The nice value of the checkpoint thread (0 is the default; 19 the lowest priority).
    static let checkpointThreadNiceness: Int32 = 5
    /// A snapshot file is due once this many times `checkpointLogBytes` of log were written since the newest one.
    static let snapshotLogBytesFactor = 4
    /// A snapshot file is due once this many times `checkpointIntervalMs` passed since the newest one.
    static let snapshotIntervalFactor: Int64 = 4

    /// Starts a checkpoint when enough log bytes or time have passed since the last one.
    func maybeCheckpoint(force: Bool = false) {
        guard !checkpointing, !stopped, !installingSnapshot, raft.appliedIndex > checkpointIndex else { return }
        let due =
            force || bytesSinceCheckpoint >= config.checkpointLogBytes
            || NIODeadline.now() - checkpointAt >= .milliseconds(Int64(config.checkpointIntervalMs))
        guard due else { return }
        let applied = raft.appliedIndex
        guard let term = raft.logTerm(at: applied) else { return }
        let conf = raft.confState
        let generation = nodeStore.currentGeneration()
        let delta = broker.detachCheckpointDelta()
        nodeStore.stage(delta)
        checkpointing = true
        snapshots.bytesSinceNewest += bytesSinceCheckpoint
        bytesSinceCheckpoint = 0
        let snapshot = snapshotDue()
        let nodeStore = self.nodeStore
        let bound = NIOLoopBound(self, eventLoop: loop)
        let metadata = SnapshotMetadata(index: applied, term: term, confState: conf)
        checkpointPool.runIfActive(eventLoop: loop) { () throws -> CheckpointOutcome in
            lowerCurrentThreadPriority(to: Node.checkpointThreadNiceness)
            return try nodeStore.checkpoint(
                rows: delta.write, metadata: metadata, generation: generation, snapshot: snapshot)
        }.whenComplete { result in
            let node = bound.value
            node.checkpointing = false
            switch result {
            case .success(.written(let file)): node.checkpointed(at: metadata.index, snapshot: file)
            case .success(.skipped): node.logger.debug("checkpoint skipped: a snapshot replaced the database")
            case .failure where node.stopped: return
            case .failure(let error):
                node.logger.critical("checkpoint failed; stopping", metadata: ["error": "\(error)"])
                node.fatalStop("checkpoint failed: \(error)")
            }
        }
    }

    /// Whether the checkpoint being started should also make a snapshot file (see the type's documentation).
    private func snapshotDue() -> Bool {
        let interval = NIODeadline.now() - snapshots.newestCreatedAt
        return snapshots.bytesSinceNewest >= config.checkpointLogBytes * Node.snapshotLogBytesFactor
            || interval >= .milliseconds(Int64(config.checkpointIntervalMs) * Node.snapshotIntervalFactor)
    }

    private func checkpointed(at index: LogIndex, snapshot file: SnapshotFile?) {
        checkpointIndex = index
        checkpointAt = .now()
        metrics.checkpoints.increment()
        guard let file else {
            logger.debug("checkpoint written", metadata: ["index": "\(index)"])
            return
        }
        snapshots.add(file)
        snapshots.bytesSinceNewest = bytesSinceCheckpoint
        snapshots.newestCreatedAt = checkpointAt
        logger.debug("checkpoint and snapshot written", metadata: ["index": "\(index)", "bytes": "\(file.size)"])
        compactLog()
    }

    /// Compacts through the newest snapshot at or below `applied - logRetainEntries`.
    private func compactLog() {
        let floor = raft.appliedIndex.rawValue.subtractingReportingOverflow(UInt64(config.logRetainEntries))
        guard !floor.overflow, let base = snapshots.newest(atOrBelow: LogIndex(floor.partialValue)),
            base.metadata.index > storage.snapshotMetadata.index, base.metadata.index <= storage.lastIndex
        else { return }
        storage.compact(through: base.metadata.index, confState: base.metadata.confState)
        let removed = snapshots.dropOlder(than: base.metadata.index)
        let disk = self.disk
        let nodeStore = self.nodeStore
        let through = base.metadata.index
        let bound = NIOLoopBound(self, eventLoop: loop)
        diskPool.runIfActive(eventLoop: loop) { () throws -> UInt64 in
            try disk.compact(through: through)
            for file in removed { nodeStore.deleteSnapshot(file) }
            return disk.logBytes
        }.whenComplete { result in
            switch result {
            case .success(let bytes): bound.value.logBytes = bytes
            case .failure(let error):
                bound.value.logger.error("log compaction failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The core suggests compacting (every `compactionHintEntries` applied entries). Only the checkpoint policy
    /// (`storage.checkpoint_log_bytes`, `storage.checkpoint_interval_ms`) decides when to checkpoint; the hint
    /// is not a trigger of its own.
    ///
    /// At a low write rate every write is its own entry, so a hint-forced checkpoint ran every 10,000 writes:
    /// every 10 s at 1000 msg/s, three times as often as the interval says, and on every node at once (they
    /// apply the same index). Each one stalled the publish path for 50-200 ms (the log's fdatasync waits behind
    /// the checkpoint's SQLite writeback on the shared disk; docs/benchmarks.md, "Latency at 1000 msg/s").
    /// Compaction needs no extra checkpoint: it runs after each checkpoint that writes a snapshot file.
    func compactionHinted(_ index: LogIndex) {
        maybeCheckpoint()
    }

    /// Fills a `.snapshot` message with the chunk at its offset, or reports failure when the file is gone.
    func fillSnapshotChunk(_ message: Message) -> Message? {
        guard let metadata = message.snapshot, let file = snapshots.file(at: metadata.index) else {
            logger.warning("asked to send a snapshot this node no longer holds", metadata: ["message": "\(message)"])
            raft.reportSnapshot(to: message.to, status: .failure)
            return nil
        }
        do {
            let (bytes, done) = try nodeStore.readSnapshotChunk(
                file, offset: message.snapshotOffset, chunkBytes: config.snapshotChunkBytes)
            if done {
                metrics.snapshotsSent.increment()
                raft.reportSnapshot(to: message.to, status: .finish)
            }
            return message.withSnapshotChunk(bytes, done: done)
        } catch {
            logger.error("snapshot read failed", metadata: ["error": "\(error)", "file": "\(file.path)"])
            raft.reportSnapshot(to: message.to, status: .failure)
            return nil
        }
    }

    /// After the disk thread installed a received snapshot: load the broker from it.
    func restoreBrokerFromInstalledSnapshot(_ metadata: SnapshotMetadata) {
        do {
            broker = try nodeStore.loadBroker()
        } catch {
            fatalStop("cannot load the installed snapshot at \(metadata.index): \(error)")
            return
        }
        checkpointIndex = metadata.index
        checkpointAt = .now()
        bytesSinceCheckpoint = 0
        // This node holds no file of what it installed: let its next checkpoint make one, so that it can send a
        // snapshot (and compact) soon if it becomes the leader.
        snapshots.newestCreatedAt = .distantPast
        metrics.snapshotsInstalled.increment()
        if repairPending {
            logger.notice("snapshot installed over a wiped log; this node may vote and lead again")
            untrustedReason = nil
            repairPending = false
            nodeStore.clearRepairMarker()
        }
        logger.info("installed snapshot", metadata: ["index": "\(metadata.index)", "term": "\(metadata.term)"])
    }
}

/// The snapshot files this node holds, newest last.
struct SnapshotCatalog {
    private(set) var files: [SnapshotFile] = []
    /// Log bytes applied (up to the last checkpoint taken) since the newest file was made, or since start-up:
    /// about what the next file would let the log drop.
    var bytesSinceNewest = 0
    /// When the newest file was made (start-up for the files found on disk).
    var newestCreatedAt = NIODeadline.now()

    mutating func add(_ file: SnapshotFile) {
        files.removeAll { $0.metadata.index == file.metadata.index }
        files.append(file)
        files.sort { $0.metadata.index < $1.metadata.index }
    }

    func file(at index: LogIndex) -> SnapshotFile? { files.first { $0.metadata.index == index } }

    func newest(atOrBelow index: LogIndex) -> SnapshotFile? { files.last { $0.metadata.index <= index } }

    /// Forgets files older than `index` and returns them for deletion.
    mutating func dropOlder(than index: LogIndex) -> [SnapshotFile] {
        let old = files.filter { $0.metadata.index < index }
        files.removeAll { $0.metadata.index < index }
        return old
    }
}

/// Sets the calling thread's nice value (Linux: per thread). Best effort: a failure leaves the priority as it was.
/// Only ever lowers the priority, so it needs no privilege.
func lowerCurrentThreadPriority(to niceness: Int32) {
    #if os(Linux)
        let thread = id_t(0)  // 0: the calling thread (Linux nice values are per thread)
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread)
        guard errno == 0, current < niceness else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, niceness)
    #endif
}

/// The calling thread's nice value, or nil where it cannot be read (for tests).
func currentThreadNiceness() -> Int32? {
    #if os(Linux)
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(0))
        return errno == 0 ? value : nil
    #else
        return nil
    #endif
}
