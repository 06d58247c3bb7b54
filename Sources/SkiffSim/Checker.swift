import SkiffRaft

/// The invariants the simulator checks after every event (Raft Figure 3, plus the client guarantees).
struct Checker {
    private struct EntryID: Hashable {
        var index: LogIndex
        var term: Term
    }

    /// The one leader of each term (Election Safety).
    private var leaderOfTerm: [Term: NodeID] = [:]
    /// For every (index, term) ever persisted anywhere: the payload hash and the previous entry's term
    /// (Log Matching, checked inductively).
    private var persisted: [EntryID: (data: UInt64, previousTerm: Term?)] = [:]
    /// Every committed entry: its term, payload hash and the leader term that committed it.
    private var committed: [LogIndex: (term: Term, data: UInt64, commitTerm: Term)] = [:]
    private(set) var committedThrough: LogIndex = .zero
    /// The one order in which client proposals are applied (State Machine Safety at the application).
    private(set) var globalOrder: [UInt64] = []
    private(set) var elections = 0

    /// Election Safety and Leader Completeness, when `node` is a leader.
    mutating func checkLeader(_ node: SimNode) -> (String, String)? {
        guard let raft = node.raft, raft.role == .leader else { return nil }
        if let other = leaderOfTerm[raft.term], other != node.id {
            return ("election-safety", "\(node.id) and \(other) both lead \(raft.term)")
        }
        if node.wasLeaderInTerm != raft.term {
            node.wasLeaderInTerm = raft.term
            leaderOfTerm[raft.term] = node.id
            elections += 1
            if let broken = checkCompleteness(raft) { return ("leader-completeness", broken) }
        }
        return recordCommits(raft)
    }

    /// Every entry committed in an earlier term is in the new leader's log (§5.4).
    private func checkCompleteness(_ raft: RawNode) -> String? {
        let floor = raft.firstIndex.previous
        var index = committedThrough
        while index > floor {
            if let entry = committed[index], entry.commitTerm < raft.term, raft.logTerm(at: index) != entry.term {
                return "leader \(raft.id) of \(raft.term) lacks \(index)@\(entry.term) committed in \(entry.commitTerm)"
            }
            index = index.previous
        }
        return nil
    }

    /// Records what the leader has just committed; a committed index never changes its entry.
    private mutating func recordCommits(_ raft: RawNode) -> (String, String)? {
        guard raft.commitIndex > committedThrough else { return nil }
        let from = max(committedThrough.next, raft.firstIndex)
        let entries = raft.logEntries(from..<raft.commitIndex.next) ?? []
        for entry in entries {
            let hash = bytesHash(entry.data)
            if let known = committed[entry.index], known.term != entry.term || known.data != hash {
                return ("state-machine-safety", "\(entry.index) committed as \(known.term) and \(entry.term)")
            }
            committed[entry.index] = (entry.term, hash, raft.term)
        }
        committedThrough = raft.commitIndex
        return nil
    }

    /// Log Matching: equal (index, term) means equal entry and equal predecessor term.
    mutating func checkPersisted(_ entries: [Entry], previousTerm: Term?, node: NodeID) -> (String, String)? {
        var previous = previousTerm
        for entry in entries {
            let key = EntryID(index: entry.index, term: entry.term)
            let value = (bytesHash(entry.data), previous)
            if let known = persisted[key] {
                let prevDiffers = known.previousTerm != nil && value.1 != nil && known.previousTerm != value.1
                if known.data != value.0 || prevDiffers {
                    return ("log-matching", "\(node) holds a different entry \(entry.index)@\(entry.term)")
                }
            } else {
                persisted[key] = value
            }
            previous = entry.term
        }
        return nil
    }

    /// State Machine Safety: every node applies the same entry at each index and the same proposal order.
    mutating func checkApplied(_ entry: Entry, node: SimNode, newProposal: UInt64?) -> (String, String)? {
        let hash = bytesHash(entry.data)
        if let known = committed[entry.index] {
            if known.term != entry.term || known.data != hash {
                return (
                    "state-machine-safety", "\(node.id) applied \(entry.index)@\(entry.term), committed \(known.term)"
                )
            }
        } else {
            // Committed by a leader the checker did not observe: its term is at most this node's term.
            committed[entry.index] = (entry.term, hash, node.raft?.term ?? entry.term)
        }
        guard let id = newProposal else { return nil }
        let position = node.machine.order.count - 1
        if position < globalOrder.count {
            if globalOrder[position] != id {
                return (
                    "state-machine-safety",
                    "\(node.id) applied proposal \(id) at \(position), others \(globalOrder[position])"
                )
            }
        } else {
            globalOrder.append(id)
        }
        return nil
    }
}
