import Testing

@testable import SkiffBroker

/// A harness with namespace "ns" and the given queues declared.
func queueHarness(_ queues: [(String, QueueArguments)] = [("q", QueueArguments())]) -> Harness {
    var harness = Harness()
    harness.ok(.createNamespace("ns"))
    for (name, arguments) in queues { harness.ok(.declareQueue(namespace: "ns", queue: name, arguments: arguments)) }
    return harness
}

/// Publish, receive and ack: the message is leased once with delivery count 1, and gone after the ack.
@Test func publishReceiveAck() {
    var h = queueHarness()
    let seqs = h.publish("q", ["a", "b"])
    #expect(seqs.count == 2)
    #expect(h.stats("q").ready == 2)
    let got = h.receive("q", max: 1)
    #expect(got.map(text) == ["a"])
    #expect(got[0].deliveryCount == 1)
    #expect(got[0].id == "a")
    #expect(h.stats("q").leased == 1)
    #expect(h.ok(.ack(namespace: "ns", queue: "q", leases: [got[0].lease])) == .count(1))
    #expect(h.code(.ack(namespace: "ns", queue: "q", leases: [got[0].lease])) == .leaseNotFound)
    let stats = h.stats("q")
    #expect(stats.ready == 1 && stats.leased == 0 && stats.bytes == 1)
}

/// Strict priority: higher levels first, FIFO within a level.
@Test func priorityOrder() {
    var h = queueHarness()
    h.publish("q", ["low1"], priority: 0)
    h.publish("q", ["high1"], priority: 9)
    h.publish("q", ["mid"], priority: 5)
    h.publish("q", ["high2"], priority: 9)
    h.publish("q", ["low2"], priority: 0)
    #expect(h.receive("q", max: 10).map(text) == ["high1", "high2", "mid", "low1", "low2"])
}

/// A delayed high-priority message stays invisible until its time, then overtakes waiting low-priority ones.
@Test func priorityWithDelay() {
    var h = queueHarness()
    let delayed = OutgoingMessage(id: "late", body: Array("late".utf8), priority: 9, deliveryTime: .delayMs(500))
    h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [delayed])), at: 1_000)
    h.publish("q", ["low1", "low2"], priority: 1)
    #expect(h.stats("q").delayed == 1)
    #expect(h.receive("q", max: 1, at: 1_499).map(text) == ["low1"])
    h.ok(.tick, at: 1_500)
    #expect(h.events.contains(.messagesAvailable(namespace: "ns", queue: "q", ready: 2)))
    #expect(h.receive("q", max: 2).map(text) == ["late", "low2"])
}

/// Deliver-at in the past is immediate; in the future it waits for exactly that time.
@Test func deliverAt() {
    var h = queueHarness()
    let past = OutgoingMessage(body: [1], deliveryTime: .at(10))
    let future = OutgoingMessage(body: [2], deliveryTime: .at(5_000))
    h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [past, future])), at: 1_000)
    #expect(h.receive("q").map(\.body) == [[1]])
    #expect(h.receive("q", at: 4_999).isEmpty)
    #expect(h.receive("q", at: 5_000).map(\.body) == [[2]])
}

/// An expired lease redelivers the message with a raised delivery count; extend postpones the expiry.
@Test func leaseExpiryAndExtend() {
    var h = queueHarness()
    h.publish("q", ["a"])
    let first = h.receive("q", visibilityMs: 1_000, at: 1_000)
    #expect(
        h.ok(.extendLeases(namespace: "ns", queue: "q", leases: [first[0].lease], visibilityMs: 2_000), at: 1_500)
            == .count(1))
    #expect(h.receive("q", at: 2_100).isEmpty)
    h.ok(.tick, at: 3_500)
    #expect(h.events.contains(.leasesExpired(namespace: "ns", queue: "q", consumer: "c1", leases: [first[0].lease])))
    let second = h.receive("q", consumer: "c2")
    #expect(second.count == 1 && second[0].deliveryCount == 2 && second[0].lease != first[0].lease)
    #expect(h.code(.ack(namespace: "ns", queue: "q", leases: [first[0].lease])) == .leaseNotFound)
}

