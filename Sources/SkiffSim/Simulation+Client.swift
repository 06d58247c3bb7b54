import SkiffRaft

/// The client: proposals with unique ids, resubmitted until acknowledged, and the end-of-run checks.
extension Simulation {
    func runClient() {
        queue.schedule(.client, at: now + options.tickMicros)
        if healed && options.nodeCount == 5 { changeMembership(restoring: true) }
        if brokerWorkload != nil {
            runBrokerClient()
        } else if !healed {
            let mean = Double(options.tickMicros) / Double(options.proposalMeanMicros)
            var count = Int(mean)
            if random.chance(mean - Double(count)) { count += 1 }
            for _ in 0..<count {
                let id = nextProposalID
                nextProposalID += 1
                pendingIDs.append(id)
                submit(id)
            }
        }
        if !healed && random.chance(Self.readRate) { issueRead() }
        pendingIDs.removeAll { acknowledged.contains($0) }
        var resubmitted = 0
        for id in pendingIDs where resubmitted < Self.resubmitsPerEventMax {
            guard now - (lastSubmit[id] ?? 0) >= Self.resubmitMicros else { continue }
            resubmitted += 1
            submit(id)
        }
    }

    /// Asks a random node for a linearizable read (ReadIndex); it must observe every acknowledged proposal.
    private func issueRead() {
        // Half the reads go to a node that believes it leads (as clients that cached the leader do), which is
        // where a deposed leader that has not noticed yet would answer stale data.
        let leaders = nodes.filter { $0.raft?.role == .leader }
        let node = !leaders.isEmpty && random.chance(0.5) ? random.pick(leaders) : random.pick(nodes)
        guard let raft = node.raft, !node.paused else { return }
        let id = nextReadID
        nextReadID += 1
        guard (try? raft.readIndex(context: SimStateMachine.payload(id: id, padding: 0))) != nil else { return }
        readsRequired[id] = acknowledgedPrefix
        trace.mix(11, id, UInt64(node.index))
        record("read \(id) at \(node.id) needs \(acknowledgedPrefix)")
        pump(node)
    }

    /// Sends proposal `id` to a random node, following its leader hint once (as a client follows NOT_LEADER).
    func submit(_ id: UInt64) {
        lastSubmit[id] = now
        var node = random.pick(nodes)
        if node.raft?.role != .leader, let hint = node.raft?.leader {
            node = nodes[Int(hint.rawValue) - 1]
        }
        guard let raft = node.raft, !node.paused, raft.role == .leader else { return }
        let payload: [UInt8]
        if let command = brokerWorkload?.commands[id] {
            payload = BrokerEntry.encode(id: id, timeMs: Int64(now / 1_000), command: command)
        } else {
            payload = SimStateMachine.payload(id: id, padding: random.int(0...24))
        }
        guard (try? raft.propose(payload)) != nil else { return }
        trace.mix(9, id, UInt64(node.index))
        record("propose \(id) to \(node.id)")
        pump(node)
    }

    /// Liveness and durability at the bound: a leader, every proposal applied, every node in one order.
    func checkAtEnd() {
        for node in nodes {
            record(
                "final \(node.raft?.status ?? "\(node.id) down") machine=\(node.machine.appliedIndex) "
                    + "pending=\(node.pendingReady != nil) paused=\(node.paused)")
        }
        let bound = "within \(options.livenessTicks) ticks after healing"
        guard let leader = nodes.first(where: { $0.raft?.role == .leader })?.raft else {
            fail("liveness", "no leader \(bound)")
            return
        }
        guard leader.confState.voters.count == options.nodeCount else {
            fail("liveness", "membership not restored \(bound): \(leader.confState)")
            return
        }
        pendingIDs.removeAll { acknowledged.contains($0) }
        if let stuck = pendingIDs.first {
            fail("liveness", "proposal \(stuck) (of \(pendingIDs.count) pending) not applied \(bound)")
            return
        }
        for node in nodes where node.machine.order != checker.globalOrder {
            let missing = acknowledged.subtracting(node.machine.order).sorted().prefix(5)
            fail(
                "acknowledged-applied-everywhere",
                "\(node.id) applied \(node.machine.order.count) of \(checker.globalOrder.count) proposals "
                    + "\(bound); missing acknowledged \(Array(missing))")
            return
        }
        checkBrokerAtEnd(leader: nodes.first(where: { $0.raft?.role == .leader })!)
    }
}
