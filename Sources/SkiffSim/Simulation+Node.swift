import SkiffBroker
import SkiffRaft

/// The shell of each simulated node: carries out `Ready`s against the simulated disk and network.
extension Simulation {
    /// Takes the node's next Ready, sends what may go now, writes what must be durable and waits for fsync.
    func pump(_ node: SimNode) {
        guard let raft = node.raft, !node.paused, node.pendingReady == nil, raft.hasReady() else { return }
        let ready = raft.ready()
        trace.mix(3, UInt64(node.index), UInt64(ready.entries.count), UInt64(ready.committedEntries.count))
        for message in ready.messagesNow { sendFromShell(message, node: node) }
        for state in ready.readStates {
            guard let id = SimStateMachine.proposalID(state.context) else { continue }
            node.pendingReads.append((id, state.index))
        }
        for chunk in ready.snapshotChunks {
            if chunk.offset == 0 { node.staging = [] }
            guard UInt64(node.staging.count) == chunk.offset else {
                fail("snapshot-transfer", "\(node.id) got chunk at \(chunk.offset) with \(node.staging.count) staged")
                return
            }
            node.staging += chunk.data
            record("\(node.id) staged \(chunk.offset)+\(chunk.data.count) of \(chunk.metadata.index)")
        }
        if let snapshot = ready.snapshot { node.disk.write(.snapshot(snapshot, node.staging, installed: true)) }
        if !ready.entries.isEmpty { node.disk.write(.entries(ready.entries)) }
        if let hardState = ready.hardState { node.disk.write(.hardState(hardState)) }
        node.pendingReady = ready
        if ready.mustSync {
            let latency = random.uint(node.fsyncMicros)
            queue.schedule(.fsyncDone(node: node.index, incarnation: node.incarnation), at: now + latency)
            let rate = ready.hardState != nil ? Self.crashInElectionFsyncWindowRate : Self.crashInFsyncWindowRate
            if !healed && random.chance(rate) {
                // Crash inside the fsync window and come back quickly, while the election is still on.
                queue.schedule(.crash(node: node.index, incarnation: node.incarnation), at: now + latency / 2)
                queue.schedule(.restart(node: node.index), at: now + latency / 2 + random.uint(100...5_000))
            }
        } else {
            complete(node, ready)
        }
    }

    /// The fsync finished: update the durable view, send the held messages, apply, advance.
    func complete(_ node: SimNode, _ ready: Ready) {
        guard let raft = node.raft else { return }
        node.disk.sync()
        node.pendingReady = nil
        if let snapshot = ready.snapshot {
            node.applySnapshot(snapshot, data: node.staging, installed: true)
            snapshotsInstalled += 1
            if !checkBrokerRestore(node) { return }
            guard node.machine.appliedIndex == snapshot.index else {
                fail(
                    "snapshot-integrity",
                    "\(node.id) installed \(snapshot) but its \(node.staging.count) bytes restore "
                        + "\(node.machine.appliedIndex)"
                )
                return
            }
        }
        if let first = ready.entries.first {
            let previousTerm = try? node.storage.term(first.index.previous)
            node.storage.append(ready.entries)
            if let (invariant, detail) = checker.checkPersisted(
                ready.entries, previousTerm: previousTerm, node: node.id)
            {
                fail(invariant, detail)
                return
            }
        }
        if let hardState = ready.hardState { node.storage.setHardState(hardState) }
        if let confState = ready.confState { node.storage.setConfState(confState) }
        for message in ready.messagesAfterPersist { sendFromShell(message, node: node) }
        guard apply(ready.committedEntries, on: node), serveReads(on: node) else { return }
        raft.advance(ready)
        maybeCompact(node)
        pump(node)
    }

