/// Strong types for Raft protocol quantities, shared by the core, the log, the simulator and the node.
///
/// These are the contract between `SkiffRaft` and `SkiffLog`: the log persists `Entry` and `HardState`
/// values exactly as defined here.

/// A Raft term (Raft §5.1). Terms only grow on any one node.
public struct Term: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static let zero = Term(0)
    public static func < (lhs: Term, rhs: Term) -> Bool { lhs.rawValue < rhs.rawValue }
    public var next: Term { Term(rawValue + 1) }
    public var description: String { "t\(rawValue)" }
}

/// A position in the replicated log. The first real entry has index 1; index 0 means "before the log".
public struct LogIndex: RawRepresentable, Hashable, Comparable, Strideable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static let zero = LogIndex(0)
    public static func < (lhs: LogIndex, rhs: LogIndex) -> Bool { lhs.rawValue < rhs.rawValue }
    public func distance(to other: LogIndex) -> Int64 { Int64(bitPattern: other.rawValue &- rawValue) }
    public func advanced(by n: Int64) -> LogIndex { LogIndex(UInt64(bitPattern: Int64(bitPattern: rawValue) &+ n)) }
    public var next: LogIndex { LogIndex(rawValue + 1) }
    public var previous: LogIndex {
        precondition(rawValue > 0, "LogIndex.previous of 0")
        return LogIndex(rawValue - 1)
    }
    public var description: String { "i\(rawValue)" }
}

/// A node's identity in the cluster. Zero is reserved for "none".
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static let none = NodeID(0)
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// What a log entry carries.
public enum EntryKind: UInt8, Sendable, Hashable {
    /// Application data: an opaque command for the state machine.
    case normal = 0
    /// A membership change (the encoded configuration change).
    case configChange = 1
    /// The empty entry a new leader appends at the start of its term (Raft §8, thesis §6.4).
    case noop = 2
}

/// One entry of the replicated log.
public struct Entry: Hashable, Sendable {
    public var term: Term
    public var index: LogIndex
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// The state a node MUST persist before answering any RPC (Raft Figure 2, "Persistent state").
public struct HardState: Hashable, Sendable {
    public var term: Term
    /// The candidate voted for in `term`, or `.none`.
    public var vote: NodeID
    /// The highest index known committed. Persisting it is optional for safety but speeds recovery.
    public var commit: LogIndex

    public init(term: Term = .zero, vote: NodeID = .none, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The membership of the cluster: who votes and who only replicates (Raft thesis §4).
///
/// Both lists are kept sorted and disjoint, so that iterating them is deterministic.
public struct ConfState: Hashable, Sendable, CustomStringConvertible {
    /// Members whose acknowledgements count towards a quorum and who may campaign.
    public private(set) var voters: [NodeID]
    /// Members that receive the log but neither vote nor count towards a quorum (thesis §4.2.1).
    public private(set) var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        let voterSet = Set(voters)
        self.voters = voterSet.sorted()
        self.learners = Set(learners).subtracting(voterSet).sorted()
    }

    /// Every member, voters first, each list sorted.
    public var members: [NodeID] { voters + learners }
    /// The number of voters that make a majority.
    public var quorum: Int { voters.count / 2 + 1 }

    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    public func isMember(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }

    /// The membership after `change`. Adding a learner that is already a voter is refused by the caller.
    public func applying(_ change: ConfChange) -> ConfState {
        var voters = self.voters.filter { $0 != change.node }
        var learners = self.learners.filter { $0 != change.node }
        switch change.kind {
        case .addVoter: voters.append(change.node)
        case .addLearner: learners.append(change.node)
        case .removeNode: break
        }
        return ConfState(voters: voters, learners: learners)
    }

    public var description: String { "voters=\(voters) learners=\(learners)" }
}

/// One membership change, carried in an `EntryKind.configChange` entry. Changes are applied one server at a
/// time (thesis §4.1); promoting a learner is `addVoter` of a node that is already a learner.
public struct ConfChange: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable, Hashable {
        case addVoter = 1
        case addLearner = 2
        case removeNode = 3
    }

    public var kind: Kind
    public var node: NodeID

    public init(_ kind: Kind, _ node: NodeID) {
        self.kind = kind
        self.node = node
    }

    public var description: String { "\(kind)(\(node))" }
}

/// What a snapshot stands for: the state machine after applying every entry through `index`.
///
/// The snapshot's bytes are opaque to the core and never held by it: the shell stores and streams them.
public struct SnapshotMetadata: Hashable, Sendable, CustomStringConvertible {
    /// The last log index the snapshot includes.
    public var index: LogIndex
    /// The term of the entry at `index`.
    public var term: Term
    /// The membership as of `index`.
    public var confState: ConfState

    public init(index: LogIndex = .zero, term: Term = .zero, confState: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.confState = confState
    }

    public var description: String { "snap(\(index)@\(term) \(confState))" }
}
