/// Membership changes one server at a time (thesis §4.1) and leader transfer (thesis §3.10).
extension RawNode {
    /// Proposes a membership change. Refused unless this node leads, has committed an entry in its term
    /// (the guard of thesis §4.1 against the single-server change bug), and no other change is unapplied.
    @discardableResult
    public func proposeConfigChange(_ change: ConfChange) throws(RaftError) -> LogIndex {
        try checkCanPropose(count: 1)
        guard log.term(log.committed) == term, unappliedConfigIndexes.isEmpty else {
            throw RaftError(.configChangeInProgress, leader: leader)
        }
        switch change.kind {
        case .addVoter:
            guard !confState.isVoter(change.node) else { throw RaftError(.invalidConfigChange, leader: leader) }
        case .addLearner:
            guard !confState.isMember(change.node) else { throw RaftError(.invalidConfigChange, leader: leader) }
        case .removeNode:
            guard confState.isMember(change.node), confState.voters != [change.node] else {
                throw RaftError(.invalidConfigChange, leader: leader)
            }
        }
        let index = log.lastIndex.next
        appendAsLeader([Entry(term: term, index: index, kind: .configChange, data: change.encoded())])
        return index
    }

    /// Applies the membership changes that the applied index has just passed. Changes take effect when the
    /// shell has applied them (as in etcd), so `confState` is always the membership as of `appliedIndex`, the
    /// one a snapshot taken there must record.
    func applyConfigChanges() {
        while let index = unappliedConfigIndexes.first, index <= log.applied {
            unappliedConfigIndexes.removeFirst()
            guard let entry = log.entries(from: index, to: index.next, maxBytes: Int.max)?.first,
                let change = try? ConfChange(decoding: entry.data)
            else { continue }
            applyConfChange(change)
        }
    }

    private func applyConfChange(_ change: ConfChange) {
        confState = confState.applying(change)
        confChanged = true
        guard role == .leader else { return }
        for member in confState.members where progress[member] == nil {
            progress[member] = Progress(
                next: log.lastIndex.next, maxInflightMsgs: config.maxInflightMsgs,
                maxInflightBytes: config.maxInflightBytes)
            progress[member]?.recentActive = true
        }
        for peer in progress.keys.sorted() where !confState.isMember(peer) && peer != id { progress[peer] = nil }
        if let transferee = leadTransferee, !confState.isVoter(transferee) { leadTransferee = nil }
        if !confState.isVoter(id) {
            stepDownAfterRemoval()
            return
        }
        if maybeCommit() { needsBroadcast = true }
        needsBroadcast = true
    }

    /// A leader that is no longer a voter tells everyone the commit, hands leadership to the most up-to-date
    /// voter, and becomes a follower.
    private func stepDownAfterRemoval() {
        for member in confState.members where member != id { sendAppends(to: member, allowEmpty: true) }
        let best = confState.voters.max { (progress[$0]?.match ?? .zero) < (progress[$1]?.match ?? .zero) }
        if let best, progress[best]?.match == log.lastIndex { send(message(.timeoutNow, to: best)) }
        becomeFollower(term: term, leader: nil)
    }

    /// Starts handing leadership to `target` (graceful shutdown, rolling restart): the leader stops taking
    /// proposals, brings the target up to date, then tells it to campaign at once. Aborted after an election
    /// timeout.
    public func transferLeadership(to target: NodeID) throws(RaftError) {
        guard role == .leader else { throw RaftError(.notLeader, leader: leader) }
        guard target != id, confState.isVoter(target) else { throw RaftError(.invalidConfigChange, leader: leader) }
        if leadTransferee == target { return }
        leadTransferee = target
        electionElapsed = 0
        if progress[target]?.match == log.lastIndex {
            send(message(.timeoutNow, to: target))
        } else {
            sendAppend(to: target, allowEmpty: true)
        }
    }
}
