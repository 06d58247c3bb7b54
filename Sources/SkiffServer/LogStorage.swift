import SkiffLog
import SkiffRaft

/// The Raft core's view of the durable log, read from the segmented log on disk instead of a copy in memory.
///
/// It holds only the boundaries (the snapshot and the last index), the hard state and the membership. Entries
/// and terms come from `SegmentedLog`, whose block index is built at open without decoding any payload and
/// whose decoded blocks live in a cache bounded by `LogOptions.blockCacheBytesMax`. So a long tail after a
/// crash neither has to fit in memory nor be decoded at start-up.
///
/// The shell moves the boundaries only after an fsync (`append`, `applySnapshot`), exactly as it would with
/// `MemoryStorage`, so the core never sees an entry the disk thread is still writing.
///
/// Invariant: used only on the node's event loop. The disk thread
/// writes the same `SegmentedLog` at the same time, but only at indexes the core reads from its unstable tail
/// (above `lastIndex`, or a suffix the core has already replaced), and `SegmentedLog` is internally locked.
final class LogStorage: RaftStorage {
    /// Called when a read finds a block that fails verification or cannot be read. The log is then untrusted
    /// and the node MUST stop (it restarts, recovers, and refuses to vote while the damage is there).
    typealias UnreadableHandler = (LogError) -> Void

    let log: SegmentedLog
    private(set) var hardState: HardState
    private(set) var confState: ConfState
    private(set) var snapshotMetadata: SnapshotMetadata
    private var lastIndexValue: LogIndex
    private let unreadable: UnreadableHandler

    /// A view of `log` starting after `snapshot` (which MAY be above the log's own start when a snapshot file
    /// covers more than compaction removed) and ending at the log's last index.
    init(
        log: SegmentedLog, snapshot: SnapshotMetadata, hardState: HardState, confState: ConfState,
        unreadable: @escaping UnreadableHandler
    ) {
        let last = log.lastIndex
        precondition(
            snapshot.index >= log.logStart.index && snapshot.index <= max(last, snapshot.index),
            "snapshot \(snapshot.index) below the log start \(log.logStart)")
        self.log = log
        self.hardState = hardState
        self.confState = confState
        self.snapshotMetadata = snapshot
        self.lastIndexValue = max(last, snapshot.index)
        self.unreadable = unreadable
    }

    func initialState() -> (hardState: HardState, confState: ConfState) { (hardState, confState) }

    var firstIndex: LogIndex { snapshotMetadata.index.next }
    var lastIndex: LogIndex { lastIndexValue }

    func term(_ index: LogIndex) throws(StorageError) -> Term {
        if index == snapshotMetadata.index { return snapshotMetadata.term }
        if index < snapshotMetadata.index { throw .compacted }
        if index > lastIndexValue { throw .unavailable }
        do {
            return try log.term(at: index)
        } catch {
            throw mapped(error)
        }
    }

    func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        if range.lowerBound < firstIndex { throw .compacted }
        if range.upperBound > lastIndexValue.next { throw .unavailable }
        do {
            return try log.entries(range, maxBytes: maxBytes)
        } catch {
            throw mapped(error)
        }
    }

    /// Records the hard state the shell has just persisted.
    func setHardState(_ state: HardState) { hardState = state }

    /// Records the membership the shell has just persisted.
    func setConfState(_ state: ConfState) { confState = state }

    /// Takes in entries the shell has just made durable in `log`; an entry whose index is already held
    /// replaces it and everything after it.
    func append(_ entries: [Entry]) {
        guard let first = entries.first, let last = entries.last else { return }
        precondition(first.index > snapshotMetadata.index, "append \(first.index) below snapshot \(snapshotMetadata)")
        precondition(first.index <= lastIndexValue.next, "append \(first.index) leaves a gap after \(lastIndexValue)")
        // Paired with the disk thread's write: what the core is told is durable MUST be in the log.
        precondition(log.lastIndex >= last.index, "append through \(last.index) but the log ends at \(log.lastIndex)")
        lastIndexValue = last.index
    }

    /// Replaces the whole log with a snapshot received from the leader (after the disk reset the log to it).
    func applySnapshot(_ metadata: SnapshotMetadata) {
        precondition(metadata.index >= snapshotMetadata.index, "snapshot \(metadata) older than \(snapshotMetadata)")
        snapshotMetadata = metadata
        confState = metadata.confState
        lastIndexValue = metadata.index
        if hardState.commit < metadata.index { hardState.commit = metadata.index }
    }

    /// Records a snapshot the shell took at `index` (<= applied). The entries it covers are dropped from the
    /// view at once; the disk drops whole segments later (`RaftDisk.compact`).
    func compact(through index: LogIndex, confState: ConfState) {
        guard index > snapshotMetadata.index else { return }
        precondition(index <= lastIndexValue, "compact \(index) beyond last \(lastIndexValue)")
        let term: Term
        do {
            term = try self.term(index)
        } catch {
            preconditionFailure("compact \(index): term unreadable (\(error)) in \(snapshotMetadata)...\(lastIndex)")
        }
        snapshotMetadata = SnapshotMetadata(index: index, term: term, confState: confState)
    }

    /// Maps a log error to the core's: a range outside the log is `compacted` / `unavailable`; anything else
    /// (corruption, an I/O error) is reported to `unreadable` first.
    private func mapped(_ error: any Error) -> StorageError {
        guard let logError = error as? LogError else { preconditionFailure("unexpected error \(error)") }
        switch logError.kind {
        case .compacted: return .compacted
        case .unavailable: return .unavailable
        default:
            unreadable(logError)
            return .unavailable
        }
    }
}
