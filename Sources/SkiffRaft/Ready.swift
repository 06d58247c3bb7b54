/// A node's volatile role.
public enum Role: String, Sendable, Hashable {
    case follower
    case preCandidate
    case candidate
    case leader
}

/// The volatile state the shell may show (metrics, NOT_LEADER hints). Not persisted.
public struct SoftState: Hashable, Sendable {
    /// The leader as far as the node knows.
    public var leader: NodeID?
    /// The node's role.
    public var role: Role
}

/// The answer to a ReadIndex request: once the node has applied through `index`, a read made with
/// `context` is linearizable (thesis §6.4).
public struct ReadState: Hashable, Sendable {
    /// The read is linearizable once the state machine has applied through this index.
    public var index: LogIndex
    /// The context given to `RawNode.readIndex(context:)`.
    public var context: [UInt8]
}

/// One chunk of an incoming snapshot that the shell MUST write to its staging area at `offset` before
/// sending `Ready.messagesAfterPersist`. A chunk at offset 0 starts a new staging area (drop any old one).
public struct SnapshotChunk: Hashable, Sendable {
    /// The snapshot the chunk belongs to.
    public var metadata: SnapshotMetadata
    /// Where the chunk goes in the staging area.
    public var offset: UInt64
    /// The chunk's bytes.
    public var data: [UInt8]
    /// Set on the last chunk.
    public var done: Bool
}

/// How the shell's attempt to stream a snapshot to a peer ended (`RawNode.reportSnapshot(to:status:)`).
public enum SnapshotStatus: Sendable, Hashable {
    /// The shell sent every chunk; the core waits for the follower's answer.
    case finish
    /// The shell could not read or send the snapshot; the core starts over later.
    case failure
}

/// Everything the core needs the shell to do, in this order:
///
/// 1. Send `messagesNow` at once (leader appends and heartbeats: safe before the local fsync, thesis §10.2.1).
/// 2. Persist durably, with one fsync: `snapshotChunks` (to the staging area), then `snapshot` (install the
///    staged snapshot, replacing the log), then `entries` (an entry replaces any held entry at its index and
///    everything after it), then `hardState`.
/// 3. Only then send `messagesAfterPersist` (votes, acknowledgements).
/// 4. Apply `committedEntries` in order, then call `RawNode.advance(_:)` with this value.
///
/// The shell MUST NOT call `ready()` again before `advance(_:)`.
public struct Ready: Sendable {
    /// Set when the leader or the role changed.
    public var softState: SoftState?
    /// Set when term, vote or commit changed: persist it.
    public var hardState: HardState?
    /// Entries to persist; an entry replaces any held entry at its index and everything after it.
    public var entries: [Entry] = []
    /// A received snapshot, complete in the staging area: install it.
    public var snapshot: SnapshotMetadata?
    /// Incoming snapshot chunks to write to the staging area.
    public var snapshotChunks: [SnapshotChunk] = []
    /// Committed entries to apply, in order.
    public var committedEntries: [Entry] = []
    /// Messages to send at once, before persisting.
    public var messagesNow: [Message] = []
    /// Messages to send only after everything above is durable.
    public var messagesAfterPersist: [Message] = []
    /// Answers to ReadIndex requests.
    public var readStates: [ReadState] = []
    /// Set when the membership changed (a change applied by the previous `advance`, or an installed
    /// snapshot). It is the membership as of the applied index: persist it with the applied state (the
    /// checkpoint) so that a restart at that applied index sees it in `RaftStorage.initialState()`.
    public var confState: ConfState?
    /// Set when the node has applied `compactionHintEntries` entries since the last hint: the shell may take a
    /// snapshot at this index and compact the log through it.
    public var compactionHint: LogIndex?

    /// True when something has to be written and fsynced before `messagesAfterPersist` go out.
    public var mustSync: Bool {
        hardState != nil || !entries.isEmpty || snapshot != nil || !snapshotChunks.isEmpty
    }

    /// True when there is nothing at all to do.
    public var isEmpty: Bool {
        softState == nil && !mustSync && committedEntries.isEmpty && messagesNow.isEmpty
            && messagesAfterPersist.isEmpty && readStates.isEmpty && confState == nil && compactionHint == nil
    }
}
