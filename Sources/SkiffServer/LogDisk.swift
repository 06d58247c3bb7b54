import Dispatch
import SkiffLog
import SkiffRaft

/// `RaftDisk` over `SkiffLog.SegmentedLog`, plus the membership file in `NodeStore`.
///
/// The hard state is written only when term or vote change: the commit index is optional for safety
/// (Raft Figure 2 lists only `currentTerm`, `votedFor` and `log[]` as persistent), and skipping it saves a
/// second fsync (temp file + rename) on every Ready.
///
/// Invariant: used only from the node's single disk thread (hence `@unchecked Sendable`), except `shipper`,
/// which only the event loop uses.
final class LogDisk: RaftDisk, @unchecked Sendable {
    let log: SegmentedLog
    let store: NodeStore
    let shipper: BlockShipper
    private var savedTermVote: (Term, NodeID)
    private var cachedBytes: UInt64 = 0
    private var bytesMeasuredAt: UInt64 = 0

    /// `messageBytesMax` MUST be the Raft core's `RaftConfig.maxSizePerMsg` (see `BlockShipper`).
    init(log: SegmentedLog, store: NodeStore, messageBytesMax: Int) {
        self.log = log
        self.store = store
        self.shipper = BlockShipper(log: log, messageBytesMax: messageBytesMax)
        let hard = log.hardState
        self.savedTermVote = (hard.term, hard.vote)
    }

    /// Reads the boundaries and the hard state back; no entry is decoded (`LogStorage` reads them on demand).
    func recover() throws -> RecoveredLog {
        let start = log.logStart
        let last = log.lastIndex
        var untrusted: String?
        if case .untrusted(let corruption) = log.health { untrusted = corruption.description }
        let meta = store.loadNodeMeta()
        var hard = log.hardState
        hard.commit = min(hard.commit, last)
        return RecoveredLog(
            hardState: hard, confState: meta.confState ?? ConfState(),
            snapshot: SnapshotMetadata(index: start.index, term: start.term, confState: meta.confState ?? ConfState()),
            lastIndex: last, untrustedReason: untrusted, logBytes: diskBytes())
    }

    func persist(_ batch: PersistBatch) throws {
        if let snapshot = batch.snapshot {
            try log.resetToSnapshot(LogPosition(index: snapshot.index, term: snapshot.term))
        }
        if !batch.blocks.isEmpty {
            // Paired with `BlockShipper.blocks(persisting:)`: the blocks hold exactly the batch's entries.
            precondition(
                batch.blocks.first?.header.firstIndex == batch.entries.first?.index
                    && batch.blocks.reduce(0, { $0 + Int($1.header.entryCount) }) == batch.entries.count,
                "persist: blocks do not cover entries \(batch.entries.first?.index ?? .zero)+\(batch.entries.count)")
            try log.appendBatch(batch.blocks.map { .block($0) })
        } else if !batch.entries.isEmpty {
            try log.append(batch.entries)
        }
        if let hard = batch.hardState, hard.term != savedTermVote.0 || hard.vote != savedTermVote.1 {
            try log.saveHardState(hard)
            savedTermVote = (hard.term, hard.vote)
        }
        if let conf = batch.confState { store.updateNodeMeta(confState: conf) }
    }

    func compact(through index: LogIndex) throws { try log.compact(checkpoint: index, keepTailEntries: 0) }

    func close() { log.close() }

    /// Re-measured at most once a second (it lists the directory).
    var logBytes: UInt64 {
        let now = DispatchTime.now().uptimeNanoseconds
        if now - bytesMeasuredAt >= 1_000_000_000 {
            cachedBytes = diskBytes()
            bytesMeasuredAt = now
        }
        return cachedBytes
    }

    private func diskBytes() -> UInt64 {
        guard let names = try? store.fileSystem.list(directory: log.directory) else { return 0 }
        var total: UInt64 = 0
        for name in names {
            guard let file = try? store.fileSystem.open(log.directory + "/" + name, create: false) else { continue }
            total += UInt64((try? file.size()) ?? 0)
            file.close()
        }
        return total
    }
}
