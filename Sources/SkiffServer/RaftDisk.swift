import SkiffLog
import SkiffRaft

/// What recovery found on disk when the node opened its log.
struct RecoveredLog: Sendable {
    var hardState: HardState
    var confState: ConfState
    /// The snapshot the log starts after (index 0 for a fresh log).
    var snapshot: SnapshotMetadata
    /// The last entry in the log (the snapshot's index when the log is empty). The entries themselves stay on
    /// disk: `LogStorage` reads them on demand.
    var lastIndex: LogIndex
    /// Non-nil when recovery found corruption it must not repair silently (a bad sealed block, a missing
    /// segment). The node refuses to vote or lead until `skiff node repair` wipes the log.
    var untrustedReason: String?
    /// Bytes the log occupies on disk.
    var logBytes: UInt64
}

/// One Ready's durable writes, in the order `Ready` prescribes.
struct PersistBatch: Sendable {
    var snapshot: SnapshotMetadata?
    var entries: [Entry]
    var hardState: HardState?
    var confState: ConfState?
    /// `entries` already encoded as log blocks (by `BlockShipper`): received from the leader, or encoded once
    /// by this leader for its own write and its AppendEntries. Empty: the disk encodes `entries` itself.
    /// Invariant: when not empty, the blocks hold exactly `entries`, in order.
    var blocks: [RawBlock] = []
}

/// The Raft log and hard state on disk, as the shell uses them.
///
/// Invariant: every call comes from the one disk thread, in order; `persist` returns only once the batch is
/// durable (fsynced). A failed fsync is fatal and MUST NOT be retried (DESIGN.md, "Faults").
protocol RaftDisk: AnyObject, Sendable {
    /// Reads everything back after a restart.
    func recover() throws -> RecoveredLog
    /// Makes `batch` durable with one fsync: an entry replaces any held entry at its index and all after it.
    func persist(_ batch: PersistBatch) throws
    /// Drops whole segments that hold only entries at or below `index` (a durable checkpoint minus the tail).
    func compact(through index: LogIndex) throws
    /// Closes the files (after the last `persist`).
    func close()
    /// Bytes the log occupies on disk now.
    var logBytes: UInt64 { get }
    /// Encodes and decodes the compressed blocks that AppendEntries carry (used on the event loop).
    var shipper: BlockShipper { get }
}
