/// How one node's Raft core behaves. All durations are in ticks: the shell decides how long a tick is.
public struct RaftConfig: Sendable {
    /// This node's identity; never `.none`.
    public var id: NodeID
    /// The voters of a brand-new cluster. Used only when the storage holds no membership yet (bootstrap); a
    /// node that joins an existing cluster leaves both lists empty and learns the membership from the leader.
    public var voters: [NodeID] = []
    /// The learners of a brand-new cluster (see `voters`).
    public var learners: [NodeID] = []
    /// A follower that hears nothing from a leader for a randomized `[electionTick, 2 * electionTick)` ticks
    /// campaigns (§5.2). MUST be greater than `heartbeatTick`.
    public var electionTick: Int = 10
    /// A leader sends heartbeats every `heartbeatTick` ticks.
    public var heartbeatTick: Int = 1
    /// At most this many appends in flight to one follower while replicating (pipelining bound by count).
    public var maxInflightMsgs: Int = 256
    /// At most this many entry payload bytes in flight to one follower (pipelining bound by bytes).
    public var maxInflightBytes: Int = 64 << 20
    /// At most this many entry payload bytes in one append (batching bound). One entry is always allowed.
    public var maxSizePerMsg: Int = 1 << 20
    /// At most this many bytes of committed entries handed out in one `Ready`.
    public var maxCommittedBytesPerReady: Int = 64 << 20
    /// At most this many entries that are not yet committed may sit in the leader's log; proposals beyond it
    /// are refused with `RaftError.Kind.proposalDropped` (back-pressure).
    public var maxUncommittedEntries: Int = 1 << 20
    /// Campaign with a pre-vote round first (thesis §9.6), so a node that was cut off cannot disrupt a leader.
    public var preVote: Bool = true
    /// A leader that has not heard from a quorum within an election timeout steps down (thesis §6.2), and
    /// followers ignore vote requests while they believe a leader is alive (leader lease).
    public var checkQuorum: Bool = true
    /// The log index the application has applied through when the node starts (its checkpoint).
    public var applied: LogIndex = .zero
    /// Seed for the election-timeout randomization. Use a different seed per node.
    public var randomSeed: UInt64 = 0
    /// After applying this many entries past the last hint, the `Ready` suggests compacting the log.
    public var compactionHintEntries: UInt64 = 10_000
    /// TEST ONLY: deliberately break one rule so the simulator can prove that it catches the breakage.
    /// MUST be `nil` outside the simulator and its tests.
    public var injectedBug: InjectedBug? = nil

    /// Defaults for everything but the identity.
    public init(id: NodeID) {
        self.id = id
    }

    /// Checks the bounds; a broken configuration is a programming error of the shell.
    func validate() {
        precondition(id != .none, "RaftConfig.id must not be .none")
        precondition(heartbeatTick > 0 && electionTick > heartbeatTick, "bad ticks: \(self)")
        precondition(maxInflightMsgs > 0 && maxInflightBytes > 0 && maxSizePerMsg > 0, "bad bounds: \(self)")
        precondition(maxCommittedBytesPerReady > 0 && maxUncommittedEntries > 0, "bad bounds: \(self)")
    }
}

/// Deliberate protocol bugs for the simulator's self-test (`skiff-sim --inject-bug NAME`). Each one breaks a
/// rule the paper states; the simulator must catch every one.
public enum InjectedBug: String, Sendable, CaseIterable {
    /// Heartbeats carry the leader's whole commit index instead of at most what the follower is known to hold,
    /// so a follower with a stale suffix commits it (breaks §5.3: only entries matching the leader's commit).
    case heartbeatCommitBeyondMatch = "heartbeat-commit-beyond-match"
    /// Grant a vote without persisting it first (breaks Figure 2, "persistent state").
    case voteWithoutPersist = "vote-without-persist"
    /// Acknowledge appended entries before they are fsynced (breaks Figure 2, "persistent state").
    case ackBeforeFsync = "ack-before-fsync"
    /// Accept AppendEntries without checking the previous entry's term (breaks §5.3, Log Matching).
    case skipLogMatchingCheck = "skip-log-matching-check"
    /// Adopt a higher term without stepping down from leader (breaks §5.1, Election Safety).
    case noStepDownOnHigherTerm = "no-step-down-on-higher-term"
    /// Grant votes without the up-to-date check (breaks §5.4.1, Leader Completeness).
    case voteForStaleLog = "vote-for-stale-log"
    /// Answer ReadIndex at once, without a heartbeat round confirming leadership (breaks thesis §6.4,
    /// linearizable reads).
    case readWithoutQuorum = "read-without-quorum"
}

/// A seeded SplitMix64 generator: the only randomness the core uses.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Why the core refused a request from the shell.
public struct RaftError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// This node is not the leader; `leader` in the error is the best hint.
        case notLeader
        /// The proposal was refused: a leader transfer is in progress or the uncommitted log is full.
        case proposalDropped
        /// A membership change is still pending, or the leader has not committed an entry in its term yet.
        case configChangeInProgress
        /// The membership change makes no sense (removing the last voter, adding an existing member...).
        case invalidConfigChange
    }

    /// Why the request was refused.
    public var kind: Kind
    /// The leader to redirect the client to, when known.
    public var leader: NodeID?

    public init(_ kind: Kind, leader: NodeID? = nil) {
        self.kind = kind
        self.leader = leader
    }

    public var description: String { "RaftError.\(kind) leader=\(leader.map { "\($0)" } ?? "unknown")" }
}

extension RaftConfig: CustomStringConvertible {
    public var description: String {
        "RaftConfig(id=\(id) election=\(electionTick) heartbeat=\(heartbeatTick) inflight=\(maxInflightMsgs)/"
            + "\(maxInflightBytes)B msg=\(maxSizePerMsg)B preVote=\(preVote) checkQuorum=\(checkQuorum))"
    }
}
