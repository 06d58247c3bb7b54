import SkiffRaft

/// A point-in-time copy of a node's state, taken on the node's event loop and read anywhere else
/// (admin HTTP, metrics, the `cluster status` request).
public struct NodeStatus: Sendable, Hashable {
    /// One cluster member as this node sees it.
    public struct Member: Sendable, Hashable {
        public var id: NodeID
        public var peerAddress: String
        public var clientAddress: String?
        public var isLearner: Bool
        /// The leader's view of this member's replicated index; nil when this node is not the leader.
        public var matchIndex: LogIndex?
    }

    /// Per-queue figures for `/metrics`.
    public struct QueueFigures: Sendable, Hashable {
        public var name: String
        public var ready: Int
        public var leased: Int
        public var delayed: Int
        public var deadLettered: UInt64
        /// Cumulative counters since the queue was declared (replicated state, so equal on every node).
        public var published: UInt64 = 0
        public var delivered: UInt64 = 0
        public var acked: UInt64 = 0
        public var discarded: UInt64 = 0
    }

    public var nodeID: NodeID
    public var role: String
    public var term: Term
    public var leaderID: NodeID
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var lastLogIndex: LogIndex
    /// The first index the Raft log still holds (everything before is in a snapshot).
    public var firstLogIndex: LogIndex
    public var logBytes: UInt64
    public var checkpointIndex: LogIndex
    /// Seconds since the last durable checkpoint (the base of snapshots); nil if none yet.
    public var snapshotAgeSeconds: Double?
    public var members: [Member]
    /// True when recovery found corruption: the node refuses to vote or lead until repaired.
    public var logUntrusted: Bool
    public var clientConnections: Int
    public var peerConnections: Int
    public var queues: [QueueFigures]
    public var unsafeBug: String?

    /// Ready: the node knows a leader, trusts its log, and has applied everything it knows to be committed
    /// (within `readyLagEntriesMax`).
    public var isReady: Bool {
        leaderID != .none && !logUntrusted
            && commitIndex.rawValue <= appliedIndex.rawValue + NodeStatus.readyLagEntriesMax
    }

    /// How far `applied` may trail `commit` for `/readyz` to still say ready.
    public static let readyLagEntriesMax: UInt64 = 1000
}

extension NodeStatus {
    /// The `/cluster` JSON document. Hand-written so key order is stable for operators and scripts.
    public var clusterJSON: String {
        var out = "{\"node\":\(nodeID.rawValue),\"role\":\(jsonString(role)),\"term\":\(term.rawValue)"
        out += ",\"leader\":\(leaderID == .none ? "null" : String(leaderID.rawValue))"
        out += ",\"commit\":\(commitIndex.rawValue),\"applied\":\(appliedIndex.rawValue)"
        out +=
            ",\"first_index\":\(firstLogIndex.rawValue),\"last_index\":\(lastLogIndex.rawValue),\"log_bytes\":\(logBytes)"
        out += ",\"checkpoint_index\":\(checkpointIndex.rawValue),\"log_untrusted\":\(logUntrusted)"
        out += ",\"ready\":\(isReady),\"members\":["
        out += members.map { m in
            var s = "{\"id\":\(m.id.rawValue),\"peer\":\(jsonString(m.peerAddress))"
            s += ",\"client\":\(m.clientAddress.map(jsonString) ?? "null"),\"learner\":\(m.isLearner)"
            s += ",\"match\":\(m.matchIndex.map { String($0.rawValue) } ?? "null")}"
            return s
        }.joined(separator: ",")
        out += "]}"
        return out
    }
}

/// Escapes a string as a JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
