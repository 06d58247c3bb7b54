/// Proposals, log replication and commitment (Raft §5.3, §5.4, thesis §10.2).
extension RawNode {
    /// Proposes one command. Returns the index it will have if it commits.
    @discardableResult
    public func propose(_ data: [UInt8]) throws(RaftError) -> LogIndex {
        try propose(batch: [data])
    }

    /// Proposes several commands at once; they travel in the same appends. Returns the last one's index.
    @discardableResult
    public func propose(batch: [[UInt8]]) throws(RaftError) -> LogIndex {
        try checkCanPropose(count: batch.count)
        var index = log.lastIndex
        var entries: [Entry] = []
        entries.reserveCapacity(batch.count)
        for data in batch {
            index = index.next
            entries.append(Entry(term: term, index: index, kind: .normal, data: data))
        }
        appendAsLeader(entries)
        return index
    }

    func checkCanPropose(count: Int) throws(RaftError) {
        guard role == .leader else { throw RaftError(.notLeader, leader: leader) }
        guard leadTransferee == nil else { throw RaftError(.proposalDropped, leader: leader) }
        let uncommitted = Int(log.lastIndex.rawValue - log.committed.rawValue)
        guard uncommitted + count <= config.maxUncommittedEntries else {
            throw RaftError(.proposalDropped, leader: leader)
        }
    }

    /// Appends entries to the leader's own log; they are sent at the next `ready()` (batching).
    func appendAsLeader(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        precondition(first.index == log.lastIndex.next && first.term == term, "bad leader append \(first): \(status)")
        appendToLog(entries)
        if config.injectedBug == .ackBeforeFsync { progress[id]?.match = log.lastIndex }
        needsBroadcast = true
        if confState.voters == [id] || config.injectedBug == .ackBeforeFsync { _ = maybeCommit() }
    }

    /// Appends to the log, tracking membership-change entries (they take effect when applied).
    func appendToLog(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        unappliedConfigIndexes.removeAll { $0 >= first.index }
        for entry in entries where entry.kind == .configChange { unappliedConfigIndexes.append(entry.index) }
        log.append(entries)
    }

    /// Sends pending appends to every follower (called by `ready()`), pipelining up to the inflight bounds.
    func flushBroadcast() {
        guard needsBroadcast else { return }
        needsBroadcast = false
        guard role == .leader else { return }
        for member in confState.members where member != id {
            sendAppends(to: member, allowEmpty: true)
        }
    }

    /// Sends as many appends as the follower's flow control allows; at least one (maybe empty) if allowed.
    func sendAppends(to peer: NodeID, allowEmpty: Bool) {
        var sentAny = false
        for _ in 0..<config.maxInflightMsgs {
            guard sendAppend(to: peer, allowEmpty: allowEmpty && !sentAny) else { return }
            sentAny = true
            if progress[peer]?.state != .replicate { return }
        }
    }

    /// Sends one append (or starts a snapshot when the entries are compacted). Returns true if one was sent.
    @discardableResult
    func sendAppend(to peer: NodeID, allowEmpty: Bool) -> Bool {
        guard var peerProgress = progress[peer], !peerProgress.isPaused else { return false }
        let prevIndex = peerProgress.next.previous
        guard let prevTerm = log.term(prevIndex),
            let entries = log.entries(from: peerProgress.next, to: log.lastIndex.next, maxBytes: config.maxSizePerMsg)
        else {
            return startSnapshot(to: peer)
        }
        if entries.isEmpty && !allowEmpty { return false }
        var append = message(.append, to: peer)
        append.index = prevIndex
        append.logTerm = prevTerm
        append.entries = entries
        append.commit = log.committed
        if let last = entries.last, peerProgress.state == .replicate {
            peerProgress.next = last.index.next
            peerProgress.inflights.add(last: last.index, bytes: append.entriesBytes)
        } else if peerProgress.state == .probe {
            peerProgress.probeSent = true
        }
        progress[peer] = peerProgress
        send(append)
        return true
    }

    func stepLeader(_ message: Message) {
        guard progress[message.from] != nil else {
            if message.kind == .readIndex { handleReadRequest(from: message.from, context: message.context) }
            return
        }
        progress[message.from]?.recentActive = true
        switch message.kind {
        case .appendResponse: handleAppendResponse(message)
        case .heartbeatResponse: handleHeartbeatResponse(message)
        case .snapshotResponse: handleSnapshotResponse(message)
        case .readIndex: handleReadRequest(from: message.from, context: message.context)
        default: break
        }
    }