/// Shortening a lease with extend makes it expire at the earlier deadline.
@Test func extendShorter() {
    var h = queueHarness()
    h.publish("q", ["a"])
    let got = h.receive("q", visibilityMs: 10_000, at: 1_000)
    h.ok(.extendLeases(namespace: "ns", queue: "q", leases: [got[0].lease], visibilityMs: 100), at: 1_000)
    h.ok(.tick, at: 1_100)
    #expect(h.stats("q").ready == 1)
}

/// Nack with requeue returns the message to the head; nack without requeue dead-letters it with reason headers.
@Test func nackRequeueAndReject() {
    var h = queueHarness([("dlq", QueueArguments()), ("q", QueueArguments(deadLetterQueue: "dlq"))])
    h.publish("q", ["a", "b"])
    let got = h.receive("q", max: 1)
    h.ok(.nack(namespace: "ns", queue: "q", leases: [got[0].lease], requeue: true))
    let again = h.receive("q", max: 1)
    #expect(text(again[0]) == "a" && again[0].deliveryCount == 2)
    h.ok(.nack(namespace: "ns", queue: "q", leases: [again[0].lease], requeue: false))
    let dead = h.receive("dlq")
    #expect(dead.map(text) == ["a"])
    #expect(dead[0].headers.contains(Header("x-death-reason", "rejected")))
    #expect(dead[0].headers.contains(Header("x-original-queue", "q")))
    #expect(dead[0].deliveryCount == 1)
    #expect(h.stats("q").deadLettered == 1)
}

/// After max deliveries an expiring or requeued message goes to the DLQ with reason delivery_limit.
@Test func maxDeliveries() {
    var h = queueHarness([("dlq", QueueArguments()), ("q", QueueArguments(deadLetterQueue: "dlq", maxDeliveries: 2))])
    h.publish("q", ["a"])
    for round in 0..<2 {
        let got = h.receive("q", visibilityMs: 100, at: 1_000 + Int64(round) * 1_000)
        #expect(got.count == 1 && got[0].deliveryCount == UInt16(round + 1))
        h.ok(.tick, at: 1_200 + Int64(round) * 1_000)
    }
    #expect(h.stats("q").ready == 0)
    let dead = h.receive("dlq")
    #expect(dead.count == 1 && dead[0].headers.contains(Header("x-death-reason", "delivery_limit")))
}

/// Queue TTL and per-message TTL (the shorter wins) expire messages to the DLQ with reason expired.
@Test func ttlExpiry() {
    var h = queueHarness([
        ("dlq", QueueArguments()), ("q", QueueArguments(messageTTLMs: 1_000, deadLetterQueue: "dlq")),
    ])
    let short = OutgoingMessage(id: "short", body: [1], ttlMs: 100)
    let long = OutgoingMessage(id: "long", body: [2], ttlMs: 50_000)
    h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [short, long])), at: 1_000)
    h.ok(.tick, at: 1_100)
    #expect(h.stats("q").ready == 1)
    #expect(h.stats("dlq").ready == 1)
    h.ok(.tick, at: 2_000)
    #expect(h.stats("q").ready == 0)
    let dead = h.receive("dlq", max: 5)
    #expect(dead.map(\.id) == ["short", "long"])
    #expect(dead.allSatisfy { $0.headers.contains(Header("x-death-reason", "expired")) })
}

/// A queue that dead-letters into itself discards instead of looping.
@Test func deadLetterSelfLoopTerminates() {
    var h = queueHarness([("q", QueueArguments(messageTTLMs: 10, deadLetterQueue: "q"))])
    h.publish("q", ["a", "b"])
    h.ok(.tick, at: 2_000)
    let stats = h.stats("q")
    #expect(stats.ready == 0 && stats.discarded == 2)
}

/// Two queues that dead-letter into each other on TTL stop after the hop bound.
@Test func deadLetterCycleTerminates() {
    var h = queueHarness([
        ("a", QueueArguments(messageTTLMs: 10, deadLetterQueue: "b")),
        ("b", QueueArguments(messageTTLMs: 10, deadLetterQueue: "a")),
    ])
    h.publish("a", ["m"])
    var time: Int64 = 1_000
    for _ in 0..<40 {
        time += 10
        h.ok(.tick, at: time)
    }
    let total = h.stats("a").ready + h.stats("b").ready
    #expect(total == 0)
    #expect(h.stats("a").discarded + h.stats("b").discarded == 1)
    #expect(h.stats("a").deadLettered + h.stats("b").deadLettered == UInt64(BrokerLimits.deadLetterHopsMax))
}

