import SkiffBroker
import SkiffRaft

/// The broker workload's client side: idempotent producers and leasing consumers.
struct BrokerWorkload {
    static let namespace = "sim"
    static let queue = "work"
    static let deadLetters = "dead"
    static let producerCount = 3
    static let consumerCount = 3
    /// Publishes one producer pipelines (consecutive sequence numbers in flight at once).
    static let producerInFlightMax = 8
    /// A message is dead-lettered after this many deliveries without an ack.
    static let maxDeliveries: UInt16 = 3
    /// Lease (visibility) bounds in simulated milliseconds.
    static let visibilityMs: ClosedRange<Int64> = 200...1_200
    /// The chance per client step that a consumer's connection drops during the fault phase.
    static let disconnectRate = 0.002
    /// Consumers stop this many ticks before the end, so their last commands can still commit.
    static let quietTicks = 60
    /// The leader proposes at most one `.tick` per this many microseconds.
    static let tickProposalMicros: SimTime = 40_000
    /// Ticks carry proposal ids from this base up, apart from client ids.
    static let tickIDBase: UInt64 = 1 << 62

    enum Operation {
        case setup
        case publish(producer: Int)
        case receive(consumer: Int)
        case settle(consumer: Int)
    }

    /// What a consumer will do with a leased message, and when.
    struct Held {
        var lease: LeaseID
        var queue: String
        var actAt: SimTime
        var action: Action
    }

    enum Action: Equatable {
        case ack
        case requeue
        /// Nack without requeue: the broker dead-letters the message (reason `rejected`).
        case reject
        /// Let the lease expire.
        case abandon
    }

    var commands: [UInt64: Command] = [:]
    var operations: [UInt64: Operation] = [:]
    var setupID: UInt64?
    var producers: [ProducerID] = []
    var producerInFlight = [Int](repeating: 0, count: producerCount)
    var nextSequence = [UInt64](repeating: 0, count: producerCount)
    var consumerBusy = [Bool](repeating: false, count: consumerCount)
    var held = [[Held]](repeating: [], count: consumerCount)
    var nextMessage: UInt64 = 1
    var nextTickID = tickIDBase
    /// Publishes the cluster acknowledged (message id -> sequences).
    var acknowledged: [String: [MessageSeq]] = [:]
    var acks = 0

    static var setupCommand: Command {
        let dead = QueueArguments()
        let work = QueueArguments(deadLetterQueue: deadLetters, maxDeliveries: maxDeliveries)
        return .batch(
            [
                .createNamespace(namespace),
                .declareQueue(namespace: namespace, queue: deadLetters, arguments: dead),
                .declareQueue(namespace: namespace, queue: queue, arguments: work),
            ] + (0..<producerCount).map { _ in .initProducer(producerGroup: "") })
    }
}

extension Simulation {
    /// One client step of the broker workload (replaces the counter proposals in broker mode).
    func runBrokerClient() {
        guard var workload = brokerWorkload else { return }
        defer { brokerWorkload = workload }
        guard workload.setupID != nil else {
            workload.setupID = proposeBroker(BrokerWorkload.setupCommand, .setup, &workload)
            return
        }
        guard !workload.producers.isEmpty else { return }
        if !healed {
            for producer in 0..<BrokerWorkload.producerCount
            where workload.producerInFlight[producer] < BrokerWorkload.producerInFlightMax {
                guard random.chance(0.6) else { continue }
                let id = "m\(workload.nextMessage)"
                workload.nextMessage += 1
                var message = OutgoingMessage(id: id, body: [UInt8](repeating: 7, count: random.int(0...48)))
                message.priority = UInt8(random.int(0...9))
                if random.chance(0.1) { message.ttlMs = Int64(random.int(100...1_500)) }
                if random.chance(0.2) { message.deliveryTime = .delayMs(Int64(random.int(20...500))) }
                let stamp = ProducerStamp(
                    producer: workload.producers[producer], sequence: workload.nextSequence[producer])
                let request = PublishRequest(
                    namespace: BrokerWorkload.namespace, target: .queue(BrokerWorkload.queue), messages: [message],
                    producer: stamp)
                workload.nextSequence[producer] += 1
                workload.producerInFlight[producer] += 1
                _ = proposeBroker(.publish(request), .publish(producer: producer), &workload)
            }
        }
        let quiet = end - UInt64(BrokerWorkload.quietTicks) * options.tickMicros
        guard now < quiet else { return }
        for consumer in 0..<BrokerWorkload.consumerCount where !workload.consumerBusy[consumer] {
            runConsumer(consumer, &workload)
        }
    }