    private func handleAppendResponse(_ message: Message) {
        let peer = message.from
        guard var peerProgress = progress[peer] else { return }
        if message.reject {
            var probe = message.rejectHint
            if message.logTerm > .zero {
                probe = log.findConflict(atOrBefore: message.rejectHint, term: message.logTerm)
            }
            guard peerProgress.maybeDecrease(rejected: message.index, matchHint: probe) else { return }
            if peerProgress.state == .replicate { peerProgress.becomeProbe() }
            progress[peer] = peerProgress
            sendAppend(to: peer, allowEmpty: true)
            return
        }
        guard peerProgress.maybeUpdate(message.index) else {
            progress[peer] = peerProgress
            return
        }
        switch peerProgress.state {
        case .probe: peerProgress.becomeReplicate()
        case .snapshot:
            peerProgress.becomeProbe()
            if peerProgress.match.next >= log.firstIndex { peerProgress.becomeReplicate() }
        case .replicate: peerProgress.inflights.free(through: message.index)
        }
        progress[peer] = peerProgress
        if maybeCommit() {
            for member in confState.members where member != id { sendAppends(to: member, allowEmpty: true) }
        } else {
            sendAppends(to: peer, allowEmpty: false)
        }
        if peer == leadTransferee && peerProgress.match == log.lastIndex {
            send(self.message(.timeoutNow, to: peer))
        }
    }

    private func handleHeartbeatResponse(_ message: Message) {
        let peer = message.from
        progress[peer]?.probeSent = false
        if progress[peer]?.state == .replicate && progress[peer]?.inflights.isFull == true {
            progress[peer]?.inflights.freeFirst()
        }
        // An append may have been lost: probe (an empty append is rejected if the follower misses entries).
        if let match = progress[peer]?.match, match < log.lastIndex { sendAppends(to: peer, allowEmpty: true) }
        if !message.context.isEmpty { acknowledgeRead(from: peer, context: message.context) }
    }

    /// Commits the highest index replicated on a quorum, if it is from the current term (§5.4.2, Figure 8).
    func maybeCommit() -> Bool {
        guard role == .leader else { return false }
        var matches = confState.voters.map { progress[$0]?.match ?? .zero }
        guard !matches.isEmpty else { return false }
        matches.sort(by: >)
        let quorumIndex = matches[confState.quorum - 1]
        guard quorumIndex > log.committed else { return false }
        if log.term(quorumIndex) != term { return false }
        commit(to: quorumIndex)
        return true
    }

    /// Advances the commit index; reads queued until the leader's first commit are released here.
    func commit(to index: LogIndex) {
        let target = min(index, log.lastIndex)
        guard target > log.committed else { return }
        log.commit(to: target)
        if role == .leader && log.term(log.committed) == term { releaseReadsAwaitingTermCommit() }
    }

    func broadcastHeartbeat(context: [UInt8]) {
        for member in confState.members where member != id {
            guard let peerProgress = progress[member] else { continue }
            var heartbeat = message(.heartbeat, to: member)
            let bounded = config.injectedBug != .heartbeatCommitBeyondMatch
            heartbeat.commit = bounded ? min(peerProgress.match, log.committed) : log.committed
            heartbeat.context = context
            send(heartbeat)
        }
    }

    // MARK: Follower side.

    func handleAppend(_ message: Message) {
        var answer = self.message(.appendResponse, to: message.from)
        if message.index < log.committed {
            answer.index = log.committed
            send(answer)
            return
        }
        let matches =
            log.matchTerm(message.index, message.logTerm)
            || (config.injectedBug == .skipLogMatchingCheck && message.index <= log.lastIndex)
        guard matches else {
            // Fast backtracking: point the leader at the last index whose term can still match.
            let hint = log.findConflict(atOrBefore: min(message.index, log.lastIndex), term: message.logTerm)
            answer.reject = true
            answer.index = message.index
            answer.rejectHint = hint
            answer.logTerm = log.term(hint) ?? .zero
            send(answer)
            return
        }
        if let conflict = message.entries.firstIndex(where: { !log.matchTerm($0.index, $0.term) }) {
            // Invariant: a committed entry is never replaced (Leader Completeness, §5.4).
            let first = message.entries[conflict].index
            guard check(first > log.committed, "leader \(message.from) overwrites committed \(first)") else { return }
            appendToLog(Array(message.entries[conflict...]))
        }
        let lastNew = LogIndex(message.index.rawValue + UInt64(message.entries.count))
        commit(to: min(message.commit, lastNew))
        answer.index = lastNew
        send(answer)
    }

    func handleHeartbeat(_ message: Message) {
        commit(to: min(message.commit, log.lastIndex))
        var answer = self.message(.heartbeatResponse, to: message.from)
        answer.context = message.context
        send(answer)
    }
}
