/// Why a storage read failed.
public enum StorageError: Error, Hashable, Sendable {
    /// The index is below the first available index: it was compacted into a snapshot.
    case compacted
    /// The index is beyond the last index.
    case unavailable
}

/// The durable log as the core reads it: what the shell has already persisted. The core never writes to it;
/// the shell appends what a `Ready` asked it to persist, after persisting it.
///
/// Invariant: the storage holds the entries `firstIndex...lastIndex` and knows the term of `firstIndex - 1`
/// (the snapshot's index), so `term(firstIndex - 1)` succeeds.
public protocol RaftStorage: AnyObject {
    /// The persisted hard state and membership, read once when the core starts.
    func initialState() -> (hardState: HardState, confState: ConfState)
    /// Entries `range`, stopping early after `maxBytes` of payload (always at least one entry).
    func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry]
    /// The term of the entry at `index`, for `firstIndex - 1 ... lastIndex`.
    func term(_ index: LogIndex) throws(StorageError) -> Term
    /// The first index still held as an entry (snapshot index + 1).
    var firstIndex: LogIndex { get }
    /// The last index held (the snapshot's index when the log is empty).
    var lastIndex: LogIndex { get }
    /// The latest snapshot the shell holds and can stream to a follower.
    var snapshotMetadata: SnapshotMetadata { get }
}

/// An in-memory `RaftStorage`. A shell keeps one as the core's view of its durable log and updates it after
/// each fsync; the simulator and the tests use it directly.
public final class MemoryStorage: RaftStorage {
    public private(set) var hardState: HardState
    public private(set) var confState: ConfState
    public private(set) var snapshotMetadata: SnapshotMetadata
    /// Entries after the snapshot; `log[0]` has index `snapshotMetadata.index + 1`.
    private var log: [Entry] = []

    /// An empty log with the given persisted state (a node's first start, or a test).
    public init(confState: ConfState = ConfState(), hardState: HardState = HardState()) {
        self.hardState = hardState
        self.confState = confState
        self.snapshotMetadata = SnapshotMetadata(confState: confState)
    }

    public func initialState() -> (hardState: HardState, confState: ConfState) { (hardState, confState) }

    public var firstIndex: LogIndex { snapshotMetadata.index.next }
    public var lastIndex: LogIndex { LogIndex(snapshotMetadata.index.rawValue + UInt64(log.count)) }

    public func term(_ index: LogIndex) throws(StorageError) -> Term {
        if index == snapshotMetadata.index { return snapshotMetadata.term }
        if index < snapshotMetadata.index { throw .compacted }
        if index > lastIndex { throw .unavailable }
        return log[offset(index)].term
    }

    public func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        if range.lowerBound < firstIndex { throw .compacted }
        if range.upperBound > lastIndex.next { throw .unavailable }
        var result: [Entry] = []
        var bytes = 0
        for position in offset(range.lowerBound)..<offset(range.upperBound) {
            bytes += log[position].data.count
            if !result.isEmpty && bytes > maxBytes { break }
            result.append(log[position])
        }
        return result
    }

    /// Records the hard state the shell has just persisted.
    public func setHardState(_ state: HardState) { hardState = state }

    /// Records the membership the shell has just persisted.
    public func setConfState(_ state: ConfState) { confState = state }

    /// Appends persisted entries; an entry whose index is already held replaces it and everything after it.
    public func append(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        precondition(first.index > snapshotMetadata.index, "append \(first.index) below snapshot \(snapshotMetadata)")
        precondition(first.index <= lastIndex.next, "append \(first.index) leaves a gap after \(lastIndex)")
        log.removeSubrange(offset(first.index)...)
        log.append(contentsOf: entries)
    }

    /// Replaces the whole log with a snapshot received from the leader.
    public func applySnapshot(_ metadata: SnapshotMetadata) {
        precondition(metadata.index >= snapshotMetadata.index, "snapshot \(metadata) older than \(snapshotMetadata)")
        snapshotMetadata = metadata
        confState = metadata.confState
        log.removeAll()
        if hardState.commit < metadata.index { hardState.commit = metadata.index }
    }

    /// Records a snapshot the shell took at `index` (<= applied) and drops the entries it covers.
    public func compact(through index: LogIndex, confState: ConfState) {
        guard index > snapshotMetadata.index else { return }
        precondition(index <= lastIndex, "compact \(index) beyond last \(lastIndex)")
        let term = log[offset(index)].term
        log.removeSubrange(..<(offset(index) + 1))
        snapshotMetadata = SnapshotMetadata(index: index, term: term, confState: confState)
    }

    private func offset(_ index: LogIndex) -> Int { Int(index.rawValue - snapshotMetadata.index.rawValue - 1) }
}
