import SkiffBroker

/// A random mixed workload over a fixed universe of queues (with DLQ cycles, TTLs, limits, priorities, a single
/// active consumer), exchanges of every type, a retained and a compacted topic, a group, producers, transactions and
/// half messages. It learns lease ids, generations and transaction ids from the results it is shown, so most
/// commands are valid, and it mixes in invalid ones.
struct Workload {
    var random: SplitMix64
    var time: Int64 = 1_000
    var leases: [(queue: String, lease: LeaseID)] = []
    var generations: [String: UInt64] = [:]
    var producers: [ProducerID] = []
    var sequences: [ProducerID: UInt64] = [:]
    var transactions: [TransactionID] = []
    var halves: [HalfMessageID] = []
    let queues = ["q0", "q1", "q2", "dlq", "sac"]
    let consumers = ["c1", "c2", "c3"]
    let members = ["m1", "m2", "m3"]
    let group = GroupRef(namespace: "ns", topic: "t", group: "g")

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    static let setup: [Command] = [
        .createNamespace("ns"),
        .declareQueue(namespace: "ns", queue: "q0", arguments: QueueArguments()),
        .declareQueue(
            namespace: "ns", queue: "q1",
            arguments: QueueArguments(maxLength: 5, overflow: .dropHead, deadLetterQueue: "dlq")),
        .declareQueue(
            namespace: "ns", queue: "q2",
            arguments: QueueArguments(
                maxBytes: 40, overflow: .rejectPublish, messageTTLMs: 300, deadLetterQueue: "dlq", maxDeliveries: 2)),
        .declareQueue(
            namespace: "ns", queue: "dlq",
            arguments: QueueArguments(maxLength: 8, overflow: .deadLetter, messageTTLMs: 1_000, deadLetterQueue: "q1")),
        .declareQueue(
            namespace: "ns", queue: "sac", arguments: QueueArguments(maxDeliveries: 3, singleActiveConsumer: true)),
        .declareExchange(namespace: "ns", exchange: "fan", kind: .fanout, alternateExchange: nil),
        .declareExchange(namespace: "ns", exchange: "direct", kind: .direct, alternateExchange: "fan"),
        .declareExchange(namespace: "ns", exchange: "topic", kind: .topic, alternateExchange: nil),
        .declareExchange(namespace: "ns", exchange: "hdr", kind: .headers, alternateExchange: nil),
        .bind(namespace: "ns", exchange: "fan", queue: "q0", bindingKey: "", headers: nil),
        .bind(namespace: "ns", exchange: "fan", queue: "sac", bindingKey: "", headers: nil),
        .bind(namespace: "ns", exchange: "direct", queue: "q1", bindingKey: "b", headers: nil),
        .bind(namespace: "ns", exchange: "topic", queue: "q2", bindingKey: "x.*", headers: nil),
        .bind(namespace: "ns", exchange: "topic", queue: "dlq", bindingKey: "#.z", headers: nil),
        .bind(
            namespace: "ns", exchange: "hdr", queue: "q1", bindingKey: "",
            headers: HeadersMatch(matchAll: false, headers: [Header("k", "1"), Header("j", "2")])),
        .createTopic(namespace: "ns", topic: "t", arguments: TopicArguments(partitions: 3, retentionMs: 2_000)),
        .createTopic(
            namespace: "ns", topic: "c",
            arguments: TopicArguments(partitions: 2, compact: true, tombstoneRetentionMs: 500)),
    ]

    mutating func pick<T>(_ items: [T]) -> T { items[random.below(items.count)] }

    /// Mostly one of the last three items (recent leases and transactions are the live ones).
    mutating func recentIndex(_ count: Int) -> Int {
        random.chance(85) ? count - 1 - random.below(min(count, 3)) : random.below(count)
    }