/// Overflow policies: drop-head discards the oldest, reject-publish refuses, dead-letter moves the head.
@Test func overflowPolicies() {
    var h = queueHarness([
        ("drop", QueueArguments(maxLength: 2, overflow: .dropHead)),
        ("reject", QueueArguments(maxLength: 2, overflow: .rejectPublish)),
        ("dlq", QueueArguments()),
        ("dl", QueueArguments(maxBytes: 2, overflow: .deadLetter, deadLetterQueue: "dlq")),
    ])
    h.publish("drop", ["1", "2", "3"])
    #expect(h.receive("drop", max: 5).map(text) == ["2", "3"])
    h.publish("reject", ["1", "2"])
    let refused = h.code(
        .publish(PublishRequest(namespace: "ns", target: .queue("reject"), messages: [OutgoingMessage(body: [1])])))
    #expect(refused == .queueFull)
    #expect(h.stats("reject").ready == 2)
    h.publish("dl", ["1", "2", "3"])
    #expect(h.receive("dl", max: 5).map(text) == ["2", "3"])
    let dead = h.receive("dlq")
    #expect(dead.map(text) == ["1"] && dead[0].headers.contains(Header("x-death-reason", "maxlen")))
}

/// A batch that does not fit a reject-publish queue stores nothing.
@Test func rejectPublishBatchIsAtomic() {
    var h = queueHarness([("q", QueueArguments(maxLength: 3, overflow: .rejectPublish))])
    h.publish("q", ["1", "2"])
    let batch = (0..<2).map { OutgoingMessage(body: [UInt8($0)]) }
    #expect(h.code(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: batch))) == .queueFull)
    #expect(h.stats("q").ready == 2)
}

/// Single active consumer: others are refused until the active one is released, which requeues its leases.
@Test func singleActiveConsumer() {
    var h = queueHarness([("q", QueueArguments(singleActiveConsumer: true))])
    h.publish("q", ["1", "2"])
    let first = h.receive("q", consumer: "a", max: 1)
    #expect(text(first[0]) == "1")
    let refused = h.code(.receive(namespace: "ns", queue: "q", consumer: "b", maxMessages: 1, visibilityMs: 1_000))
    #expect(refused == .notActiveConsumer)
    #expect(h.ok(.releaseConsumer("a")) == .count(1))
    let next = h.receive("q", consumer: "b", max: 5)
    #expect(next.map(text) == ["1", "2"])
    #expect(h.stats("q").activeConsumer == "b")
}

/// Release returns all of a consumer's leases across queues with raised delivery counts.
@Test func releaseConsumerAcrossQueues() {
    var h = queueHarness([("q1", QueueArguments()), ("q2", QueueArguments())])
    h.publish("q1", ["a"])
    h.publish("q2", ["b"])
    _ = h.receive("q1", consumer: "x")
    _ = h.receive("q2", consumer: "x")
    #expect(h.ok(.releaseConsumer("x")) == .count(2))
    #expect(h.receive("q1", consumer: "y")[0].deliveryCount == 2)
    #expect(h.ok(.releaseConsumer("x")) == .count(0))
}

/// Purge removes ready and delayed messages but not leased ones; delete with ifEmpty refuses a non-empty queue.
@Test func purgeAndDelete() {
    var h = queueHarness()
    h.publish("q", ["a", "b"])
    h.ok(
        .publish(
            PublishRequest(
                namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1], deliveryTime: .delayMs(9))])
        ))
    let leased = h.receive("q", max: 1)
    #expect(h.ok(.purgeQueue(namespace: "ns", queue: "q")) == .count(2))
    #expect(h.stats("q").leased == 1 && h.stats("q").ready == 0 && h.stats("q").delayed == 0)
    #expect(h.code(.deleteQueue(namespace: "ns", queue: "q", ifEmpty: true)) == .queueNotEmpty)
    h.ok(.ack(namespace: "ns", queue: "q", leases: [leased[0].lease]))
    h.ok(.deleteQueue(namespace: "ns", queue: "q", ifEmpty: true))
    #expect(h.code(.purgeQueue(namespace: "ns", queue: "q")) == .queueNotFound)
    h.ok(.deleteNamespace("ns"))
    #expect(h.machine.listNamespaces().isEmpty)
}

