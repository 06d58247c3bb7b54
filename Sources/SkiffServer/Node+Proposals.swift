import Logging
import NIOCore
import SkiffBroker
import SkiffRaft
import SkiffWire

/// Group commit and apply: client commands queue up, become one proposal per Ready cycle, and each client is
/// answered when its command has been committed and applied.
extension Node {
    /// Queues a broker command for the next proposal. `responder` runs on the loop with the applied result.
    ///
    /// MUST be called on the leader; callers answer NOT_LEADER themselves otherwise.
    func submit(_ command: Command, bytes: Int, responder: Responder?) {
        loop.preconditionInEventLoop()
        queuedCommands.append(QueuedCommand(command: command, responder: responder, bytes: bytes))
        queuedBytes += bytes
        if !persisting { process() }
    }

    /// Turns the queued commands into proposals (one per `proposalBytesMax`/`proposalRequestsMax` slice).
    func flushQueuedCommands() {
        guard !queuedCommands.isEmpty else { return }
        guard isLeader else {
            let error = notLeaderError()
            let queued = queuedCommands
            queuedCommands = []
            queuedBytes = 0
            for item in queued { item.responder?(.failed(error)) }
            return
        }
        guard waiting.count < Node.proposalsInFlightMax else { return }
        var start = 0
        while start < queuedCommands.count, waiting.count < Node.proposalsInFlightMax {
            var end = start
            var bytes = 0
            while end < queuedCommands.count, end - start < config.proposalRequestsMax,
                end == start || bytes + queuedCommands[end].bytes <= config.proposalBytesMax
            {
                bytes += queuedCommands[end].bytes
                end += 1
            }
            propose(Array(queuedCommands[start..<end]), bytes: bytes)
            start = end
        }
        queuedCommands.removeFirst(start)
        queuedBytes = queuedCommands.reduce(0) { $0 + $1.bytes }
    }

    private func propose(_ items: [QueuedCommand], bytes: Int) {
        let command = items.count == 1 ? items[0].command : Command.batch(items.map(\.command))
        let proposalID = nextProposalID
        nextProposalID += 1
        let data = ProposalEnvelope.encode(
            kind: .broker, proposer: config.nodeID, proposalID: proposalID, timeMs: stampTimeMs(),
            bodyCapacity: bytes + 64
        ) { command.encode(appendingTo: &$0) }
        do {
            try raft.propose(data)
        } catch {
            let wire = error.kind == .notLeader ? notLeaderError() : WireError(.unavailable, "\(error)")
            for item in items { item.responder?(.failed(wire)) }
            return
        }
        metrics.proposals.increment()
        metrics.proposalRequests.record(items.count)
        lastProposalAt = .now()
        let deadline = NIODeadline.now() + Node.commitWaitMax
        waiting[proposalID] = (items.map(\.responder), deadline)
    }

    /// Leader ticks carry the leader's clock into the log so timers (delays, TTLs, lease expiries, transaction
    /// timeouts, checkbacks) fire at the same log index everywhere. Any proposal carries the clock, so a tick is
    /// only needed when a timer is due and nothing else was proposed for `idleTickIntervalMs`.
    func maybeProposeIdleTick() {
        guard isLeader, queuedCommands.isEmpty, let due = broker.nextTimerDeadline, due <= wallClockMs(),
            NIODeadline.now() - lastProposalAt >= .milliseconds(Int64(config.idleTickIntervalMs))
        else { return }
        submit(.tick, bytes: 1, responder: nil)
    }

    /// Applies committed entries in log order.
    func apply(_ entries: [Entry]) {
        for entry in entries {
            switch entry.kind {
            case .noop, .configChange: break
            case .normal: applyNormal(entry)
            }
            metrics.appliedEntries.increment()
        }
    }

    private func applyNormal(_ entry: Entry) {
        let envelope: ProposalEnvelope
        do {
            envelope = try ProposalEnvelope(decoding: entry.data)
        } catch {
            preconditionFailure("committed entry \(entry.index) is not a proposal envelope: \(error); \(raft.status)")
        }
        lastTimeMs = max(lastTimeMs, envelope.timeMs)
        switch envelope.kind {
        case .address:
            applyAddressRecord(
                envelope.body, at: entry.index, proposer: envelope.proposer, proposalID: envelope.proposalID)
        case .broker:
            let command: Command
            do {
                command = try Command.decode(envelope.body)
            } catch {
                preconditionFailure("committed entry \(entry.index) holds an undecodable command: \(error)")
            }
            // Only the proposer's waiter uses a result: other replicas skip reading payloads for receives.
            broker.materializesDeliveries =
                envelope.proposer == config.nodeID && waiting[envelope.proposalID] != nil
            let (result, events) = broker.apply(command, index: entry.index.rawValue, time: envelope.timeMs)
            bytesSinceCheckpoint += entry.data.count
            if envelope.proposer == config.nodeID, let waiter = waiting.removeValue(forKey: envelope.proposalID) {
                let proposedAt = waiter.deadline - Node.commitWaitMax
                metrics.commitLatency.recordNanoseconds((NIODeadline.now() - proposedAt).nanoseconds)
                answer(waiter.responders, with: result)
            }
            handle(events)
        }
    }

    private func answer(_ responders: [Responder?], with result: CommandResult) {
        if responders.count == 1 {
            responders[0]?(.applied(result))
            return
        }
        guard case .ok(.batch(let results)) = result, results.count == responders.count else {
            for responder in responders { responder?(.applied(result)) }
            return
        }
        for (responder, itemResult) in zip(responders, results) { responder?(.applied(itemResult)) }
    }

    /// Answers every waiting client with `error` (leadership lost: the outcome of their write is unknown,
    /// and the idempotent producer protocol makes their retry on the new leader safe).
    func failAllWaiting(_ error: WireError) {
        let all = waiting
        waiting = [:]
        for (_, waiter) in all { for responder in waiter.responders { responder?(.failed(error)) } }
        let queued = queuedCommands
        queuedCommands = []
        queuedBytes = 0
        for item in queued { item.responder?(.failed(error)) }
    }

    /// Bounds every client's wait for a commit.
    func expireWaiters() {
        let now = NIODeadline.now()
        let expired = waiting.filter { $0.value.deadline <= now }
        guard !expired.isEmpty else { return }
        for (id, waiter) in expired {
            waiting[id] = nil
            let error = WireError(.timeout, "not committed within \(Node.commitWaitMax.nanoseconds / 1_000_000_000) s")
            for responder in waiter.responders { responder?(.failed(error)) }
        }
    }
}