    mutating func message() -> OutgoingMessage {
        let body = (0..<random.below(12)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let delivery: DeliveryTime = random.chance(20) ? .delayMs(Int64(random.below(600))) : .now
        let ttl: Int64? = random.chance(20) ? Int64(50 + random.below(800)) : nil
        let headers = random.chance(30) ? [Header(pick(["k", "j", "x-match"]), pick(["1", "2"]))] : []
        return OutgoingMessage(
            id: "m\(random.below(1_000))", body: body, headers: headers, priority: UInt8(random.below(11)) % 10,
            ttlMs: ttl,
            deliveryTime: delivery)
    }

    mutating func publishRequest() -> PublishRequest {
        let target: PublishTarget =
            random.chance(60)
            ? .queue(pick(queues + ["nope"]))
            : .exchange(pick(["fan", "direct", "topic", "hdr"]), routingKey: pick(["b", "x.y", "a.z", "q", ""]))
        return PublishRequest(namespace: "ns", target: target, messages: (0...random.below(3)).map { _ in message() })
    }

    mutating func appendRequest() -> AppendRequest {
        let topic = pick(["t", "c"])
        let records = (0...random.below(3)).map { _ -> OutgoingRecord in
            let key: [UInt8]? = topic == "c" || random.chance(50) ? [UInt8(random.below(5))] : nil
            let value: [UInt8]? = topic == "c" && random.chance(25) ? nil : [UInt8(random.below(256))]
            return OutgoingRecord(key: key, value: value, partition: random.chance(10) ? UInt32(random.below(4)) : nil)
        }
        return AppendRequest(namespace: "ns", topic: topic, records: records)
    }

    /// The next command and the time to apply it at.
    mutating func next() -> Command {
        time += Int64(random.below(random.chance(10) ? 1_500 : 120))
        if random.chance(8) { return .batch((0..<(1 + random.below(4))).map { _ in single() }) }
        return single()
    }

    mutating func single() -> Command {
        switch random.below(100) {
        case 0..<18: return .publish(publishRequest())
        case 18..<32:
            return .receive(
                namespace: "ns", queue: pick(queues), consumer: pick(consumers),
                maxMessages: UInt32(1 + random.below(4)),
                visibilityMs: Int64(100 + random.below(900)))
        case 32..<48: return leaseCommand()
        case 48..<50: return .releaseConsumer(pick(consumers))
        case 50..<60: return .append(appendRequest())
        case 60..<70: return groupCommand()
        case 70..<76: return producerCommand()
        case 76..<86: return transactionCommand()
        case 86..<93: return halfCommand()
        case 93..<95: return .purgeQueue(namespace: "ns", queue: pick(queues))
        case 95..<97:
            return random.chance(50)
                ? .declareQueue(namespace: "ns", queue: "tmp", arguments: QueueArguments(deadLetterQueue: "tmp"))
                : .deleteQueue(namespace: "ns", queue: "tmp", ifEmpty: random.chance(50))
        case 97: return adminChurn()
        default: return .tick
        }
    }

    /// Deletes and recreates entities that other commands use: the compacted topic, the headers exchange and its
    /// binding, a binding of the temporary queue.
    mutating func adminChurn() -> Command {
        switch random.below(6) {
        case 0: return .deleteTopic(namespace: "ns", topic: "c")
        case 1:
            return .createTopic(
                namespace: "ns", topic: "c",
                arguments: TopicArguments(partitions: 2, compact: true, tombstoneRetentionMs: 500))
        case 2: return .deleteExchange(namespace: "ns", exchange: "hdr")
        case 3:
            return .batch([
                .declareExchange(namespace: "ns", exchange: "hdr", kind: .headers, alternateExchange: "fan"),
                .bind(
                    namespace: "ns", exchange: "hdr", queue: "q1", bindingKey: "",
                    headers: HeadersMatch(matchAll: true, headers: [Header("k", "1")])),
            ])
        case 4: return .bind(namespace: "ns", exchange: "fan", queue: "tmp", bindingKey: "", headers: nil)
        default: return .deleteGroup(group)
        }
    }

    mutating func leaseCommand() -> Command {
        guard !leases.isEmpty, !random.chance(5) else {
            return .ack(namespace: "ns", queue: pick(queues), leases: [LeaseID(random.next() % 1_000)])
        }
        let chosen = leases.remove(at: recentIndex(leases.count))
        var list = [chosen.lease]
        if let extra = leases.firstIndex(where: { $0.queue == chosen.queue }), random.chance(30) {
            list.append(leases.remove(at: extra).lease)
        }
        switch random.below(4) {
        case 0, 1: return .ack(namespace: "ns", queue: chosen.queue, leases: list)
        case 2: return .nack(namespace: "ns", queue: chosen.queue, leases: list, requeue: random.chance(60))
        default:
            leases.append(chosen)
            return .extendLeases(
                namespace: "ns", queue: chosen.queue, leases: [chosen.lease],
                visibilityMs: Int64(50 + random.below(900)))
        }
    }

    mutating func groupCommand() -> Command {
        let member = pick(members)
        switch random.below(5) {
        case 0: return .joinGroup(group, member: member, sessionTimeoutMs: Int64(200 + random.below(2_000)))
        case 1: return .leaveGroup(group, member: member)
        case 2: return .heartbeat(group, member: member, generation: generations[member] ?? 0)
        case 3:
            let offsets = [
                PartitionOffset(partition: UInt32(random.below(3)), offset: Offset(UInt64(random.below(20))))
            ]
            return .commitOffsets(
                OffsetCommit(group: group, member: member, generation: generations[member] ?? 0, offsets: offsets))
        default:
            let target: ResetTarget = pick([
                .earliest, .latest, .timestamp(time - 500), .offset(Offset(UInt64(random.below(5)))),
            ])
            return .resetOffsets(group, partition: random.chance(50) ? UInt32(random.below(3)) : nil, to: target)
        }
    }

    mutating func producerCommand() -> Command {
        guard !producers.isEmpty, random.chance(80) else { return .initProducer(producerGroup: "pg") }
        let producer = pick(producers)
        var request = publishRequest()
        request.target = .queue("q0")
        let next = sequences[producer] ?? 0
        let sequence = random.chance(20) && next > 0 ? next - 1 : (random.chance(5) ? next + 2 : next)
        request.producer = ProducerStamp(producer: producer, sequence: sequence)
        return .publish(request)
    }

    mutating func transactionCommand() -> Command {
        guard !transactions.isEmpty, random.chance(80) else {
            return .beginTransaction(producer: producers.isEmpty ? ProducerID(1) : pick(producers), timeoutMs: 5_000)
        }
        let txn = transactions[recentIndex(transactions.count)]
        switch random.below(6) {
        case 0, 1: return .transactionPublish(txn, publishRequest())
        case 2: return .transactionAppend(txn, appendRequest())
        case 3:
            let member = pick(members)
            let offsets = [
                PartitionOffset(partition: UInt32(random.below(3)), offset: Offset(UInt64(random.below(10))))
            ]
            return .transactionCommitOffsets(
                txn, OffsetCommit(group: group, member: member, generation: generations[member] ?? 0, offsets: offsets))
        case 4: return .commitTransaction(txn)
        default: return .abortTransaction(txn)
        }
    }

    mutating func halfCommand() -> Command {
        guard !halves.isEmpty, random.chance(60) else {
            var request = publishRequest()
            request.messages = [request.messages[0]]
            return .prepareHalfMessage(
                HalfPrepare(
                    namespace: "ns", target: request.target, message: request.messages[0], producerGroup: "pg",
                    checkIntervalMs: 300, maxChecks: 2))
        }
        return .resolveHalfMessage(halves[recentIndex(halves.count)], pick([.commit, .rollback, .unknown]))
    }

    /// Learns ids from a command's result.
    mutating func observe(_ command: Command, _ result: CommandResult) {
        switch (command, result) {
        case (.batch(let commands), .ok(.batch(let results))):
            for (command, result) in zip(commands, results) { observe(command, result) }
        case (.receive(_, let queue, _, _, _), .ok(.delivered(let messages))):
            leases += messages.map { (queue, $0.lease) }
        case (.joinGroup(_, let member, _), .ok(.assignment(let assignment))),
            (.heartbeat(_, let member, _), .ok(.assignment(let assignment))):
            generations[member] = assignment.generation
        case (.initProducer, .ok(.producer(let id))): producers.append(id)
        case (.publish(let request), .ok):
            if let stamp = request.producer {
                sequences[stamp.producer] = max(sequences[stamp.producer] ?? 0, stamp.sequence + 1)
            }
        case (.beginTransaction, .ok(.transaction(let id))): transactions.append(id)
        case (.prepareHalfMessage, .ok(.halfMessage(let id))): halves.append(id)
        default: break
        }
        if leases.count > 200 { leases.removeFirst(100) }
        if transactions.count > 20 { transactions.removeFirst(10) }
        if halves.count > 20 { halves.removeFirst(10) }
    }
}
