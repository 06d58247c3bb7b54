/// The Raft core of one node, in the shape of etcd's RawNode: a pure state machine driven by `tick()`,
/// `step(_:)` and the proposal calls, that returns its work as a `Ready` and is told about progress with
/// `advance(_:)`. It does no I/O, reads no clock and owns no thread: use it from one thread or event loop.
///
/// The shell's loop: feed ticks, messages and proposals; when `hasReady()`, take `ready()`, carry it out in
/// the order `Ready` documents, then call `advance(_:)`.
public final class RawNode {
    let config: RaftConfig
    var log: RaftLog
    var rng: SeededRandom

    /// The current term (persistent).
    public internal(set) var term: Term
    /// The candidate this node voted for in `term` (persistent).
    var vote: NodeID
    /// The node's role in `term`.
    public internal(set) var role: Role = .follower
    /// The leader of `term` as far as this node knows; use it for NOT_LEADER hints.
    public internal(set) var leader: NodeID?
    /// The membership in force: the latest snapshot's plus every change applied after it.
    public internal(set) var confState: ConfState
    /// The voter a leader transfer is handing leadership to, if any.
    public internal(set) var leadTransferee: NodeID?

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var progress: [NodeID: Progress] = [:]
    var votes: [NodeID: Bool] = [:]
    /// Indexes of membership-change entries after the applied index; they take effect when applied.
    var unappliedConfigIndexes: [LogIndex] = []
    /// Set when proposals were appended since the last broadcast (batching: one append per `ready()`).
    var needsBroadcast = false
    var confChanged = false
    var messagesNow: [Message] = []
    var messagesAfterPersist: [Message] = []
    var readStates: [ReadState] = []
    var pendingReads: [PendingRead] = []
    var readsAwaitingTermCommit: [(from: NodeID, context: [UInt8])] = []
    var incomingSnapshot: (metadata: SnapshotMetadata, nextOffset: UInt64)?
    var snapshotChunks: [SnapshotChunk] = []
    var previousSoftState: SoftState
    var previousHardState: HardState
    var lastCompactionHint: LogIndex
    var readyOutstanding = false
    /// A TimeoutNow arrived while a committed membership change was unapplied: campaign once it is applied.
    var campaignAfterApply = false
    /// With an injected bug only: the first invariant the core saw broken (instead of trapping).
    public internal(set) var coreViolation: String?

    /// Starts a node from what `storage` holds (empty for a new node).
    public init(config: RaftConfig, storage: any RaftStorage) {
        config.validate()
        self.config = config
        let (hardState, storedConf) = storage.initialState()
        self.log = RaftLog(storage: storage, committed: hardState.commit, applied: config.applied)
        self.rng = SeededRandom(seed: config.randomSeed ^ config.id.rawValue &* 0x9E37_79B9_7F4A_7C15)
        self.term = hardState.term
        self.vote = hardState.vote
        if storedConf.voters.isEmpty && storedConf.learners.isEmpty {
            self.confState = ConfState(voters: config.voters, learners: config.learners)
            self.confChanged = !self.confState.members.isEmpty
        } else {
            self.confState = storedConf
        }
        self.previousSoftState = SoftState(leader: nil, role: .follower)
        self.previousHardState = hardState
        self.lastCompactionHint = log.applied
        self.unappliedConfigIndexes = Self.configIndexes(in: log, after: log.applied)
        becomeFollower(term: term, leader: nil)
    }

    private static func configIndexes(in log: RaftLog, after index: LogIndex) -> [LogIndex] {
        var result: [LogIndex] = []
        var next = index.next
        while next <= log.lastIndex, let batch = log.entries(from: next, to: log.lastIndex.next, maxBytes: 1 << 20),
            let last = batch.last
        {
            result += batch.filter { $0.kind == .configChange }.map(\.index)
            next = last.index.next
        }
        return result
    }

    // MARK: Read-only state for the shell.

    /// This node's identity.
    public var id: NodeID { config.id }
    /// The highest index known committed.
    public var commitIndex: LogIndex { log.committed }
    /// The highest index handed to the shell for applying and acknowledged with `advance(_:)`.
    public var appliedIndex: LogIndex { log.applied }
    /// The last index in the log (persisted or not).
    public var lastIndex: LogIndex { log.lastIndex }
    /// The first index still held as an entry.
    public var firstIndex: LogIndex { log.firstIndex }
    /// The term of the entry at `index`, or nil when compacted or absent.
    public func logTerm(at index: LogIndex) -> Term? { log.term(index) }
    /// Entries `range` of this node's log (persisted or not), or nil when compacted.
    public func logEntries(_ range: Range<LogIndex>) -> [Entry]? {
        log.entries(from: range.lowerBound, to: range.upperBound, maxBytes: Int.max)
    }
    /// On a leader: the highest index known replicated on `peer`.
    public func matchIndex(of peer: NodeID) -> LogIndex? { progress[peer]?.match }

