import SkiffClient
import SkiffWire
import Testing

@Suite(.timeLimit(.minutes(3))) struct TopicAndTransactionTests {
    /// A group consumer reads every partition, commits the position after what it handed out, and a rewind
    /// to earliest makes a new consumer read everything again.
    @Test func groupConsumerCommitsAndRewinds() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        for index in 0..<6 {
            let position = try await client.produce([UInt8(index)], to: "t", partition: UInt32(index % 2))
            #expect(position.partition == UInt32(index % 2))
        }
        var values: [UInt8] = []
        let consumer = client.groupConsumer(topic: "t", group: "g")
        for try await item in consumer {
            values.append(item.record.value[0])
            if values.count == 6 { break }
        }
        try await consumer.commit()
        #expect(values.sorted() == [0, 1, 2, 3, 4, 5])
        let offsets = try await client.groupOffsets(group: "g", topic: "t")
        #expect(offsets.partitions.map(\.committed) == [Offset(3), Offset(3)])
        #expect(offsets.partitions.allSatisfy { $0.lag == 0 })

        try await client.resetOffsets(group: "g", topic: "t", to: .earliest)
        let again = client.groupConsumer(topic: "t", group: "g", autoCommit: false)
        var replayed = 0
        for try await _ in again {
            replayed += 1
            if replayed == 6 { break }
        }
        #expect(replayed == 6)
        let untouched = try await client.groupOffsets(group: "g", topic: "t")
        #expect(
            untouched.partitions.map(\.committed) == [Offset(0), Offset(0)], "manual mode commits nothing by itself")
    }

    /// `withTransaction` commits what the body staged, and aborts (storing nothing) when the body throws.
    @Test func transactionsCommitOrAbort() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        try await client.withTransaction { transaction in
            try await transaction.publish([OutgoingMessage(body: [1]), OutgoingMessage(body: [2])], to: .queue("q"))
        }
        #expect(cluster.state.withLockedValue { $0.messages.map(\.body) } == [[1], [2]])
        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            try await client.withTransaction { transaction in
                try await transaction.publish([OutgoingMessage(body: [3])], to: .queue("q"))
                throw Failure()
            }
        }
        #expect(cluster.state.withLockedValue { $0.messages.count } == 2)
        #expect(cluster.state.withLockedValue { $0.aborted.count } == 1)
    }

    /// Staged publishes carry the transaction producer's id and staging sequences 1, 2, ... so that the broker
    /// can recognise a resend after a lost reply.
    @Test func stagedPublishesAreStamped() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let transaction = try await client.beginTransaction()
        try await transaction.publish([OutgoingMessage(body: [1])], to: .queue("q"))
        try await transaction.publish([OutgoingMessage(body: [2]), OutgoingMessage(body: [3])], to: .queue("q"))
        let stamps = cluster.state.withLockedValue { $0.transactions[transaction.id]?.map(\.producer) }
        let producer = try await client.producerID()
        #expect(
            stamps
                == [
                    ProducerStamp(producerID: producer, sequence: SequenceNumber(rawValue: 1)),
                    ProducerStamp(producerID: producer, sequence: SequenceNumber(rawValue: 2)),
                ])
        try await transaction.commit()
        #expect(cluster.state.withLockedValue { $0.messages.map(\.body) } == [[1], [2], [3]])
    }
}

@Suite(.timeLimit(.minutes(3))) struct ConsumerTests {
    /// A nacked delivery comes back with a raised delivery count, and a lease extension is accepted; the same
    /// when the server pushes deliveries in batches.
    @Test(arguments: [false, true]) func nackRedeliversWithHigherCount(batched: Bool) async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { $0.batchDeliveries = batched }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        try await client.publish([9], to: "q")
        var counts: [UInt32] = []
        for try await delivery in client.consume(queue: "q", prefetch: 1) {
            counts.append(delivery.deliveryCount)
            try await delivery.extendLease(byMs: 1_000)
            if counts.count == 1 {
                try await delivery.nack()
            } else {
                try await delivery.ack()
                break
            }
        }
        #expect(counts == [1, 2])
        #expect(cluster.state.withLockedValue { $0.messages.allSatisfy(\.acked) })
    }

    /// A delivery whose lease already ended when the application asks for it is skipped (the broker may have
    /// given the message to another consumer meanwhile); the next live delivery is handed out instead, also
    /// when both arrive in one batch.
    @Test(arguments: [false, true]) func expiredDeliveryIsSkipped(batched: Bool) async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { $0.batchDeliveries = batched }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        try await client.publish([1], to: "q")
        try await client.publish([2], to: "q")
        cluster.state.withLockedValue { $0.messages[0].leaseExpiresAtMs = 1 }
        for try await delivery in client.consume(queue: "q", prefetch: 2) {
            #expect(delivery.body == [2])
            try await delivery.ack()
            break
        }
        #expect(cluster.state.withLockedValue { $0.messages.map(\.acked) } == [false, true])
    }

    /// Closing the client fails pending calls with `.closed` and ends consumers with the same error.
    @Test func closeEndsEverything() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { $0.swallow = [.queueDeclare] }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        let consumer = client.consume(queue: "q")
        let pending = Task { try await client.declareQueue("q") }
        let iteration = Task {
            for try await _ in consumer {}
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        client.close()
        await #expect {
            try await pending.value
        } throws: { ($0 as? SkiffClientError)?.kind == .closed }
        await #expect {
            try await iteration.value
        } throws: { _ in true }
        await #expect {
            try await client.ping()
        } throws: { ($0 as? SkiffClientError)?.kind == .closed }
    }
}
