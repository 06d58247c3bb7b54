import NIOConcurrencyHelpers
import SkiffClient
import SkiffWire
import Testing

/// A configuration for tests: quick reconnects, and request, connect and handshake timeouts long enough to ride
/// out CPU starvation. These tests share one process with CPU-bound fuzz and property tests that can occupy
/// every thread of the cooperative pool for tens of seconds on a 2-core machine; a test that expects a call to
/// succeed must not fail because its continuation was not scheduled in time. Tests of timeouts pass their own.
/// A two-node fake cluster whose leader (node 1) crashes after `afterPublishes` publishes and node 2 takes over,
/// with a client seeded with both. The caller shuts both down.
func clusterWhoseLeaderCrashes(afterPublishes: Int) async throws -> (FakeCluster, SkiffClient) {
    let cluster = try await FakeCluster.start(nodes: 2, leader: 1)
    cluster.state.withLockedValue { state in
        state.crashLeaderAfterPublishes = afterPublishes
        state.successor = NodeID(2)
    }
    let client = try SkiffClient(seeds: [cluster.address(1), cluster.address(2)], configuration: testConfiguration())
    return (cluster, client)
}

func testConfiguration(
    requestTimeoutMs: Int64 = 90_000, pingIntervalMs: Int64 = 5_000, handshakeTimeoutMs: Int64 = 5_000
) -> SkiffClient.Configuration {
    SkiffClient.Configuration(
        clientID: "test", requestTimeoutMs: requestTimeoutMs, connectTimeoutMs: 5_000,
        handshakeTimeoutMs: handshakeTimeoutMs,
        reconnectBackoffInitialMs: 5, reconnectBackoffMaxMs: 50, pingIntervalMs: pingIntervalMs)
}

