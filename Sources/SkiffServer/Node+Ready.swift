import Logging
import NIOCore
import NIOPosix
import SkiffBroker
import SkiffRaft

/// The Ready cycle: propose what queued up, take a `Ready`, send what may go now, persist off the loop with one
/// fsync, then send what had to wait, apply, `advance`, and go again.
extension Node {
    /// Runs Ready cycles until there is nothing to do or a persist is in flight.
    ///
    /// Group commit falls out of this shape: while one batch is being fsynced, requests queue up in
    /// `queuedCommands`; when the fsync completes they go into the log as one proposal and one fsync.
    func process() {
        loop.preconditionInEventLoop()
        while !persisting, !stopped {
            flushQueuedCommands()
            guard raft.hasReady() else { break }
            let ready = raft.ready()
            handle(ready)
        }
        transport.flush()
    }

    private func handle(_ ready: Ready) {
        // Encode the new entries into log blocks once, before the appends that carry them are sent.
        let blocks = disk.shipper.blocks(persisting: ready.entries)
        if logger.logLevel <= .trace {
            logger.trace(
                "ready",
                metadata: [
                    "entries": "\(ready.entries.first?.index.rawValue ?? 0)-\(ready.entries.last?.index.rawValue ?? 0)",
                    "committed": "\(ready.committedEntries.last?.index.rawValue ?? 0)",
                    "now": "\(ready.messagesNow.count)", "after": "\(ready.messagesAfterPersist.count)",
                ])
        }
        if let soft = ready.softState { softStateChanged(soft) }
        if !ready.readStates.isEmpty { readIndexConfirmed(ready.readStates) }
        send(ready.messagesNow)
        // Appends go on the wire now, not after the early apply and the disk hand-off below: the followers'
        // round trip is the longest leg of a write's latency, and it runs in parallel with this node's fsync.
        transport.flush()
        guard needsDisk(ready) else {
            // Only the commit index moved: it need not be durable (Figure 2), so skip the disk thread entirely.
            if let hard = ready.hardState { storage.setHardState(hard) }
            finish(ready)
            return
        }
        if let hard = ready.hardState { durableTermVote = (hard.term, hard.vote) }
        // Committed entries already durable here need not wait for this Ready's fsync: apply them and answer
        // their clients now (a commit is durable on a majority; these are on this node's disk too). This takes
        // one fsync off every write's latency.
        // Invariant: `persisting` is set first, so nothing applied here can start another Ready cycle.
        persisting = true
        installingSnapshot = ready.snapshot != nil || !ready.snapshotChunks.isEmpty
        let durable = ready.snapshot == nil ? storage.lastIndex : .zero
        let early = ready.committedEntries.prefix { $0.index <= durable }
        if !early.isEmpty {
            apply(Array(early))
            flushConnections()
        }
        appliedEarly = early.count
        let batch = PersistBatch(
            snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState, confState: ready.confState,
            blocks: blocks)
        let chunks = ready.snapshotChunks
        let disk = self.disk
        let nodeStore = self.nodeStore
        let metrics = self.metrics
        let bound = NIOLoopBound(self, eventLoop: loop)
        diskPool.runIfActive(eventLoop: loop) { () throws -> UInt64 in
            for chunk in chunks { try nodeStore.writeIncomingSnapshotChunk(chunk) }
            if let snapshot = batch.snapshot { try nodeStore.installIncomingSnapshot(snapshot) }
            let start = NIODeadline.now()
            try disk.persist(batch)
            if !batch.entries.isEmpty || batch.hardState != nil {
                metrics.fsyncLatency.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
            }
            return disk.logBytes
        }.whenComplete { result in
            let node = bound.value
            switch result {
            case .success(let bytes):
                node.logBytes = bytes
                node.persisted(ready)
            case .failure where node.stopped:
                // Shutting down: the disk thread stopped before this write ran; nothing was acknowledged for it.
                return
            case .failure(let error):
                // A failed fsync is fatal and never retried: the kernel may have dropped the dirty pages.
                node.logger.critical("durable write failed; stopping the node", metadata: ["error": "\(error)"])
                node.fatalStop("persist failed: \(error)")
            }
        }
    }

    private func persisted(_ ready: Ready) {
        logger.trace("persisted", metadata: ["last": "\(ready.entries.last?.index.rawValue ?? 0)"])
        persisting = false
        installingSnapshot = false
        if let snapshot = ready.snapshot {
            storage.applySnapshot(snapshot)
            restoreBrokerFromInstalledSnapshot(snapshot)
        }
        if !ready.entries.isEmpty { storage.append(ready.entries) }
        if let hard = ready.hardState { storage.setHardState(hard) }
        if let conf = ready.confState { storage.setConfState(conf) }
        finish(ready)
        process()
    }

    /// Whether this Ready writes anything that must be durable before its late messages go out.
    private func needsDisk(_ ready: Ready) -> Bool {
        guard ready.mustSync else { return false }
        if !ready.entries.isEmpty || ready.snapshot != nil || !ready.snapshotChunks.isEmpty || ready.confState != nil {
            return true
        }
        guard let hard = ready.hardState else { return false }
        return hard.term != durableTermVote.term || hard.vote != durableTermVote.vote
    }

    /// Everything after the fsync: late messages, apply (what was not applied early), advance.
    private func finish(_ ready: Ready) {
        send(ready.messagesAfterPersist)
        // Acknowledgements leave before the apply below: the leader is waiting for them to commit.
        if !ready.messagesAfterPersist.isEmpty { transport.flush() }
        apply(Array(ready.committedEntries.dropFirst(appliedEarly)))
        appliedEarly = 0
        if ready.confState != nil { membershipChanged() }
        raft.advance(ready)
        if let hint = ready.compactionHint { compactionHinted(hint) }
        answerConfirmedReads()
        deliverAfterApply()
    }

    /// Sends Raft messages, filling snapshot chunks from the snapshot file.
    func send(_ messages: [Message]) {
        for var message in messages {
            if message.kind == .snapshot {
                guard let filled = fillSnapshotChunk(message) else { continue }
                message = filled
            }
            transport.send(to: message.to) { disk.shipper.write(message, into: &$0) }
        }
    }

    private func softStateChanged(_ soft: SoftState) {
        logger.info(
            "role changed",
            metadata: [
                "role": "\(soft.role)", "leader": "\(soft.leader.map { "\($0)" } ?? "none")",
                "term": "\(raft.term)",
            ])
        if soft.role != .leader {
            failPendingReads(notLeaderError())
            failAllWaiting(notLeaderError())
            endSubscriptionsOnLeadershipLoss()
        } else {
            lastTimeMs = max(lastTimeMs, wallClockMs())
        }
    }

    /// Stops the node after an unrecoverable disk error. The process exits; the log on disk is intact up
    /// to the last successful fsync, so a restart recovers.
    func fatalStop(_ reason: String) {
        stopped = true
        failAllWaiting(.init(.unavailable, "node stopped: \(reason)"))
        exit(70)
    }
}