    /// The node's state, for precondition messages and debugging.
    public var status: String {
        var text = "node \(id) \(role) \(term) vote=\(vote) leader=\(leader.map { "\($0)" } ?? "none") "
        text += "\(log.description) \(confState)"
        for peer in confState.members where role == .leader {
            text += " [\(peer): \(progress[peer].map { "\($0)" } ?? "?")]"
        }
        return text
    }

    // MARK: Ready / advance.

    /// True when `ready()` would return work.
    public func hasReady() -> Bool {
        flushBroadcast()
        if readyOutstanding { return false }
        return !messagesNow.isEmpty || !messagesAfterPersist.isEmpty || !log.unstableEntries.isEmpty
            || log.pendingSnapshot != nil || !snapshotChunks.isEmpty || !readStates.isEmpty || confChanged
            || log.committed > log.applied || currentSoftState != previousSoftState
            || persistedHardState != previousHardState
    }

    /// The work to carry out now. MUST be followed by `advance(_:)` before the next call.
    public func ready() -> Ready {
        precondition(!readyOutstanding, "ready() called twice without advance(): \(status)")
        flushBroadcast()
        var ready = Ready()
        let soft = currentSoftState
        if soft != previousSoftState { ready.softState = soft }
        previousSoftState = soft
        let hard = persistedHardState
        if hard != previousHardState { ready.hardState = hard }
        previousHardState = hard
        ready.entries = log.unstableEntries
        ready.snapshot = log.pendingSnapshot
        ready.snapshotChunks = snapshotChunks
        ready.committedEntries = log.nextCommitted(maxBytes: config.maxCommittedBytesPerReady)
        ready.messagesNow = messagesNow
        ready.messagesAfterPersist = messagesAfterPersist
        ready.readStates = readStates
        if confChanged { ready.confState = confState }
        if log.applied.rawValue >= lastCompactionHint.rawValue + config.compactionHintEntries {
            ready.compactionHint = log.applied
            lastCompactionHint = log.applied
        }
        snapshotChunks = []
        messagesNow = []
        messagesAfterPersist = []
        readStates = []
        confChanged = false
        readyOutstanding = true
        return ready
    }

    /// Acknowledges that the shell has persisted, sent and applied everything in `ready`.
    public func advance(_ ready: Ready) {
        precondition(readyOutstanding, "advance() without ready(): \(status)")
        readyOutstanding = false
        if let last = ready.entries.last {
            log.stable(through: last.index, term: last.term, snapshot: ready.snapshot)
        } else if let snapshot = ready.snapshot {
            log.stable(through: .zero, term: .zero, snapshot: snapshot)
        }
        if let applied = ready.committedEntries.last?.index, applied > log.applied {
            log.applied(to: applied)
            applyConfigChanges()
        }
        if campaignAfterApply {
            campaignAfterApply = false
            campaign(transfer: true)
        }
        if role == .leader {
            // Invariant: the leader counts itself towards a quorum only for entries it has made durable.
            let selfMatch = max(progress[id]?.match ?? .zero, log.stableLastIndex)
            progress[id]?.match = selfMatch
            if maybeCommit() { needsBroadcast = true }
        }
    }

    /// Checks an invariant. A broken one traps with the node's state, except under an injected bug, where it
    /// is recorded in `coreViolation` for the simulator to report and the offending step is skipped.
    func check(_ condition: Bool, _ message: @autoclosure () -> String) -> Bool {
        if condition { return true }
        guard config.injectedBug != nil else { preconditionFailure("\(message()): \(status)") }
        if coreViolation == nil { coreViolation = message() }
        return false
    }

    var currentSoftState: SoftState { SoftState(leader: leader, role: role) }

    /// The hard state the Ready reports (the vote-without-persist bug hides the vote from the shell).
    var persistedHardState: HardState {
        let reportedVote = config.injectedBug == .voteWithoutPersist ? NodeID.none : vote
        return HardState(term: term, vote: reportedVote, commit: log.committed)
    }

    /// Queues a message, routing it by whether it must wait for the Ready's fsync.
    func send(_ message: Message) {
        var waits = message.requiresPersistence
        switch config.injectedBug {
        case .ackBeforeFsync where message.kind == .appendResponse: waits = false
        case .voteWithoutPersist where message.kind == .voteResponse: waits = false
        default: break
        }
        if waits {
            messagesAfterPersist.append(message)
        } else {
            messagesNow.append(message)
        }
    }

    func message(_ kind: Message.Kind, to: NodeID) -> Message {
        Message(kind: kind, from: id, to: to, term: term)
    }
}

/// A ReadIndex request waiting for a quorum of heartbeat acknowledgements (thesis §6.4).
struct PendingRead {
    var index: LogIndex
    var context: [UInt8]
    var from: NodeID
    var acks: Set<NodeID>
}
