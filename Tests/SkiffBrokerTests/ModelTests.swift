import Testing

@testable import SkiffBroker

/// Reference model of one queue (priorities, delays, leases, max deliveries into a DLQ) written as plainly as
/// possible: lists scanned linearly.
private struct QueueModel {
    struct Message {
        var seq: UInt64
        var priority: UInt8
        var deliveries: UInt16 = 0
        var visibleAt: Int64
    }
    var ready: [Message] = []
    var delayed: [Message] = []
    var leases: [LeaseID: (message: Message, consumer: String, deadline: Int64)] = [:]
    var dead: [UInt64] = []
    let maxDeliveries: UInt16 = 3

    mutating func advance(to now: Int64) {
        for message in delayed where message.visibleAt <= now { ready.append(message) }
        delayed.removeAll { $0.visibleAt <= now }
        for (lease, held) in leases where held.deadline <= now {
            leases[lease] = nil
            requeue(held.message)
        }
    }

    mutating func requeue(_ message: Message) {
        if message.deliveries >= maxDeliveries { dead.append(message.seq) } else { ready.append(message) }
    }

    /// The next message: highest priority, then lowest sequence.
    mutating func next() -> Message? {
        guard
            let best = ready.indices.max(by: { a, b in
                (ready[a].priority, -Int64(ready[a].seq)) < (ready[b].priority, -Int64(ready[b].seq))
            })
        else { return nil }
        return ready.remove(at: best)
    }
}

/// Acks, nacks (requeue or reject) or extends one lease, mirroring it in the model.
private func settleLease(_ h: inout Harness, _ model: inout QueueModel, _ random: inout SplitMix64) {
    guard let lease = model.leases.keys.sorted().first(where: { _ in random.chance(50) }) ?? model.leases.keys.min()
    else {
        h.ok(.tick)  // time moved in the model; let the broker see it too
        return
    }
    let held = model.leases.removeValue(forKey: lease)!
    switch random.below(4) {
    case 0:
        h.ok(.nack(namespace: "ns", queue: "q", leases: [lease], requeue: true))
        model.requeue(held.message)
    case 1:
        h.ok(.nack(namespace: "ns", queue: "q", leases: [lease], requeue: false))
        model.dead.append(held.message.seq)
    case 2:
        let visibility = Int64(50 + random.below(500))
        h.ok(.extendLeases(namespace: "ns", queue: "q", leases: [lease], visibilityMs: visibility))
        model.leases[lease] = (held.message, held.consumer, h.time + visibility)
    default:
        h.ok(.ack(namespace: "ns", queue: "q", leases: [lease]))
    }
}

/// Random queue operations against the reference model give the same deliveries, delivery counts and counts.
@Test(arguments: [21, 22, 23, 24, 25] as [UInt64])
func queueMatchesModel(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    var h = queueHarness([("dlq", QueueArguments()), ("q", QueueArguments(deadLetterQueue: "dlq", maxDeliveries: 3))])
    var model = QueueModel()
    let consumers = ["a", "b", "c"]
    for _ in 0..<2_000 {
        h.time += Int64(random.below(150))
        model.advance(to: h.time)
        switch random.below(10) {
        case 0, 1:
            let messages = (0...random.below(3)).map { _ in
                OutgoingMessage(
                    body: [1], priority: UInt8(random.below(10)),
                    deliveryTime: random.chance(30) ? .delayMs(Int64(random.below(400))) : .now)
            }
            guard
                case .published(let receipt) = h.ok(
                    .publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: messages)))
            else { return }
            for (message, seq) in zip(messages, receipt.sequences) {
                var visible = h.time
                if case .delayMs(let delay) = message.deliveryTime { visible += delay }
                let entry = QueueModel.Message(seq: seq.rawValue, priority: message.priority, visibleAt: visible)
                if visible > h.time { model.delayed.append(entry) } else { model.ready.append(entry) }
            }
        case 2, 3:
            let consumer = consumers[random.below(3)]
            let visibility = Int64(50 + random.below(500))
            let got = h.receive("q", consumer: consumer, max: UInt32(1 + random.below(4)), visibilityMs: visibility)
            var expected: [QueueModel.Message] = []
            while expected.count < got.count, var message = model.next() {
                message.deliveries += 1
                expected.append(message)
            }
            #expect(model.ready.isEmpty || got.count > 0)
            #expect(got.map(\.sequence.rawValue) == expected.map(\.seq))
            #expect(got.map(\.deliveryCount) == expected.map(\.deliveries))
            for (message, delivered) in zip(expected, got) {
                model.leases[delivered.lease] = (message, consumer, h.time + visibility)
            }
        case 4, 5, 6:
            settleLease(&h, &model, &random)
        case 7:
            let consumer = consumers[random.below(3)]
            h.ok(.releaseConsumer(consumer))
            for (lease, held) in model.leases.sorted(by: { $0.key < $1.key }) where held.consumer == consumer {
                model.leases[lease] = nil
                model.requeue(held.message)
            }
        default:
            h.ok(.tick)
        }
        let stats = h.stats("q")
        #expect(stats.ready == UInt64(model.ready.count))
        #expect(stats.leased == UInt64(model.leases.count))
        #expect(stats.delayed == UInt64(model.delayed.count))
        #expect(h.stats("dlq").ready == UInt64(model.dead.count))
    }
    #expect(h.machine.invariantViolations() == [])
}

