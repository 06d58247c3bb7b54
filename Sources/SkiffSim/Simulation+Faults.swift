import SkiffRaft

/// The simulated network, the fault schedule, the client, and the checks at the end of a run.
extension Simulation {
    private func link(_ from: NodeID, _ to: NodeID) -> Int { Int(from.rawValue) * 16 + Int(to.rawValue) }

    /// Puts a message on the wire: it may be dropped, duplicated, delayed and thereby reordered.
    func transmit(_ message: Message) {
        if blockedLinks.contains(link(message.from, message.to)) || random.chance(dropRate) {
            record("drop \(message)")
            return
        }
        let copies = random.chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            var delay = random.uint(delayMicros)
            if !healed && random.chance(0.05) { delay += random.uint(10_000...80_000) }
            queue.schedule(.deliver(message), at: now + delay)
        }
    }

    /// One random fault, then the next one is scheduled until the fault phase ends.
    func injectFault() {
        guard !healed else { return }
        let action = random.int(0...11)
        trace.mix(8, UInt64(action))
        switch action {
        case 0, 1: partitionSymmetric()
        case 2: partitionOneWay()
        case 3: blockedLinks = []
        case 4, 5: crashRandomNode()
        case 6, 7: pauseRandomNode()
        case 8: slowDownRandomDisk()
        case 9: changeNetworkQuality()
        case 10: transferLeadership()
        default: if options.nodeCount == 5 { changeMembership(restoring: false) }
        }
        let gap = random.uint((options.faultMeanMicros / 2)...(options.faultMeanMicros * 3 / 2))
        queue.schedule(.fault, at: now + gap)
    }

    private func partitionSymmetric() {
        var sides: [[NodeID]] = [[], []]
        for node in nodes { sides[random.int(0...1)].append(node.id) }
        blockedLinks = []
        for a in sides[0] {
            for b in sides[1] {
                blockedLinks.insert(link(a, b))
                blockedLinks.insert(link(b, a))
            }
        }
        record("partition \(sides[0]) | \(sides[1])")
    }

    private func partitionOneWay() {
        let from = random.pick(nodes).id
        let to = random.pick(nodes).id
        guard from != to else { return }
        blockedLinks.insert(link(from, to))
        record("cut \(from) -> \(to)")
    }

    private func crashRandomNode() {
        let node = random.pick(nodes)
        guard node.isUp else { return }
        crash(node)
        queue.schedule(.restart(node: node.index), at: now + random.uint(20_000...400_000))
    }

    private func pauseRandomNode() {
        // Half the pauses hit the leader: a leader stopped past its lease is the classic stale-leader case.
        let leaders = nodes.filter { $0.raft?.role == .leader }
        let node = !leaders.isEmpty && random.chance(0.5) ? random.pick(leaders) : random.pick(nodes)
        guard node.isUp, !node.paused else { return }
        node.paused = true
        record("pause \(node.id)")
        queue.schedule(.resume(node: node.index), at: now + random.uint(20_000...600_000))
    }

    private func slowDownRandomDisk() {
        let node = random.pick(nodes)
        let slow = random.chance(0.6)
        node.fsyncMicros = slow ? 5_000...40_000 : 50...2_000
        record("disk \(node.id) \(slow ? "slow" : "fast")")
    }

    private func changeNetworkQuality() {
        dropRate = random.chance(0.5) ? 0 : Double(random.int(1...20)) / 100
        duplicateRate = random.chance(0.5) ? 0 : Double(random.int(1...10)) / 100
        delayMicros = 500...random.uint(2_000...30_000)
        record("network drop=\(dropRate) dup=\(duplicateRate) delay=\(delayMicros)")
    }

    private func transferLeadership() {
        guard let leader = nodes.first(where: { $0.raft?.role == .leader && !$0.paused }), let raft = leader.raft else {
            return
        }
        let target = random.pick(nodes).id
        guard target != leader.id else { return }
        record("transfer \(leader.id) -> \(target)")
        try? raft.transferLeadership(to: target)
        pump(leader)
    }

    /// The faults end: links heal, the network behaves, every node runs with a fast disk.
    func heal() {
        healed = true
        record("heal")
        blockedLinks = []
        dropRate = 0
        duplicateRate = 0
        delayMicros = 500...8_000
        for node in nodes {
            node.fsyncMicros = 50...2_000
            if !node.isUp { restart(node) }
            resume(node)
        }
    }

    /// One step of membership churn on a 5-node cluster: remove a voter (perhaps the leader itself), add a
    /// removed node back as a learner, or promote a learner. After healing, only the restoring steps run, until
    /// every node is a voter again.
    func changeMembership(restoring: Bool) {
        guard let leader = nodes.first(where: { $0.raft?.role == .leader && !$0.paused }), let raft = leader.raft
        else { return }
        let conf = raft.confState
        let change: ConfChange
        if let learner = conf.learners.first {
            change = ConfChange(.addVoter, learner)
        } else if let outsider = nodes.map(\.id).first(where: { !conf.isMember($0) }) {
            change = ConfChange(.addLearner, outsider)
        } else if !restoring && conf.voters.count == options.nodeCount {
            change = ConfChange(.removeNode, random.pick(conf.voters))
        } else {
            return
        }
        guard (try? raft.proposeConfigChange(change)) != nil else { return }
        membershipChanges += 1
        trace.mix(10, UInt64(change.kind.rawValue), change.node.rawValue)
        record("membership \(change) by \(leader.id)")
        pump(leader)
    }
}