/// Bad input gets typed errors and changes nothing.
@Test func queueErrors() {
    var h = queueHarness()
    let before = h.machine.stateHash()
    #expect(h.code(.createNamespace("ns")) == .namespaceExists)
    #expect(h.code(.createNamespace("bad name")) == .invalidName)
    #expect(h.code(.createNamespace("")) == .invalidName)
    #expect(h.code(.deleteNamespace("ns")) == .namespaceNotEmpty)
    #expect(h.code(.declareQueue(namespace: "nope", queue: "q", arguments: QueueArguments())) == .namespaceNotFound)
    #expect(h.code(.declareQueue(namespace: "ns", queue: "q", arguments: QueueArguments(maxLength: 5))) == .queueExists)
    #expect(
        h.code(.declareQueue(namespace: "ns", queue: "z", arguments: QueueArguments(maxDeliveries: 0)))
            == .invalidArgument)
    let bad = OutgoingMessage(body: [1], priority: 10)
    #expect(h.code(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [bad]))) == .invalidArgument)
    #expect(h.code(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: []))) == .invalidArgument)
    #expect(
        h.code(.publish(PublishRequest(namespace: "ns", target: .queue("zz"), messages: [OutgoingMessage(body: [])])))
            == .queueNotFound)
    #expect(
        h.code(.receive(namespace: "ns", queue: "q", consumer: "c", maxMessages: 0, visibilityMs: 10))
            == .invalidArgument)
    #expect(
        h.code(.receive(namespace: "ns", queue: "q", consumer: "c", maxMessages: 1, visibilityMs: 0))
            == .invalidArgument)
    #expect(h.code(.ack(namespace: "ns", queue: "q", leases: [])) == .invalidArgument)
    #expect(h.code(.ack(namespace: "ns", queue: "q", leases: [LeaseID(99)])) == .leaseNotFound)
    let big = OutgoingMessage(body: [UInt8](repeating: 0, count: BrokerLimits.bodyBytesMax + 1))
    #expect(h.code(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [big]))) == .limitExceeded)
    #expect(h.machine.stateHash() != before)  // only the applied index and clock moved
    var reference = queueHarness()
    reference.index = h.index - 1
    reference.run(.tick)
    #expect(h.machine.stateHash() == reference.machine.stateHash())
}

/// An acked lease id from one queue cannot be acked through another queue, and a replayed index is refused.
@Test func leaseQueueMismatchAndReplay() {
    var h = queueHarness([("q1", QueueArguments()), ("q2", QueueArguments())])
    h.publish("q1", ["a"])
    let got = h.receive("q1")
    #expect(h.code(.ack(namespace: "ns", queue: "q2", leases: [got[0].lease])) == .leaseNotFound)
    let (result, events) = h.machine.apply(.tick, index: h.index, time: h.time)
    #expect(result.error?.code == .alreadyApplied && events.isEmpty)
}

/// A single active consumer that lets a lease lapse loses the queue to the next consumer.
@Test func singleActiveConsumerLapse() {
    var h = queueHarness([("q", QueueArguments(singleActiveConsumer: true))])
    h.publish("q", ["1", "2"])
    _ = h.receive("q", consumer: "a", max: 1, visibilityMs: 100, at: 1_000)
    h.ok(.tick, at: 1_100)
    #expect(h.stats("q").activeConsumer == nil)
    let next = h.receive("q", consumer: "b", max: 5)
    #expect(next.map(text) == ["1", "2"] && next[0].deliveryCount == 2)
    #expect(h.machine.invariantViolations() == [])
}

/// Sub-commands of a batch succeed or fail independently, each with its own result, in order.
@Test func batchResultsAreIndependent() {
    var h = queueHarness()
    let good = Command.publish(
        PublishRequest(namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1])]))
    let bad = Command.publish(
        PublishRequest(namespace: "ns", target: .queue("none"), messages: [OutgoingMessage(body: [1])]))
    guard case .batch(let results) = h.ok(.batch([good, bad, good])) else {
        Issue.record("batch returned something else")
        return
    }
    #expect(results.count == 3)
    #expect(results[0].error == nil && results[1].error?.code == .queueNotFound && results[2].error == nil)
    #expect(h.stats("q").ready == 2)
    #expect(h.events == [.messagesAvailable(namespace: "ns", queue: "q", ready: 2)])
    #expect(h.code(.batch([.batch([.batch([.tick])])])) == nil)  // inner depth error is a sub-result
}