/// Random appends and fetches against per-partition arrays: same partitions, dense offsets, same contents.
@Test(arguments: [31, 32, 33] as [UInt64])
func topicMatchesModel(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    var h = topicHarness(TopicArguments(partitions: 4))
    var model: [[[UInt8]]] = Array(repeating: [], count: 4)
    var roundRobin: UInt64 = 0
    for _ in 0..<800 {
        h.time += 1
        if random.chance(60) {
            let records = (0...random.below(5)).map { _ -> OutgoingRecord in
                let key: [UInt8]? = random.chance(40) ? [UInt8(random.below(50))] : nil
                let partition: UInt32? = random.chance(20) ? UInt32(random.below(4)) : nil
                return OutgoingRecord(
                    key: key, value: [UInt8(random.below(256)), UInt8(random.below(256))], partition: partition)
            }
            let positions = h.append(records)
            for (record, position) in zip(records, positions) {
                let expected: UInt32
                if let partition = record.partition {
                    expected = partition
                } else if let key = record.key {
                    expected = BrokerStateMachine.partition(forKey: key, partitions: 4)
                } else {
                    expected = UInt32(roundRobin % 4)
                    roundRobin += 1
                }
                #expect(position.partition == expected)
                #expect(position.offset.rawValue == UInt64(model[Int(expected)].count))
                model[Int(expected)].append(record.value!)
            }
        } else {
            let partition = random.below(4)
            let offset = random.below(model[partition].count + 1)
            let limit = 1 + random.below(6)
            let page = h.fetch(UInt32(partition), from: UInt64(offset), max: limit)
            let expected = Array(model[partition][offset..<min(model[partition].count, offset + limit)])
            #expect(page.records.map(\.value!) == expected)
            #expect(page.records.map(\.offset.rawValue) == Array(UInt64(offset)..<UInt64(offset + expected.count)))
            #expect(page.endOffset.rawValue == UInt64(model[partition].count))
        }
    }
}

/// Random joins, leaves, heartbeats and clock jumps against a membership model: same generation, the members own
/// every partition exactly once, by contiguous ranges over sorted member names.
@Test(arguments: [41, 42, 43] as [UInt64])
func groupMatchesModel(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    let partitions = 7
    var h = topicHarness(TopicArguments(partitions: UInt32(partitions)))
    let group = GroupRef(namespace: "ns", topic: "t", group: "g")
    var members: [String: (timeout: Int64, lastSeen: Int64)] = [:]
    var generation: UInt64 = 0
    for _ in 0..<1_500 {
        h.time += Int64(random.below(random.chance(5) ? 3_000 : 200))
        let expired = members.filter { $0.value.lastSeen + $0.value.timeout <= h.time }
        for name in expired.keys { members[name] = nil }
        generation += UInt64(expired.count)
        let member = "m\(random.below(5))"
        switch random.below(4) {
        case 0:
            let timeout = Int64(200 + random.below(1_500))
            h.ok(.joinGroup(group, member: member, sessionTimeoutMs: timeout))
            if members[member] == nil { generation += 1 }
            members[member] = (timeout, h.time)
        case 1:
            let code = h.code(.leaveGroup(group, member: member))
            if members.removeValue(forKey: member) != nil {
                generation += 1
                #expect(code == nil)
            } else {
                #expect(code == (generation == 0 ? .groupNotFound : .memberNotFound))
            }
        case 2:
            let result = h.run(.heartbeat(group, member: member, generation: generation))
            if members[member] != nil {
                members[member]!.lastSeen = h.time
                guard case .ok(.assignment(let assignment)) = result else {
                    Issue.record("heartbeat of a member failed: \(result)")
                    return
                }
                #expect(assignment.generation == generation)
            } else {
                #expect(result.error != nil)
            }
        default:
            h.ok(.tick)
        }
        guard generation > 0 else { continue }
        let info = try! h.machine.groupInfo(group)
        #expect(info.generation == generation)
        #expect(Set(info.assignment.keys) == Set(members.keys))
        let names = members.keys.sorted()
        var expected: [String: [UInt32]] = [:]
        for (index, name) in names.enumerated() {
            expected[name] = (index * partitions / names.count..<(index + 1) * partitions / names.count).map {
                UInt32($0)
            }
        }
        #expect(info.assignment == expected)
    }
}