@Suite(.timeLimit(.minutes(3))) struct FailoverTests {
    /// A client seeded only with a follower finds the leader through the hello hint and publishes there.
    @Test func discoversLeaderFromFollowerSeed() async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 2)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let id = try await client.publish([1, 2, 3], to: "q")
        #expect(id == MessageID(1))
        let log = cluster.state.withLockedValue { $0.publishLog }
        #expect(log.map(\.0) == [NodeID(2)])
        #expect(cluster.state.withLockedValue { $0.messages.map(\.body) } == [[1, 2, 3]])
    }

    /// Cluster status comes from the leader even when only a follower is a seed, and from a seed when no
    /// leader is known.
    @Test func clusterInfoPrefersTheLeaderView() async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 2)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let info = try await client.clusterInfo()
        #expect(info.respondingNode == NodeID(2) && info.leaderID == NodeID(2))
        #expect(info.members.map(\.id) == [NodeID(1), NodeID(2)])
        cluster.state.withLockedValue { $0.leader = .none }
        let leaderless = try await client.clusterInfo()
        #expect(leaderless.respondingNode == NodeID(1) && leaderless.leaderID == .none)
    }

    /// When the leader steps down, the next publish is answered NOT_LEADER and resent to the new leader with
    /// the same producer id and sequence number.
    @Test func followsNotLeaderWithSameStamp() async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        try await client.publish([1], to: "q")
        cluster.state.withLockedValue { $0.leader = NodeID(2) }
        try await client.publish([2], to: "q")
        let log = cluster.state.withLockedValue { $0.publishLog }
        #expect(log.count == 3)
        #expect(log[1].0 == NodeID(1) && log[2].0 == NodeID(2))
        #expect(log[1].1 == log[2].1, "the retry must carry the same producer id")
        #expect(log[1].2 == SequenceNumber(2) && log[2].2 == SequenceNumber(2), "and the same sequence")
        #expect(cluster.state.withLockedValue { $0.notLeaderCount } == 1)
        #expect(cluster.state.withLockedValue { $0.messages.map(\.body) } == [[1], [2]])
    }

    /// The leader dies mid-stream with pipelined publishes in flight, one of them stored but unanswered:
    /// every publish is confirmed, stored exactly once and in call order, and the retries carry the stamps
    /// first sent to the dead node.
    @Test func leaderCrashMidStreamStoresEachPublishOnce() async throws {
        let (cluster, client) = try await clusterWhoseLeaderCrashes(afterPublishes: 60)
        defer { Task { await cluster.shutdown() } }
        defer { client.close() }
        let total = 300
        let window = 50
        // At most `window` publishes are unconfirmed at once, like the bench.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                if index >= window { try await group.next() }
                let body = Array("m\(index)".utf8)
                group.addTask { try await client.publish(body, to: "q") }
                await Task.yield()
            }
            try await group.waitForAll()
        }
        let (messages, log, duplicates) = cluster.state.withLockedValue {
            ($0.messages, $0.publishLog, $0.duplicatesAnswered)
        }
        #expect(messages.count == total)
        #expect(Set(messages.map(\.body)).count == total, "no message stored twice")
        let stampsAtDeadNode = Set(log.filter { $0.0 == NodeID(1) }.map { "\($0.1)/\($0.2)" })
        let stampsAtNewLeader = Set(log.filter { $0.0 == NodeID(2) }.map { "\($0.1)/\($0.2)" })
        #expect(!stampsAtDeadNode.intersection(stampsAtNewLeader).isEmpty, "retries reuse the original stamps")
        #expect(duplicates >= 1, "the stored-but-unanswered publish is acknowledged as a duplicate")
        #expect(Set(log.map(\.1)).count == 1, "one producer id throughout")
    }

    /// The leader keeps storing but stops answering for a while, then dies: retries older than the broker's
    /// result window come back DUPLICATE and still count as confirmed; nothing is stored twice.
    @Test func forgottenDuplicatesCountAsConfirmed() async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { state in
            state.muteAfterPublishes = 40
            state.crashLeaderAfterPublishes = 70
            state.successor = NodeID(2)
        }
        let client = try SkiffClient(
            seeds: [cluster.address(1), cluster.address(2)], configuration: testConfiguration())
        defer { client.close() }
        let ids = try await withThrowingTaskGroup(of: MessageID.self) { group in
            for index in 0..<120 {
                group.addTask { try await client.publish(Array("m\(index)".utf8), to: "q") }
            }
            return try await group.reduce(into: [MessageID]()) { $0.append($1) }
        }
        let state = cluster.state.withLockedValue { $0 }
        #expect(ids.count == 120)
        #expect(state.messages.count == 120)
        #expect(Set(state.messages.map(\.body)).count == 120)
        #expect(state.errorsAnswered[.duplicate, default: 0] >= 1, "some retries fell outside the window")
        #expect(ids.contains(MessageID(0)), "their ids are unknown")
    }

    /// A publish that fails for good consumes no sequence number at the broker; the pipelined publishes
    /// behind it are renumbered and stored once, in order.
    @Test func failedPublishRewindsSequences() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue {
            $0.rejectedBodies = [Array("m5".utf8)]
            $0.rejectionDelayMs = 300
        }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        try await client.publish(Array("first".utf8), to: "q")
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<20 {
                group.addTask { (index, (try? await client.publish(Array("m\(index)".utf8), to: "q")) != nil) }
                await Task.yield()
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { !$0.value }.map(\.key) == [5])
        let stored = cluster.state.withLockedValue { $0.messages.map { String(decoding: $0.body, as: UTF8.self) } }
        #expect(stored.count == 20)
        #expect(Set(stored).count == 20)
        #expect(!stored.contains("m5"))
        #expect(cluster.state.withLockedValue { $0.errorsAnswered[.sequenceGap, default: 0] } >= 1)
    }

    /// A leader that hangs (open connection, no answers) is detected by the keepalive ping; the pending
    /// publish moves to the new leader without any TCP error.
    @Test func hungLeaderDetectedByPing() async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(
            seeds: [cluster.address(1), cluster.address(2)],
            configuration: testConfiguration(pingIntervalMs: 100, handshakeTimeoutMs: 500))
        defer { client.close() }
        try await client.publish([1], to: "q")
        cluster.node(1).hung.withLockedValue { $0 = true }
        cluster.state.withLockedValue { $0.leader = NodeID(2) }
        let start = ContinuousClock.now
        try await client.publish([2], to: "q")
        // Detected by the unanswered ping (0.1 s interval, 0.5 s timeout), not by the 90 s request timeout; the
        // bound is loose because this process also runs CPU-bound tests.
        #expect(ContinuousClock.now - start < .seconds(30))
        let log = cluster.state.withLockedValue { $0.publishLog }
        #expect(log.last?.0 == NodeID(2))
        #expect(cluster.state.withLockedValue { $0.messages.map(\.body) } == [[1], [2]])
    }

    /// A consumer keeps receiving after the leader dies: unacked deliveries come back from the new leader
    /// and every message is eventually acked; the same when deliveries arrive in batches (several per push).
    @Test(arguments: [false, true]) func consumerResubscribesAfterLeaderCrash(batched: Bool) async throws {
        let cluster = try await FakeCluster.start(nodes: 2, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue {
            $0.successor = NodeID(2)
            $0.batchDeliveries = batched
        }
        let client = try SkiffClient(
            seeds: [cluster.address(1), cluster.address(2)], configuration: testConfiguration())
        defer { client.close() }
        for index in 0..<10 { try await client.publish([UInt8(index)], to: "q") }
        var seen: Set<[UInt8]> = []
        var redelivered = 0
        var received = 0
        for try await delivery in client.consume(queue: "q", prefetch: 3) {
            received += 1
            if delivery.deliveryCount > 1 { redelivered += 1 }
            if received == 4 {
                await cluster.crashLeader()  // this delivery's lease dies with the node
                continue
            }
            try await delivery.ack()
            seen.insert(delivery.body)
            if seen.count == 10 { break }
        }
        #expect(seen.count == 10)
        #expect(redelivered >= 1, "leases of the dead connection are delivered again")
        #expect(cluster.state.withLockedValue { $0.messages.allSatisfy(\.acked) })
    }
}

