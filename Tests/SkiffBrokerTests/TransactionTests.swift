import Testing

@testable import SkiffBroker

extension Harness {
    mutating func producer(group: String = "pg") -> ProducerID {
        guard case .producer(let id) = ok(.initProducer(producerGroup: group)) else {
            preconditionFailure("no producer")
        }
        return id
    }

    mutating func begin(_ producer: ProducerID, timeoutMs: Int64 = 10_000) -> TransactionID {
        guard case .transaction(let id) = ok(.beginTransaction(producer: producer, timeoutMs: timeoutMs)) else {
            preconditionFailure("no transaction")
        }
        return id
    }
}

private func stamped(_ body: String, _ producer: ProducerID, _ sequence: UInt64, queue: String = "q") -> Command {
    .publish(
        PublishRequest(
            namespace: "ns", target: .queue(queue), messages: [OutgoingMessage(body: Array(body.utf8))],
            producer: ProducerStamp(producer: producer, sequence: sequence)))
}

/// A retried publish gets the original receipt and is stored once; gaps, stale and unknown producers are errors.
@Test func idempotentProducer() {
    var h = queueHarness([("q", QueueArguments()), ("other", QueueArguments())])
    let producer = h.producer()
    let first = h.ok(stamped("a", producer, 0))
    #expect(h.ok(stamped("a", producer, 0)) == first)
    #expect(h.stats("q").ready == 1)
    #expect(h.code(stamped("c", producer, 2)) == .sequenceGap)
    h.ok(stamped("b", producer, 1))
    #expect(h.code(stamped("x", producer, 5, queue: "other")) == .sequenceGap)
    h.ok(stamped("x", producer, 0, queue: "other"))
    for sequence in 2..<UInt64(2 + BrokerLimits.producerResultWindow) { h.ok(stamped("n", producer, sequence)) }
    #expect(h.code(stamped("a", producer, 0)) == .staleSequence)
    #expect(h.code(stamped("a", ProducerID(999), 0)) == .producerNotFound)
    #expect(h.stats("q").ready == UInt64(2 + BrokerLimits.producerResultWindow))
}

/// A failed stamped publish does not consume its sequence number.
@Test func failedPublishKeepsSequence() {
    var h = queueHarness([("q", QueueArguments(maxLength: 1, overflow: .rejectPublish))])
    let producer = h.producer()
    h.ok(stamped("a", producer, 0))
    #expect(h.code(stamped("b", producer, 1)) == .queueFull)
    let got = h.receive("q")
    h.ok(.ack(namespace: "ns", queue: "q", leases: got.map(\.lease)))
    h.ok(stamped("b", producer, 1))
}

/// Nothing in a transaction is visible before commit; commit applies queue, topic and offset operations at once.
@Test func transactionCommit() {
    var h = queueHarness()
    h.ok(.createTopic(namespace: "ns", topic: "in", arguments: TopicArguments(partitions: 1)))
    h.ok(.createTopic(namespace: "ns", topic: "out", arguments: TopicArguments(partitions: 1)))
    h.ok(.append(AppendRequest(namespace: "ns", topic: "in", records: [OutgoingRecord(value: [1])])))
    let group = GroupRef(namespace: "ns", topic: "in", group: "g")
    h.ok(.joinGroup(group, member: "m", sessionTimeoutMs: 60_000))
    let txn = h.begin(h.producer())
    h.ok(
        .transactionPublish(
            txn, PublishRequest(namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1])])))
    h.ok(.transactionAppend(txn, AppendRequest(namespace: "ns", topic: "out", records: [OutgoingRecord(value: [2])])))
    let offsets = OffsetCommit(
        group: group, member: "m", generation: 1, offsets: [PartitionOffset(partition: 0, offset: Offset(1))])
    h.ok(.transactionCommitOffsets(txn, offsets))
    #expect(h.stats("q").ready == 0)
    #expect(try! h.machine.topicInfo(namespace: "ns", topic: "out").endOffsets == [Offset(0)])
    #expect(try! h.machine.groupInfo(group).committed == [nil])
    #expect(h.ok(.commitTransaction(txn)) == .count(3))
    #expect(h.stats("q").ready == 1)
    #expect(try! h.machine.topicInfo(namespace: "ns", topic: "out").endOffsets == [Offset(1)])
    #expect(try! h.machine.groupInfo(group).committed == [Offset(1)])
    #expect(h.ok(.commitTransaction(txn)) == .none)
    #expect(h.code(.abortTransaction(txn)) == .transactionCommitted)
    #expect(
        h.code(.transactionPublish(txn, PublishRequest(namespace: "ns", target: .queue("q"), messages: [])))
            == .transactionCommitted)
}

/// Abort and timeout discard everything; later commits are refused as aborted.
@Test func transactionAbortAndTimeout() {
    var h = queueHarness()
    let producer = h.producer()
    let one = h.begin(producer)
    h.ok(
        .transactionPublish(
            one, PublishRequest(namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1])])))
    h.ok(.abortTransaction(one))
    #expect(h.code(.commitTransaction(one)) == .transactionAborted)
    let two = h.begin(producer, timeoutMs: 500)
    h.ok(
        .transactionPublish(
            two, PublishRequest(namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [2])])))
    h.ok(.tick, at: h.time + 500)
    #expect(h.events.contains(.transactionTimedOut(two, producer: producer)))
    #expect(h.code(.commitTransaction(two)) == .transactionAborted)
    #expect(h.stats("q").ready == 0)
    #expect(h.code(.commitTransaction(TransactionID(77))) == .transactionNotFound)
}