/// Random retries, duplicates and gaps of stamped publishes against a sequence model: duplicates answer the
/// original receipt, only fresh sequences store messages.
@Test(arguments: [51, 52] as [UInt64])
func producerMatchesModel(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    var h = queueHarness()
    let producer = h.producer()
    var receipts: [UInt64: ResultValue] = [:]
    var next: UInt64 = 0
    var stored: UInt64 = 0
    for _ in 0..<1_000 {
        let sequence = UInt64(max(0, Int(next) + random.below(4) - 2 - (random.chance(10) ? 8 : 0)))
        let request = PublishRequest(
            namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1])],
            producer: ProducerStamp(producer: producer, sequence: sequence))
        let result = h.run(.publish(request))
        if sequence == next {
            guard case .ok(let value) = result else {
                Issue.record("fresh sequence \(sequence) failed: \(result)")
                return
            }
            receipts[sequence] = value
            next += 1
            stored += 1
        } else if sequence > next {
            #expect(result.error?.code == .sequenceGap)
        } else if next - sequence <= UInt64(BrokerLimits.producerResultWindow) {
            #expect(result == .ok(receipts[sequence]!))
        } else {
            #expect(result.error?.code == .staleSequence)
        }
    }
    #expect(h.stats("q").ready == stored)
}

/// Reference AMQP topic matcher: plain recursion over words.
private func referenceMatch(_ pattern: ArraySlice<Substring>, _ words: ArraySlice<Substring>) -> Bool {
    guard let head = pattern.first else { return words.isEmpty }
    if head == "#" {
        return (0...words.count).contains { referenceMatch(pattern.dropFirst(), words.dropFirst($0)) }
    }
    guard let word = words.first, head == "*" || head == word else { return false }
    return referenceMatch(pattern.dropFirst(), words.dropFirst())
}

/// Random topic bindings and routing keys: every publish reaches exactly the queues the reference matcher picks
/// (unroutable when none), and each matching queue gets one copy.
@Test(arguments: [61, 62] as [UInt64])
func topicExchangeMatchesModel(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    let queueNames = (0..<6).map { "q\($0)" }
    var h = queueHarness(queueNames.map { ($0, QueueArguments()) })
    h.ok(.declareExchange(namespace: "ns", exchange: "tx", kind: .topic, alternateExchange: nil))
    let words = ["a", "b", "c"]
    let randomKey = { (random: inout SplitMix64, wildcards: Bool) -> String in
        let pool = wildcards ? words + ["*", "#"] : words
        return (0..<random.below(4)).map { _ in pool[random.below(pool.count)] }.joined(separator: ".")
    }
    var bindings: [(queue: Int, pattern: String)] = []
    for _ in 0..<10 {
        let binding = (queue: random.below(queueNames.count), pattern: randomKey(&random, true))
        bindings.append(binding)
        h.ok(
            .bind(
                namespace: "ns", exchange: "tx", queue: queueNames[binding.queue], bindingKey: binding.pattern,
                headers: nil))
    }
    var expectedCounts = [UInt64](repeating: 0, count: queueNames.count)
    for _ in 0..<300 {
        let key = randomKey(&random, false)
        let keyWords = BrokerStateMachine.topicWords(key)
        let targets = Set(
            bindings.filter { referenceMatch(BrokerStateMachine.topicWords($0.pattern)[...], keyWords[...]) }.map(
                \.queue))
        let result = h.run(
            .publish(
                PublishRequest(
                    namespace: "ns", target: .exchange("tx", routingKey: key), messages: [OutgoingMessage(body: [])])))
        if targets.isEmpty {
            #expect(result.error?.code == .unroutable, "key '\(key)'")
        } else {
            #expect(
                result
                    == .ok(
                        .published(
                            PublishReceipt(sequences: (result.receiptSequences), routedQueues: [UInt32(targets.count)]))
                    ))
            #expect(result.receiptSequences.count == targets.count)
            for target in targets { expectedCounts[target] += 1 }
        }
    }
    #expect(queueNames.map { h.stats($0).ready } == expectedCounts)
}

extension CommandResult {
    /// The sequences of a publish receipt (empty for anything else).
    fileprivate var receiptSequences: [MessageSeq] {
        if case .ok(.published(let receipt)) = self { return receipt.sequences }
        return []
    }
}
