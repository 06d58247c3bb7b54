/// Linearizable reads without writing to the log (ReadIndex, thesis §6.4).
extension RawNode {
    /// Requests a read index. The answer comes as a `ReadState` with the same `context` in a later `Ready`;
    /// the read is linearizable once the shell has applied through its index. Contexts MUST be unique among
    /// the reads in flight. Throws when no leader is known.
    public func readIndex(context: [UInt8]) throws(RaftError) {
        guard !context.isEmpty, context.count <= CodecLimits.contextBytesMax else {
            throw RaftError(.proposalDropped, leader: leader)
        }
        if role == .leader {
            handleReadRequest(from: id, context: context)
            return
        }
        guard let leader else { throw RaftError(.notLeader) }
        var forward = message(.readIndex, to: leader)
        forward.context = context
        send(forward)
    }

    /// Leader: registers a read at the current commit index and confirms leadership with a heartbeat round.
    func handleReadRequest(from requester: NodeID, context: [UInt8]) {
        guard !context.isEmpty else { return }
        // The commit index is only known to be current once an entry of this term is committed (§6.4 step 1).
        guard log.term(log.committed) == term else {
            readsAwaitingTermCommit.append((requester, context))
            return
        }
        let read = PendingRead(index: log.committed, context: context, from: requester, acks: [id])
        if confState.voters == [id] || config.injectedBug == .readWithoutQuorum {
            deliver(read)
            return
        }
        pendingReads.append(read)
        broadcastHeartbeat(context: context)
    }

    func releaseReadsAwaitingTermCommit() {
        let waiting = readsAwaitingTermCommit
        readsAwaitingTermCommit = []
        for read in waiting { handleReadRequest(from: read.from, context: read.context) }
    }

    /// A heartbeat answer for the read with `context` also confirms every read registered before it.
    func acknowledgeRead(from peer: NodeID, context: [UInt8]) {
        guard let position = pendingReads.firstIndex(where: { $0.context == context }) else { return }
        pendingReads[position].acks.insert(peer)
        let acks = confState.voters.filter { pendingReads[position].acks.contains($0) }.count
        guard acks >= confState.quorum else { return }
        let confirmed = pendingReads[...position]
        pendingReads.removeFirst(position + 1)
        for read in confirmed { deliver(read) }
    }

    private func deliver(_ read: PendingRead) {
        if read.from == id {
            readStates.append(ReadState(index: read.index, context: read.context))
        } else {
            var answer = message(.readIndexResponse, to: read.from)
            answer.index = read.index
            answer.context = read.context
            send(answer)
        }
    }
}
