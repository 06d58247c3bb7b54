/// A Raft RPC between two nodes. One flat value for every kind, as the fields overlap heavily; each kind's
/// doc says which fields it uses. Ship it with `encoded()` / `init(decoding:)`.
public struct Message: Hashable, Sendable, CustomStringConvertible {
    /// The RPC kinds. Raw values are part of the wire format: never renumber.
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
        /// Pre-vote request (thesis §9.6): `term` is the term the sender would campaign in;
        /// `index`/`logTerm` are its last log position. Changes no state on the receiver.
        case preVote = 1
        /// Answer to `preVote`; `reject` false means granted.
        case preVoteResponse = 2
        /// RequestVote (§5.2): `index`/`logTerm` are the candidate's last log position. `forceVote` is set when
        /// the election was started by a leader transfer, so receivers skip their leader lease.
        case vote = 3
        /// Answer to `vote`; `reject` false means granted.
        case voteResponse = 4
        /// AppendEntries (§5.3): `index`/`logTerm` locate the entry before `entries`; `commit` is the leader's.
        case append = 5
        /// Answer to `append`. On success `index` is the receiver's last matching index. On reject, `index`
        /// echoes the probed index and `rejectHint`/`logTerm` give the conflict hint (fast backtracking).
        case appendResponse = 6
        /// Leader heartbeat: `commit` is at most what the receiver is known to hold; `context` carries a
        /// ReadIndex round.
        case heartbeat = 7
        /// Answer to `heartbeat`, echoing `context`.
        case heartbeatResponse = 8
        /// One chunk of InstallSnapshot (§7): `snapshot` names it, `snapshotOffset` locates `snapshotData`,
        /// `snapshotDone` marks the last chunk. The core emits it with empty data: the shell fills the chunk.
        case snapshot = 9
        /// Progress of a snapshot transfer: `snapshotOffset` is the next byte the receiver wants and `index` the
        /// snapshot's index.
        case snapshotResponse = 10
        /// Leader transfer (thesis §3.10): the receiver campaigns at once.
        case timeoutNow = 11
        /// A follower forwards a ReadIndex request to the leader; `context` identifies it.
        case readIndex = 12
        /// The leader answers a forwarded ReadIndex: `index` is the read index, `context` the request's.
        case readIndexResponse = 13
    }

    /// What the message is; see each kind for the fields it uses.
    public var kind: Kind
    /// The sender.
    public var from: NodeID
    /// The receiver; a message for another node is ignored.
    public var to: NodeID
    /// The sender's term (for a pre-vote: the term it would campaign in).
    public var term: Term
    /// Term of the entry at `index` (previous entry, last entry, or the conflict hint's term).
    public var logTerm: Term = .zero
    /// A log position whose meaning depends on `kind`.
    public var index: LogIndex = .zero
    /// The entries of an append.
    public var entries: [Entry] = []
    /// The leader's commit index (bounded, in heartbeats, by what the receiver is known to hold).
    public var commit: LogIndex = .zero
    /// Set on a refused vote, pre-vote, append or snapshot.
    public var reject: Bool = false
    /// On a rejected append: the last index whose term can still match (fast backtracking).
    public var rejectHint: LogIndex = .zero
    /// On a vote started by a leader transfer: receivers ignore their leader lease.
    public var forceVote: Bool = false
    /// The ReadIndex request this message carries or answers.
    public var context: [UInt8] = []
    /// The snapshot a `.snapshot` chunk belongs to.
    public var snapshot: SnapshotMetadata? = nil
    /// Byte offset of `snapshotData` (or, in a response, of the next byte wanted).
    public var snapshotOffset: UInt64 = 0
    /// One chunk of snapshot bytes, filled in by the leader's shell.
    public var snapshotData: [UInt8] = []
    /// Set on the chunk that ends the snapshot.
    public var snapshotDone: Bool = false

    /// A message with every optional field at its default.
    public init(kind: Kind, from: NodeID, to: NodeID, term: Term) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
    }

    /// The sum of the entries' payload sizes, used for the byte bounds on appends.
    public var entriesBytes: Int { entries.reduce(0) { $0 + $1.data.count } }

    /// True for responses that the receiver MUST send only after persisting its Ready (Raft Figure 2:
    /// "respond to RPCs only after updating stable storage").
    public var requiresPersistence: Bool {
        switch kind {
        case .voteResponse, .appendResponse, .heartbeatResponse, .snapshotResponse, .vote: true
        case .preVote, .preVoteResponse, .append, .heartbeat, .snapshot, .timeoutNow, .readIndex,
            .readIndexResponse:
            false
        }
    }

    /// For a `.snapshot` message produced by the core: the same message carrying one chunk of the snapshot's
    /// bytes. `done` MUST be true when the chunk ends the snapshot.
    public func withSnapshotChunk(_ data: [UInt8], done: Bool) -> Message {
        precondition(kind == .snapshot, "withSnapshotChunk on \(self)")
        var filled = self
        filled.snapshotData = data
        filled.snapshotDone = done
        return filled
    }

    public var description: String {
        var text = "\(kind) \(from)->\(to) \(term)"
        switch kind {
        case .append:
            text += " prev=\(index)@\(logTerm) n=\(entries.count) commit=\(commit)"
        case .appendResponse:
            text += reject ? " reject=\(index) hint=\(rejectHint)@\(logTerm)" : " index=\(index)"
        case .vote, .preVote:
            text += " last=\(index)@\(logTerm)" + (forceVote ? " force" : "")
        case .voteResponse, .preVoteResponse:
            text += reject ? " rejected" : " granted"
        case .heartbeat:
            text += " commit=\(commit)"
        case .snapshot:
            text += " \(snapshot.map { "\($0)" } ?? "nil") off=\(snapshotOffset) len=\(snapshotData.count)"
            text += snapshotDone ? " done" : ""
        case .snapshotResponse:
            text += " \(index) next=\(snapshotOffset)" + (reject ? " reject" : "")
        case .readIndexResponse:
            text += " index=\(index)"
        case .heartbeatResponse, .timeoutNow, .readIndex:
            break
        }
        return text
    }
}