    private func runConsumer(_ consumer: Int, _ workload: inout BrokerWorkload) {
        workload.held[consumer].removeAll { $0.action == .abandon && $0.actAt <= now }
        if !healed && random.chance(BrokerWorkload.disconnectRate) {
            // The consumer's connection drops: the server releases everything it held.
            workload.held[consumer] = []
            workload.consumerBusy[consumer] = true
            _ = proposeBroker(.releaseConsumer("c\(consumer)"), .settle(consumer: consumer), &workload)
            return
        }
        if let due = workload.held[consumer].first(where: { $0.actAt <= now }) {
            let matches = { (held: BrokerWorkload.Held) in
                held.actAt <= self.now && held.queue == due.queue && held.action == due.action
            }
            let leases = workload.held[consumer].filter(matches).map(\.lease)
            workload.held[consumer].removeAll(where: matches)
            let ns = BrokerWorkload.namespace
            let command: Command =
                due.action == .ack
                ? .ack(namespace: ns, queue: due.queue, leases: leases)
                : .nack(namespace: ns, queue: due.queue, leases: leases, requeue: due.action == .requeue)
            workload.consumerBusy[consumer] = true
            _ = proposeBroker(command, .settle(consumer: consumer), &workload)
            return
        }
        guard random.chance(healed ? 0.9 : 0.15) else { return }
        let queue = random.chance(0.3) ? BrokerWorkload.deadLetters : BrokerWorkload.queue
        let command = Command.receive(
            namespace: BrokerWorkload.namespace, queue: queue, consumer: "c\(consumer)",
            maxMessages: UInt32(random.int(1...(healed ? 8 : 3))),
            visibilityMs: Int64(
                random.int(Int(BrokerWorkload.visibilityMs.lowerBound)...Int(BrokerWorkload.visibilityMs.upperBound))))
        workload.consumerBusy[consumer] = true
        _ = proposeBroker(command, .receive(consumer: consumer), &workload)
    }

    private func proposeBroker(
        _ command: Command, _ operation: BrokerWorkload.Operation, _ workload: inout BrokerWorkload
    ) -> UInt64 {
        let id = nextProposalID
        nextProposalID += 1
        workload.commands[id] = command
        workload.operations[id] = operation
        pendingIDs.append(id)
        brokerWorkload = workload
        submit(id)
        workload = brokerWorkload!
        return id
    }

    /// The client learns the result of proposal `id` (from the first replica that applied it).
    func brokerCompleted(_ id: UInt64, result: CommandResult) {
        guard var workload = brokerWorkload, let operation = workload.operations.removeValue(forKey: id) else { return }
        defer { brokerWorkload = workload }
        let command = workload.commands.removeValue(forKey: id)
        switch operation {
        case .setup:
            guard case .ok(.batch(let results)) = result else { return }
            for case .ok(.producer(let producer)) in results { workload.producers.append(producer) }
            if workload.producers.count != BrokerWorkload.producerCount {
                fail("broker-setup", "setup allocated \(workload.producers.count) producers: \(results)")
            }
        case .publish(let producer):
            guard let command, case .publish(let request) = command else { return }
            if result.error?.code == .sequenceGap {
                // An earlier sequence of this producer is not in yet (it went to a deposed leader): the idempotent
                // producer resends this one later, under a new proposal id but with the same stamp.
                _ = proposeBroker(command, operation, &workload)
                return
            }
            guard case .ok(.published(let receipt)) = result else {
                fail("broker-publish-refused", "publish proposal \(id) failed: \(result)")
                return
            }
            workload.producerInFlight[producer] -= 1
            workload.acknowledged[request.messages[0].id] = receipt.sequences
        case .receive(let consumer):
            workload.consumerBusy[consumer] = false
            guard case .ok(.delivered(let messages)) = result, case .receive(_, let queue, _, _, _)? = command else {
                return
            }
            for message in messages {
                let roll = random.int(0...99)
                let action: BrokerWorkload.Action =
                    healed || roll < 72 ? .ack : roll < 84 ? .requeue : roll < 88 ? .reject : .abandon
                let delay =
                    action == .abandon ? SimTime(message.leaseDeadline) * 1_000 : now + random.uint(0...300_000)
                workload.held[consumer].append(
                    .init(lease: message.lease, queue: queue, actAt: delay, action: action))
            }
        case .settle(let consumer):
            workload.consumerBusy[consumer] = false
            if case .ok(.count(let count)) = result { workload.acks += Int(count) }
        }
    }
}

/// The broker checks wired into the node shell.
extension Simulation {
    /// How often (in log indexes) every replica hashes its broker state for the agreement check.
    static let brokerHashStride: UInt64 = 8
    /// Broker-mode snapshot chunks are this many times `SimOptions.snapshotChunkBytes`.
    static let brokerChunkFactor = 24