@Suite(.timeLimit(.minutes(3))) struct ClientErrorTests {
    /// Server errors surface as typed errors with their code.
    @Test func typedServerError() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        await #expect {
            _ = try await client.queueStats("missing")
        } throws: { ($0 as? SkiffClientError)?.code == .unknownQueue }
    }

    /// A request the server never answers fails with `.timeout` after the request timeout.
    @Test func requestTimeout() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { $0.swallow = [.queueDeclare] }
        let client = try SkiffClient(
            seeds: [cluster.address(1)], configuration: testConfiguration(requestTimeoutMs: 1_000))
        defer { client.close() }
        // Connected first, so the declare below is surely sent (retried: with a 1 s request timeout a ping can
        // fail while CPU-bound tests in the same process hold every thread).
        var connected = false
        for _ in 0..<60 where !connected { connected = (try? await client.ping()) != nil }
        try #require(connected)
        let start = ContinuousClock.now
        await #expect {
            try await client.declareQueue("q")
        } throws: { ($0 as? SkiffClientError)?.kind == .timeout }
        // Ends by the 1 s request timeout rather than hanging (loose bound: the process may be starved of CPU).
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    /// Cancelling the calling task ends a pending call at once with CancellationError.
    @Test func cancellation() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        cluster.state.withLockedValue { $0.swallow = [.queueDeclare] }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let task = Task { try await client.declareQueue("q") }
        try await Task.sleep(nanoseconds: 100_000_000)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    /// With no node reachable, a call fails with `.unavailable` once its timeout passes.
    @Test func unavailableWithoutNodes() async throws {
        let client = try SkiffClient(seeds: ["127.0.0.1:1"], configuration: testConfiguration(requestTimeoutMs: 300))
        defer { client.close() }
        await #expect {
            try await client.ping()
        } throws: { error in
            if case .unavailable = (error as? SkiffClientError)?.kind { return true }
            return false
        }
    }

    /// Seeds must be host:port.
    @Test func badSeeds() {
        #expect(throws: SkiffClientError.self) { try SkiffClient(seeds: []) }
        #expect(throws: SkiffClientError.self) { try SkiffClient(seeds: ["nohost"]) }
    }

    /// A checkback pushed by the server reaches the registered checker, whose verdict goes back as a
    /// halfResolve request.
    @Test func halfMessageCheckback() async throws {
        let cluster = try await FakeCluster.start(nodes: 1, leader: 1)
        defer { Task { await cluster.shutdown() } }
        let client = try SkiffClient(seeds: [cluster.address(1)], configuration: testConfiguration())
        defer { client.close() }
        let checked = NIOLockedValueBox<[HalfMessageID]>([])
        client.registerHalfChecker(producerGroup: "orders") { checkback in
            checked.withLockedValue { $0.append(checkback.halfID) }
            return .commit
        }
        let half = try await client.prepareHalf(OutgoingMessage(body: [1]), to: .queue("q"), producerGroup: "orders")
        #expect(half.halfID == HalfMessageID(77))
        let checkback = Checkback(
            halfID: HalfMessageID(5), producerGroup: "orders", namespace: "default", target: .queue("q"),
            message: OutgoingMessage(body: [1]), attempt: 1)
        cluster.node(1).pushCheckback(checkback)
        for _ in 0..<200 where cluster.state.withLockedValue({ $0.resolved.isEmpty }) {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(checked.withLockedValue { $0 } == [HalfMessageID(5)])
        let resolved = cluster.state.withLockedValue { $0.resolved }
        #expect(resolved.count == 1 && resolved[0].0 == HalfMessageID(5) && resolved[0].1 == .commit)
    }
}
