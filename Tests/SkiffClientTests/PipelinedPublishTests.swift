import NIOConcurrencyHelpers
import SkiffClient
import SkiffWire
import Testing

/// The pipelined publish (`publish(_:to:namespace:onConfirm:)`): no task per message, same guarantees.
@Suite struct PipelinedPublishTests {
    /// Confirms collected by the callbacks, and a way to wait until all of them arrived.
    final class Confirms: Sendable {
        let state = NIOLockedValueBox<(ids: [Int: [MessageID]], errors: [Int: String])>(([:], [:]))

        func record(_ index: Int, _ result: Result<[MessageID], any Error>) {
            state.withLockedValue { state in
                switch result {
                case .success(let ids): state.ids[index] = ids
                case .failure(let error): state.errors[index] = "\(error)"
                }
            }
        }

        var count: Int { state.withLockedValue { $0.ids.count + $0.errors.count } }

        /// Polls until `expected` outcomes arrived (bounded by `timeoutMs`).
        func wait(for expected: Int, timeoutMs: Int = 30_000) async throws {
            let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
            while count < expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// The leader dies mid-stream with callback publishes in flight, one stored but unanswered: every callback
    /// runs exactly once with a success, each message is stored once and in call order, and the retries reuse
    /// the stamps first sent to the dead node.
    @Test func leaderCrashMidStreamConfirmsEachPublishOnce() async throws {
        let (cluster, client) = try await clusterWhoseLeaderCrashes(afterPublishes: 60)
        defer { Task { await cluster.shutdown() } }
        defer { client.close() }
        let total = 300
        let confirms = Confirms()
        for index in 0..<total {
            let message = OutgoingMessage(body: Array("m\(index)".utf8))
            try await client.publish([message], to: .queue("q")) { confirms.record(index, $0) }
        }
        try await confirms.wait(for: total)
        let (ids, errors) = confirms.state.withLockedValue { ($0.ids, $0.errors) }
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(ids.count == total)
        #expect(ids.values.allSatisfy { $0.count == 1 })
        let (messages, log) = cluster.state.withLockedValue { ($0.messages, $0.publishLog) }
        #expect(messages.map(\.body) == (0..<total).map { Array("m\($0)".utf8) }, "stored once, in call order")
        let stampsAtDeadNode = Set(log.filter { $0.0 == NodeID(1) }.map { "\($0.1)/\($0.2)" })
        let stampsAtNewLeader = Set(log.filter { $0.0 == NodeID(2) }.map { "\($0.1)/\($0.2)" })
        #expect(!stampsAtDeadNode.intersection(stampsAtNewLeader).isEmpty, "retries reuse the original stamps")
    }

    /// What can be known at once throws from the call and never reaches the callback; a server error reaches
    /// the callback, exactly once.
    @Test func errorsGoToTheRightPlace() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let confirms = Confirms()
        await #expect(throws: SkiffClientError.self) {
            try await client.publish([], to: .queue("q")) { confirms.record(0, $0) }
        }
        await #expect(throws: SkiffClientError.self) {
            try await client.publish([OutgoingMessage(body: [1], priority: 10)], to: .queue("q")) {
                confirms.record(1, $0)
            }
        }
        try await client.publish([OutgoingMessage(body: [1])], to: .queue("q")) { confirms.record(2, $0) }
        try await confirms.wait(for: 1)
        client.close()
        try await client.publish([OutgoingMessage(body: [2])], to: .queue("q")) { confirms.record(3, $0) }
        try await confirms.wait(for: 2)
        let (ids, errors) = confirms.state.withLockedValue { ($0.ids, $0.errors) }
        #expect(Array(ids.keys) == [2])
        #expect(Array(errors.keys) == [3], "the publish on the closed client fails through its callback")
        #expect(confirms.count == 2, "the refused batches never reached a callback")
    }

    /// Publishes the server never answers time out through their callbacks, each once, including one sent after
    /// an earlier one was answered and after a sweep found nothing to expire (the sweep's deadline bound moves).
    @Test func unansweredPublishesTimeOutThroughTheCallback() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(
            seeds: [cluster.address(1)], configuration: testConfiguration(requestTimeoutMs: 1_000))
        defer { client.close() }
        let confirms = Confirms()
        // The first publish also connects and obtains a producer id; retried, because with a 1 s request timeout
        // that can fail while CPU-bound tests in the same process hold every thread. A publish that throws never
        // reaches its callback.
        var sent = false
        for _ in 0..<60 where !sent {
            sent =
                (try? await client.publish([OutgoingMessage(body: [0])], to: .queue("q")) { confirms.record(0, $0) })
                != nil
        }
        try #require(sent)
        try await confirms.wait(for: 1)
        cluster.state.withLockedValue { $0.swallow = [.publish] }
        try await Task.sleep(for: .milliseconds(100))
        for index in 1...3 {
            try await client.publish([OutgoingMessage(body: [UInt8(index)])], to: .queue("q")) {
                confirms.record(index, $0)
            }
        }
        try await confirms.wait(for: 4)
        let (ids, errors) = confirms.state.withLockedValue { ($0.ids, $0.errors) }
        #expect(Array(ids.keys) == [0])
        #expect(errors.keys.sorted() == [1, 2, 3])
        #expect(errors.values.allSatisfy { $0 == "\(SkiffClientError(.timeout))" }, "\(errors)")
    }
}