/// A commit whose operations no longer fit changes nothing and leaves the transaction open for an abort.
@Test func transactionCommitValidationIsAtomic() {
    var h = queueHarness([("q", QueueArguments()), ("small", QueueArguments(maxLength: 2, overflow: .rejectPublish))])
    let txn = h.begin(h.producer())
    let one = PublishRequest(namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(body: [1])])
    let two = PublishRequest(
        namespace: "ns", target: .queue("small"), messages: [OutgoingMessage(body: [1]), OutgoingMessage(body: [2])])
    h.ok(.transactionPublish(txn, one))
    h.ok(.transactionPublish(txn, two))
    h.ok(.transactionPublish(txn, two))
    let before = h.machine.stateHash()
    #expect(h.code(.commitTransaction(txn)) == .queueFull)
    #expect(h.stats("q").ready == 0 && h.stats("small").ready == 0)
    h.ok(.abortTransaction(txn))
    #expect(before != h.machine.stateHash())
}

/// Half messages stay invisible until committed; rollback discards; unknown keeps checking.
@Test func halfMessageCommitAndRollback() {
    var h = queueHarness()
    let prepare = HalfPrepare(
        namespace: "ns", target: .queue("q"), message: OutgoingMessage(id: "order-1", body: [1]), producerGroup: "pg",
        checkIntervalMs: 1_000, maxChecks: 3)
    guard case .halfMessage(let half) = h.ok(.prepareHalfMessage(prepare)) else { return }
    #expect(h.stats("q").ready == 0)
    h.ok(.resolveHalfMessage(half, .unknown))
    guard case .published = h.ok(.resolveHalfMessage(half, .commit)) else {
        Issue.record("commit did not publish")
        return
    }
    #expect(h.receive("q").map(\.id) == ["order-1"])
    #expect(h.code(.resolveHalfMessage(half, .commit)) == .halfMessageNotFound)
    guard case .halfMessage(let second) = h.ok(.prepareHalfMessage(prepare)) else { return }
    h.ok(.resolveHalfMessage(second, .rollback))
    #expect(h.stats("q").ready == 0)
}

/// Unresolved half messages produce a checkback per interval, then roll back after maxChecks checks. Each
/// checkback carries the prepared message (body, headers, priority) for the producer's checker.
@Test func halfMessageCheckback() {
    var h = queueHarness()
    let message = OutgoingMessage(id: "o", body: [1, 2, 3], headers: [Header("order", "42")], priority: 4)
    let prepare = HalfPrepare(
        namespace: "ns", target: .queue("q"), message: message, producerGroup: "pg", checkIntervalMs: 1_000,
        maxChecks: 2)
    guard case .halfMessage(let half) = h.ok(.prepareHalfMessage(prepare), at: 1_000) else { return }
    h.ok(.tick, at: 1_999)
    #expect(h.events.isEmpty)
    h.ok(.tick, at: 2_000)
    h.ok(.tick, at: 3_000)
    let checks = h.events.compactMap { event -> UInt32? in
        if case .checkback(let check) = event, check.half == half, check.producerGroup == "pg", check.messageID == "o",
            check.message == message
        {
            return check.check
        }
        return nil
    }
    #expect(checks == [1, 2])
    h.ok(.tick, at: 4_000)
    #expect(h.events.last == .halfMessageRolledBack(half, producerGroup: "pg"))
    #expect(h.code(.resolveHalfMessage(half, .commit)) == .halfMessageNotFound)
    #expect(h.machine.pendingHalfMessages(producerGroup: "pg").isEmpty)
}

/// A resent staged publish or append (same staging sequence) is staged once, so the commit stores it once;
/// a sequence beyond the next one is a gap and a stamp of another producer is refused.
@Test func transactionStagingIsIdempotent() {
    var h = queueHarness()
    h.ok(.createTopic(namespace: "ns", topic: "out", arguments: TopicArguments(partitions: 1)))
    let producer = h.producer()
    let other = h.producer(group: "other")
    let txn = h.begin(producer)
    func publish(_ sequence: UInt64, by stamp: ProducerID) -> Command {
        .transactionPublish(
            txn,
            PublishRequest(
                namespace: "ns", target: .queue("q"), messages: [OutgoingMessage(id: "m\(sequence)", body: [1])],
                producer: ProducerStamp(producer: stamp, sequence: sequence)))
    }
    let append = Command.transactionAppend(
        txn,
        AppendRequest(
            namespace: "ns", topic: "out", records: [OutgoingRecord(value: [2])],
            producer: ProducerStamp(producer: producer, sequence: 1)))
    h.ok(publish(0, by: producer))
    h.ok(publish(0, by: producer))
    #expect(h.code(publish(2, by: producer)) == .sequenceGap)
    #expect(h.code(publish(1, by: other)) == .invalidArgument)
    h.ok(append)
    h.ok(append)
    h.ok(publish(0, by: producer))
    #expect(h.ok(.commitTransaction(txn)) == .count(2))
    #expect(h.ok(.commitTransaction(txn)) == .none)
    #expect(h.stats("q").ready == 1)
    #expect(try! h.machine.topicInfo(namespace: "ns", topic: "out").endOffsets == [Offset(1)])
}

/// A resent half-message prepare (same message id, still open) answers with the open half instead of a second.
@Test func halfPrepareResendIsIdempotent() {
    var h = queueHarness()
    let prepare = HalfPrepare(
        namespace: "ns", target: .queue("q"), message: OutgoingMessage(id: "order-9", body: [9]), producerGroup: "pg")
    guard case .halfMessage(let first) = h.ok(.prepareHalfMessage(prepare)),
        case .halfMessage(let again) = h.ok(.prepareHalfMessage(prepare))
    else {
        Issue.record("prepare did not answer with a half message")
        return
    }
    #expect(first == again)
    h.ok(.resolveHalfMessage(first, .commit))
    #expect(h.receive("q").map(\.id) == ["order-9"])
    #expect(h.receive("q").isEmpty)
}
