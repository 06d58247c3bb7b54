/// Time, elections and the entry point for messages (Raft §5.1, §5.2, thesis §6.2, §9.6).
extension RawNode {
    /// Advances logical time by one tick.
    public func tick() {
        switch role {
        case .leader: tickLeader()
        case .follower, .preCandidate, .candidate: tickElection()
        }
    }

    private func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(transfer: false)
        }
    }

    private func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTick {
            electionElapsed = 0
            if config.checkQuorum && !quorumActive() {
                // Thesis §6.2: a leader that cannot reach a majority steps down, so clients look elsewhere.
                becomeFollower(term: term, leader: nil)
                return
            }
            leadTransferee = nil
        }
        if heartbeatElapsed >= config.heartbeatTick {
            heartbeatElapsed = 0
            broadcastHeartbeat(context: pendingReads.last?.context ?? [])
            resendStalledSnapshots()
        }
    }

    /// Whether a quorum of voters was heard from since the last check; resets the marks.
    private func quorumActive() -> Bool {
        var active = 0
        for voter in confState.voters {
            if voter == id || progress[voter]?.recentActive == true { active += 1 }
        }
        for member in confState.members where member != id { progress[member]?.recentActive = false }
        return active >= confState.quorum
    }

    /// True when this node may campaign: it is a voter.
    var isPromotable: Bool { confState.isVoter(id) }

    /// Starts an election now (bootstrap and tests); the normal path is the election timeout.
    public func campaign() {
        campaign(transfer: false)
    }

    func campaign(transfer: Bool) {
        guard role != .leader, isPromotable else { return }
        // A committed but unapplied membership change may remove this node: apply it before campaigning
        // (a TimeoutNow is honoured right after, in `advance`).
        if let pending = unappliedConfigIndexes.first, pending <= log.committed {
            campaignAfterApply = transfer
            return
        }
        if config.preVote && !transfer {
            becomePreCandidate()
            requestVotes(kind: .preVote, term: term.next, force: false)
        } else {
            becomeCandidate()
            requestVotes(kind: .vote, term: term, force: transfer)
        }
    }

    private func requestVotes(kind: Message.Kind, term electionTerm: Term, force: Bool) {
        votes = [id: true]
        if tallyVotes() { return }
        for voter in confState.voters where voter != id {
            var request = message(kind, to: voter)
            request.term = electionTerm
            request.index = log.lastIndex
            request.logTerm = log.lastTerm
            request.forceVote = force
            send(request)
        }
    }

    /// Counts votes; wins or loses the election when decided. Returns true when decided.
    @discardableResult
    private func tallyVotes() -> Bool {
        var granted = 0
        var rejected = 0
        for voter in confState.voters {
            switch votes[voter] {
            case true?: granted += 1
            case false?: rejected += 1
            case nil: break
            }
        }
        if granted >= confState.quorum {
            if role == .preCandidate {
                becomeCandidate()
                requestVotes(kind: .vote, term: term, force: false)
            } else {
                becomeLeader()
            }
            return true
        }
        if confState.voters.count - rejected < confState.quorum {
            becomeFollower(term: term, leader: nil)
            return true
        }
        return false
    }

    // MARK: Role transitions.

    func reset(term newTerm: Term) {
        precondition(newTerm >= term, "term going backwards \(term) -> \(newTerm): \(status)")
        if newTerm != term {
            term = newTerm
            vote = .none
        }
        leader = nil
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = config.electionTick + Int.random(in: 0..<config.electionTick, using: &rng)
        leadTransferee = nil
        campaignAfterApply = false
        votes = [:]
        pendingReads = []
        readsAwaitingTermCommit = []
        progress = [:]
    }

    func becomeFollower(term newTerm: Term, leader newLeader: NodeID?) {
        reset(term: newTerm)
        role = .follower
        leader = newLeader
    }

    private func becomePreCandidate() {
        precondition(role != .leader, "leader -> preCandidate: \(status)")
        // Thesis §9.6: a pre-candidate changes neither its term nor its vote.
        let keptTerm = term
        reset(term: keptTerm)
        role = .preCandidate
    }

    private func becomeCandidate() {
        precondition(role != .leader, "leader -> candidate: \(status)")
        reset(term: term.next)
        vote = id
        role = .candidate
    }

    private func becomeLeader() {
        precondition(role == .candidate, "\(role) -> leader: \(status)")
        reset(term: term)
        role = .leader
        leader = id
        for member in confState.members {
            var peer = Progress(
                next: log.lastIndex.next, maxInflightMsgs: config.maxInflightMsgs,
                maxInflightBytes: config.maxInflightBytes)
            // Check-quorum counts only followers heard from in this term; the leader itself is always active.
            peer.recentActive = member == id
            if member == id { peer.match = log.stableLastIndex }
            progress[member] = peer
        }
        // Raft §8: a no-op in the new term lets the leader commit everything before it (Figure 8).
        appendAsLeader([Entry(term: term, index: log.lastIndex.next, kind: .noop)])
        needsBroadcast = true
    }

    // MARK: Messages.

    /// Feeds a message from a peer. Stale and malformed messages are ignored: a peer cannot crash the core.
    public func step(_ message: Message) {
        guard message.to == id, message.from != id, message.from != .none else { return }
        guard stepTerm(message) else { return }
        switch message.kind {
        case .vote, .preVote: handleVoteRequest(message)
        default:
            switch role {
            case .leader: stepLeader(message)
            case .candidate, .preCandidate: stepCandidate(message)
            case .follower: stepFollower(message)
            }
        }
    }

    /// Applies the term rules of §5.1 and the lease of thesis §6.2. Returns false when the message is dropped.
    private func stepTerm(_ message: Message) -> Bool {
        if message.term > term {
            switch message.kind {
            case .vote, .preVote:
                let inLease = config.checkQuorum && leader != nil && electionElapsed < config.electionTick
                if inLease && !message.forceVote { return false }
                if message.kind == .preVote { return true }
            case .preVoteResponse where !message.reject:
                return true
            default: break
            }
            if config.injectedBug == .noStepDownOnHigherTerm && role == .leader {
                term = message.term
                vote = .none
                return message.kind != .append && message.kind != .heartbeat && message.kind != .snapshot
            }
            let fromLeader = [.append, .heartbeat, .snapshot].contains(message.kind)
            becomeFollower(term: message.term, leader: fromLeader ? message.from : nil)
            return true
        }
        if message.term < term {
            answerStaleMessage(message)
            return false
        }
        return true
    }

    /// Thesis §9.6 with check-quorum: a stale leader's append gets an answer with our term so that it steps
    /// down; a stale pre-vote gets an explicit rejection so that the pre-candidate stops waiting.
    private func answerStaleMessage(_ message: Message) {
        if (config.checkQuorum || config.preVote) && (message.kind == .append || message.kind == .heartbeat) {
            send(self.message(.appendResponse, to: message.from))
        } else if message.kind == .preVote {
            var answer = self.message(.preVoteResponse, to: message.from)
            answer.reject = true
            send(answer)
        }
    }

    private func handleVoteRequest(_ request: Message) {
        let canVote =
            vote == request.from || (vote == .none && leader == nil)
            || (request.kind == .preVote && request.term > term)
        let upToDate =
            config.injectedBug == .voteForStaleLog
            || log.isUpToDate(lastIndex: request.index, lastTerm: request.logTerm)
        let responseKind: Message.Kind = request.kind == .vote ? .voteResponse : .preVoteResponse
        var answer = message(responseKind, to: request.from)
        if canVote && upToDate {
            answer.term = request.term
            if request.kind == .vote {
                electionElapsed = 0
                vote = request.from
            }
        } else {
            answer.reject = true
        }
        send(answer)
    }

    private func stepCandidate(_ message: Message) {
        switch message.kind {
        case .append, .heartbeat, .snapshot:
            becomeFollower(term: term, leader: message.from)
            stepFollower(message)
        case .voteResponse where role == .candidate:
            recordVote(message)
        case .preVoteResponse where role == .preCandidate:
            recordVote(message)
        default:
            break
        }
    }

    private func recordVote(_ message: Message) {
        guard confState.isVoter(message.from), votes[message.from] == nil else { return }
        votes[message.from] = !message.reject
        tallyVotes()
    }

    private func stepFollower(_ message: Message) {
        switch message.kind {
        case .append:
            electionElapsed = 0
            leader = message.from
            handleAppend(message)
        case .heartbeat:
            electionElapsed = 0
            leader = message.from
            handleHeartbeat(message)
        case .snapshot:
            electionElapsed = 0
            leader = message.from
            handleSnapshotChunk(message)
        case .timeoutNow:
            campaign(transfer: true)
        case .readIndexResponse:
            readStates.append(ReadState(index: message.index, context: message.context))
        default:
            break
        }
    }
}