    private func apply(_ entries: [Entry], on node: SimNode) -> Bool {
        for entry in entries {
            guard entry.index == node.machine.appliedIndex.next else {
                fail("apply-order", "\(node.id) asked to apply \(entry.index) after \(node.machine.appliedIndex)")
                return false
            }
            let newProposal = node.machine.apply(entry)
            if let (invariant, detail) = checker.checkApplied(entry, node: node, newProposal: newProposal) {
                fail(invariant, detail)
                return false
            }
            let applied = node.broker?.apply(entry)
            if let id = newProposal, acknowledged.insert(id).inserted {
                acknowledgedPrefix = max(acknowledgedPrefix, node.machine.order.count)
                record("ack \(id) by \(node.id) at \(entry.index)")
                if let applied { brokerCompleted(id, result: applied.result) }
            }
            if let applied, !checkBrokerApply(node, entry: entry, applied) { return false }
        }
        return true
    }

    /// Serves the reads whose index the machine has reached. A linearizable read sees every proposal that was
    /// acknowledged before the read was issued.
    private func serveReads(on node: SimNode) -> Bool {
        while let read = node.pendingReads.first, read.index <= node.machine.appliedIndex {
            node.pendingReads.removeFirst()
            guard let required = readsRequired.removeValue(forKey: read.id) else { continue }
            readsServed += 1
            if node.machine.order.count < required {
                fail(
                    "linearizable-read",
                    "\(node.id) served read \(read.id) at \(read.index) seeing \(node.machine.order.count) proposals; "
                        + "\(required) were acknowledged before it was issued")
                return false
            }
        }
        return true
    }

    /// The shell's log compaction: a snapshot of the machine every `compactionEntries` applied entries.
    private func maybeCompact(_ node: SimNode) {
        guard let raft = node.raft else { return }
        let applied = node.machine.appliedIndex
        guard applied.rawValue >= node.storage.firstIndex.rawValue - 1 + options.compactionEntries else { return }
        guard let term = try? node.storage.term(applied) else { return }
        let metadata = SnapshotMetadata(index: applied, term: term, confState: raft.confState)
        var data = node.machine.snapshot()
        if node.broker != nil {
            guard let tables = brokerCheckpoint(node) else { return }
            var framed: [UInt8] = []
            appendWord(&framed, UInt64(data.count))
            data = framed + data + tables
        }
        node.disk.write(.snapshot(metadata, data, installed: false))
        node.disk.sync()
        node.applySnapshot(metadata, data: data, installed: false)
        trace.mix(5, UInt64(node.index), applied.rawValue)
    }

    /// Sends a message through the simulated network; the leader's snapshot messages get their chunk here.
    private func sendFromShell(_ message: Message, node: SimNode) {
        var message = message
        if message.kind == .snapshot {
            guard let snapshot = node.snapshot, snapshot.metadata == message.snapshot else {
                node.raft?.reportSnapshot(to: message.to, status: .failure)
                return
            }
            let start = Int(message.snapshotOffset)
            guard start <= snapshot.data.count else {
                node.raft?.reportSnapshot(to: message.to, status: .failure)
                return
            }
            // Broker snapshots carry whole checkpoint tables: larger chunks, still several per snapshot.
            let chunkBytes = options.snapshotChunkBytes * (brokerWorkload == nil ? 1 : Self.brokerChunkFactor)
            let end = min(snapshot.data.count, start + chunkBytes)
            message = message.withSnapshotChunk(Array(snapshot.data[start..<end]), done: end == snapshot.data.count)
        }
        transmit(message)
    }

    func crash(_ node: SimNode) {
        guard node.isUp else { return }
        record("crash \(node.id)")
        crashes += 1
        trace.mix(6, UInt64(node.index))
        node.crash(random: &random)
    }

    func restart(_ node: SimNode) {
        guard !node.isUp else { return }
        record("restart \(node.id)")
        trace.mix(7, UInt64(node.index))
        node.restart(config: config(for: node))
        if !checkBrokerRestore(node) { return }
        pump(node)
    }

    func resume(_ node: SimNode) {
        guard node.paused else { return }
        node.paused = false
        record("resume \(node.id)")
        let inbox = node.inbox
        node.inbox = []
        // The messages that queued up while the process was stopped are read over the next moments, so client
        // requests and timers interleave with them (a resumed leader may act before it learns it was deposed).
        for message in inbox {
            queue.schedule(.deliver(message), at: now + random.uint(0...10_000))
        }
        pump(node)
    }
}