    /// A leader whose broker has a due timer proposes `.tick`, stamped with its clock, so that lease expiries,
    /// delays and TTLs fire at one log position on every replica.
    func proposeBrokerTick(_ node: SimNode) {
        guard let raft = node.raft, raft.role == .leader, let broker = node.broker, now >= node.nextTickProposal,
            let deadline = broker.machine.nextTimerDeadline, deadline <= Int64(now / 1_000),
            var workload = brokerWorkload
        else { return }
        node.nextTickProposal = now + BrokerWorkload.tickProposalMicros
        let id = workload.nextTickID
        workload.nextTickID += 1
        brokerWorkload = workload
        guard (try? raft.propose(BrokerEntry.encode(id: id, timeMs: Int64(now / 1_000), command: .tick))) != nil
        else { return }
        trace.mix(12, id, UInt64(node.index))
        record("\(node.id) proposes tick \(id)")
    }

    /// Per applied broker entry: the frontier checks, and the state-hash agreement every `brokerHashStride`.
    func checkBrokerApply(
        _ node: SimNode, entry: Entry, _ applied: (command: Command, result: CommandResult, events: [BrokerEvent])
    ) -> Bool {
        guard let broker = node.broker else { return true }
        let index = entry.index.rawValue
        if let (invariant, detail) = brokerChecker.observe(
            index: index, command: applied.command, result: applied.result, events: applied.events,
            brokerTime: broker.machine.currentTime)
        {
            fail(invariant, "\(detail) (applied at \(entry.index) by \(node.id))")
            return false
        }
        guard index % Self.brokerHashStride == 0 else { return true }
        let hash = broker.machine.stateHash()
        trace.mix(13, index, UInt64(node.index))
        if let (invariant, detail) = brokerChecker.checkHash(hash, appliedIndex: index, node: "\(node.id)") {
            fail(invariant, detail)
            return false
        }
        return true
    }

    /// Writes the node's checkpoint delta and checks that a restore from it hashes like the live broker. Returns
    /// the table bytes for the Raft snapshot, or nil after reporting a failure.
    func brokerCheckpoint(_ node: SimNode) -> [UInt8]? {
        guard var broker = node.broker else { return nil }
        if let problem = broker.checkpoint() {
            fail("checkpoint-restore", "\(node.id): \(problem)")
            return nil
        }
        node.broker = broker
        let hash = broker.machine.stateHash()
        if let (invariant, detail) = brokerChecker.checkHash(
            hash, appliedIndex: broker.machine.lastAppliedIndex, node: "\(node.id) at checkpoint")
        {
            fail(invariant, detail)
            return nil
        }
        return broker.snapshotBytes()
    }

    /// After a restart or an installed snapshot: the tables restored, and to the state other replicas had.
    func checkBrokerRestore(_ node: SimNode) -> Bool {
        guard let broker = node.broker else { return true }
        if let problem = node.brokerRestoreError {
            fail("checkpoint-restore", "\(node.id): \(problem)")
            return false
        }
        let applied = broker.machine.lastAppliedIndex
        guard applied > 0 else { return true }
        brokerRestoresChecked += 1
        let hash = broker.machine.stateHash()
        if let (invariant, detail) = brokerChecker.checkHash(hash, appliedIndex: applied, node: "\(node.id) restored") {
            fail(invariant, detail)
            return false
        }
        return true
    }

    /// Every publish the cluster acknowledged was delivered to a consumer, or is still held by the broker
    /// (ready, delayed or leased in the work queue or the dead-letter queue) at the end.
    func checkBrokerAtEnd(leader: SimNode) {
        guard let workload = brokerWorkload, let broker = leader.broker?.machine else { return }
        let undelivered = workload.acknowledged.keys.filter { !brokerChecker.deliveredIDs.contains($0) }
        var held: UInt64 = 0
        for queue in [BrokerWorkload.queue, BrokerWorkload.deadLetters] {
            if let stats = try? broker.queueStats(namespace: BrokerWorkload.namespace, queue: queue) {
                held += stats.ready + stats.leased + stats.delayed
            }
        }
        if UInt64(undelivered.count) > held {
            fail(
                "acknowledged-publish-delivered",
                "\(undelivered.count) acknowledged publishes never delivered (e.g. \(undelivered.sorted().prefix(5))) "
                    + "but the broker holds only \(held) messages")
        }
    }

    var brokerSummary: String? {
        guard let workload = brokerWorkload else { return nil }
        return "published=\(workload.acknowledged.count) delivered=\(brokerChecker.deliveredIDs.count) "
            + "acked=\(workload.acks) leases=\(brokerChecker.leasesGranted) expired=\(brokerChecker.leasesExpired) "
            + "retries-absorbed=\(brokerChecker.duplicatesAbsorbed) restores=\(brokerRestoresChecked)"
    }
}
