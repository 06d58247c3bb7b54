/// InstallSnapshot, chunked and resumable (Raft §7). The core never touches snapshot bytes: the leader's
/// shell fills each `.snapshot` message with the chunk at `snapshotOffset`, and the follower's shell writes
/// each `SnapshotChunk` of a `Ready` to a staging area and installs it when `Ready.snapshot` names it.
extension RawNode {
    /// The shell's report on streaming a snapshot to `peer` (for example: the file could not be read).
    public func reportSnapshot(to peer: NodeID, status: SnapshotStatus) {
        guard role == .leader, var peerProgress = progress[peer], peerProgress.state == .snapshot else { return }
        switch status {
        case .failure:
            // Start over from the log (or a newer snapshot) when the peer next answers.
            peerProgress.pendingSnapshot = nil
            peerProgress.becomeProbe()
        case .finish:
            peerProgress.becomeProbe()
            peerProgress.probeSent = true
        }
        progress[peer] = peerProgress
    }

    /// The shell could not reach `peer`: stop pipelining to it until it answers again.
    public func reportUnreachable(_ peer: NodeID) {
        guard role == .leader, progress[peer]?.state == .replicate else { return }
        progress[peer]?.becomeProbe()
    }

    /// The shell learned that `peer` no longer holds entries it acknowledged: an operator wiped its log with
    /// `skiff node repair` (Raft assumes a durable log, §3.8; a repaired node makes up for breaking that
    /// assumption by refusing to vote or lead until it has caught up again). Lowers its match index to
    /// `lastIndex` and probes from there, so the leader re-sends what the follower lost, through the log or a
    /// snapshot. Lowering a match never lowers the commit index, which only grows. Leader only; a no-op when
    /// `lastIndex` is not below the recorded match.
    public func reportLogLost(_ peer: NodeID, lastIndex: LogIndex) {
        guard role == .leader, var peerProgress = progress[peer], lastIndex < peerProgress.match else { return }
        peerProgress.match = lastIndex
        peerProgress.becomeProbe()
        progress[peer] = peerProgress
        sendAppend(to: peer, allowEmpty: true)
    }

    /// The follower needs entries the leader has compacted: stream the latest snapshot instead.
    func startSnapshot(to peer: NodeID) -> Bool {
        guard var peerProgress = progress[peer], peerProgress.recentActive else { return false }
        let snapshot = log.storage.snapshotMetadata
        guard snapshot.index > .zero, snapshot.index.next >= log.firstIndex else { return false }
        peerProgress.becomeSnapshot(snapshot)
        progress[peer] = peerProgress
        sendSnapshotChunk(to: peer)
        return true
    }

    private func sendSnapshotChunk(to peer: NodeID) {
        guard var peerProgress = progress[peer], let snapshot = peerProgress.pendingSnapshot else { return }
        var chunk = message(.snapshot, to: peer)
        chunk.snapshot = snapshot
        chunk.snapshotOffset = peerProgress.snapshotOffset
        chunk.commit = log.committed
        peerProgress.snapshotChunkInFlight = true
        peerProgress.snapshotStallTicks = 0
        progress[peer] = peerProgress
        send(chunk)
    }

    /// Resends the chunk a follower is waiting for when its answer is overdue (a lost chunk or answer).
    func resendStalledSnapshots() {
        for member in confState.members where member != id {
            guard var peerProgress = progress[member], peerProgress.state == .snapshot else { continue }
            peerProgress.snapshotStallTicks += config.heartbeatTick
            progress[member] = peerProgress
            if peerProgress.snapshotStallTicks >= config.electionTick / 2 { sendSnapshotChunk(to: member) }
        }
    }

    func handleSnapshotResponse(_ message: Message) {
        let peer = message.from
        guard var peerProgress = progress[peer], peerProgress.state == .snapshot,
            let snapshot = peerProgress.pendingSnapshot, snapshot.index == message.index
        else { return }
        if message.reject {
            peerProgress.pendingSnapshot = nil
            peerProgress.becomeProbe()
            progress[peer] = peerProgress
            sendAppend(to: peer, allowEmpty: true)
            return
        }
        peerProgress.snapshotOffset = message.snapshotOffset
        progress[peer] = peerProgress
        sendSnapshotChunk(to: peer)
    }

    /// Follower: one chunk of a snapshot. Chunks must arrive in order; a duplicate, a gap or a chunk of
    /// another snapshot is answered with the offset this node wants, so the leader resumes from there.
    func handleSnapshotChunk(_ message: Message) {
        // Invariant: one staged snapshot at a time; the leader resends once this one is installed.
        guard let snapshot = message.snapshot, log.pendingSnapshot == nil else { return }
        if snapshot.index <= log.committed {
            incomingSnapshot = nil
            var answer = self.message(.appendResponse, to: message.from)
            answer.index = log.committed
            send(answer)
            return
        }
        if incomingSnapshot?.metadata != snapshot {
            incomingSnapshot = message.snapshotOffset == 0 ? (snapshot, 0) : nil
        }
        guard var incoming = incomingSnapshot, incoming.nextOffset == message.snapshotOffset else {
            answerSnapshot(to: message.from, snapshot, nextOffset: incomingSnapshot?.nextOffset ?? 0)
            return
        }
        snapshotChunks.append(
            SnapshotChunk(
                metadata: snapshot, offset: message.snapshotOffset, data: message.snapshotData,
                done: message.snapshotDone))
        incoming.nextOffset += UInt64(message.snapshotData.count)
        incomingSnapshot = incoming
        guard message.snapshotDone else {
            answerSnapshot(to: message.from, snapshot, nextOffset: incoming.nextOffset)
            return
        }
        incomingSnapshot = nil
        installSnapshot(snapshot)
        var answer = self.message(.appendResponse, to: message.from)
        answer.index = log.lastIndex
        send(answer)
    }

    private func answerSnapshot(to peer: NodeID, _ snapshot: SnapshotMetadata, nextOffset: UInt64) {
        var answer = message(.snapshotResponse, to: peer)
        answer.index = snapshot.index
        answer.snapshotOffset = nextOffset
        send(answer)
    }

    /// §7: if the log already holds the snapshot's last entry, keep the suffix and only commit; otherwise
    /// (including a conflicting entry at the snapshot's index) discard the whole log.
    private func installSnapshot(_ snapshot: SnapshotMetadata) {
        if log.matchTerm(snapshot.index, snapshot.term) {
            commit(to: snapshot.index)
            return
        }
        log.restore(snapshot)
        unappliedConfigIndexes = []
        confState = snapshot.confState
        confChanged = true
    }
}
