import Logging
import SkiffBroker
import SkiffLog
import SkiffRaft

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a node reads from disk at start-up.
struct NodeStorage {
    var disk: LogDisk
    /// The core's view of the log, read from `disk.log` on demand.
    var raftStorage: LogStorage
    var nodeStore: NodeStore
    var recovered: RecoveredLog
    var broker: BrokerStateMachine
    var appliedIndex: LogIndex
    var snapshots: [SnapshotFile]
    var repairPending: Bool

    /// Bound on the log's cache of decoded blocks, in uncompressed bytes. The Raft core reads entries through
    /// it (`LogStorage`): the blocks a node just wrote are applied and replicated from here, and a burst of
    /// several 1 MiB blocks in one Ready should still be in it when they are applied.
    static let logCacheBytesMax = 32 << 20

    /// Opens the log and the checkpoint database, runs recovery, and rebuilds the broker at its checkpoint.
    ///
    /// The Raft core's view starts at the newest snapshot file the log still reaches, so a follower that needs
    /// a snapshot is always sent one this node actually holds.
    static func open(config: ServerConfig, logger: Logger) throws -> NodeStorage {
        let store = try NodeStore(directory: config.dataDirectory)
        var options = LogOptions()
        options.segmentBytesMax = config.segmentBytes
        options.preallocateBytes = config.preallocateBytes
        options.blockCacheBytesMax = logCacheBytesMax
        let log = try SegmentedLog.open(directory: store.logDirectory, options: options)
        let report = log.recovery
        if let torn = report.tornTail {
            logger.warning("recovery truncated a torn log tail", metadata: ["tail": "\(torn)"])
        }
        let disk = LogDisk(log: log, store: store, messageBytesMax: RaftConfig(id: config.nodeID).maxSizePerMsg)
        var recovered = try disk.recover()
        let broker = try store.loadBroker()
        let applied = try store.appliedIndex()
        let snapshots = store.existingSnapshots().filter { $0.metadata.index <= applied }
        if let base = snapshots.last(where: { $0.metadata.index >= recovered.snapshot.index }),
            base.metadata.index <= recovered.lastIndex
        {
            recovered.snapshot = base.metadata
        }
        // The commit index is persisted lazily (LogDisk), but whatever the checkpoint applied was committed.
        recovered.hardState.commit = max(recovered.hardState.commit, applied, recovered.snapshot.index)
        precondition(
            applied <= recovered.lastIndex,
            "checkpoint at \(applied) is beyond the log (\(recovered.snapshot.index)...\(recovered.lastIndex))")
        logger.info(
            "storage opened",
            metadata: [
                "applied": "\(applied)", "log_start": "\(recovered.snapshot.index)", "last": "\(recovered.lastIndex)",
                "segments": "\(report.segmentsScanned)", "snapshots": "\(snapshots.count)",
            ])
        let raftStorage = LogStorage(
            log: log, snapshot: recovered.snapshot, hardState: recovered.hardState, confState: recovered.confState,
            unreadable: { error in
                // A block that verified at open no longer does: the disk is failing under us. Stop; the restart's
                // recovery reports the damage and the node refuses to vote until it is repaired.
                logger.critical("log unreadable; stopping the node", metadata: ["error": "\(error)"])
                exit(70)
            })
        return NodeStorage(
            disk: disk, raftStorage: raftStorage, nodeStore: store, recovered: recovered, broker: broker,
            appliedIndex: applied,
            snapshots: snapshots, repairPending: store.repairPending)
    }
}

/// `skiff node repair`: wipes an untrusted log so the node re-syncs from the leader.
public enum NodeRepair {
    /// What the repair removed and kept.
    public struct Report: Sendable {
        public var removedSegments: [String]
        public var hardStateKept: Bool
        public var term: UInt64
        public var removedFiles: [String]

        public var text: String {
            var lines = ["removed \(removedSegments.count) log segment(s) and \(removedFiles.count) state file(s)"]
            lines.append(
                hardStateKept
                    ? "kept term \(term) and vote: the node cannot vote twice in a term"
                    : "WARNING: the hard state was unreadable; do not start this node before the cluster moved past"
                        + " its last term")
            lines.append(
                "next: start the node, then `skiff cluster remove-node ID` and `skiff cluster add-node ID"
                    + " --peer HOST:PORT --client HOST:PORT`, so the leader re-sends the log it believes the node has;"
                    + " the node refuses to vote or lead until it has caught up")
            return lines.joined(separator: "\n")
        }

        public var json: String {
            "{\"removed_segments\":\(removedSegments.count),\"removed_files\":\(removedFiles.count)"
                + ",\"hard_state_kept\":\(hardStateKept),\"term\":\(term)}"
        }
    }

    /// Wipes the log (keeping term and vote), the checkpoint database and snapshots, and leaves a
    /// `REPAIR_PENDING` marker. The node MUST be stopped.
    public static func run(dataDirectory: String) throws -> Report {
        let fs = RealFileSystem()
        let logDirectory = dataDirectory + "/log"
        guard fs.exists(logDirectory) else {
            throw ConfigError(.file, "\(logDirectory) does not exist: is \(dataDirectory) a Skiff data directory?")
        }
        let wiped = try SegmentedLog.wipe(directory: logDirectory)
        var removed: [String] = []
        for name in ["state.db", "state.db-wal", "state.db-shm"] where fs.exists(dataDirectory + "/" + name) {
            try fs.unlink(dataDirectory + "/" + name)
            removed.append(name)
        }
        let snapshotDirectory = dataDirectory + "/snapshots"
        for name in (try? fs.list(directory: snapshotDirectory)) ?? [] {
            try fs.unlink(snapshotDirectory + "/" + name)
            removed.append("snapshots/" + name)
        }
        let marker = try fs.open(dataDirectory + "/REPAIR_PENDING", create: true)
        try marker.sync()
        marker.close()
        try fs.syncDirectory(dataDirectory)
        return Report(
            removedSegments: wiped.removedSegments, hardStateKept: wiped.hardStateKept,
            term: wiped.keptHardState.term.rawValue, removedFiles: removed)
    }
}
