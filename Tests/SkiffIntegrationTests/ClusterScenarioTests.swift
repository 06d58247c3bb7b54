import Foundation
import SkiffClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct ClusterScenarioTests {
    /// 5 nodes: the leader and a follower are SIGKILLed mid-stream; the 3 survivors keep confirming, nothing
    /// confirmed is lost or duplicated, per-producer order holds, and both restarted nodes catch up.
    @Test(.timeLimit(.minutes(3))) func fiveNodesSurviveTwoKills() async throws {
        let cluster = try ClusterHarness(nodes: 5)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let follower = (1...5).first { $0 != leader }!
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "five")

        let total = 10_000
        let confirmed = try await publishWithFailover(
            client: client, queue: "five", count: total, lanes: 500, killAfter: total / 4
        ) {
            cluster.kill9(follower)
            cluster.kill9(leader)
        }
        #expect(confirmed.count == total)
        let newLeader = try cluster.waitForLeader(excluding: [leader])
        let order = try await consumeAll(client: client, queue: "five", expected: total, timeout: 90)
        let delivered = Set(order)
        #expect(order.count == delivered.count, "\(order.count - delivered.count) duplicate deliveries")
        #expect(confirmed.subtracting(delivered).isEmpty, "\(confirmed.subtracting(delivered).count) confirmed lost")
        #expect(laneOrderViolations(order, lanes: 500) == 0)

        try cluster.start(leader)
        try cluster.start(follower)
        let target = try #require(cluster.applied(newLeader))
        try cluster.waitForApplied(leader, atLeast: target, timeout: 60)
        try cluster.waitForApplied(follower, atLeast: target, timeout: 60)
    }

    /// A follower that was down while the leader checkpointed and compacted its log catches up by installing
    /// a snapshot, and then holds the same messages as the others.
    @Test(.timeLimit(.minutes(2))) func laggingFollowerCatchesUpThroughSnapshot() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        cluster.environment = [
            "SKIFF_STORAGE_CHECKPOINT_INTERVAL_MS": "200", "SKIFF_STORAGE_LOG_RETAIN_ENTRIES": "0",
            "SKIFF_STORAGE_SEGMENT_BYTES": "65536",
        ]
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let lagging = (1...3).first { $0 != leader }!
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "snap")
        cluster.kill9(lagging)

        let confirmed = try await publishWithFailover(
            client: client, queue: "snap", count: 3000, lanes: 100, killAfter: .max
        ) {}
        #expect(confirmed.count == 3000)
        // Wait (bounded) until the leader has checkpointed and compacted past everything the lagging node holds.
        let deadline = Date().addingTimeInterval(20)
        while (cluster.clusterJSON(leader)?["first_index"] as? Int ?? 0) <= 10 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect((cluster.clusterJSON(leader)?["first_index"] as? Int ?? 0) > 10, "the leader never compacted its log")
        try cluster.start(lagging)
        let installDeadline = Date().addingTimeInterval(30)
        while !cluster.log(lagging).contains("installed snapshot") && Date() < installDeadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(cluster.log(lagging).contains("installed snapshot"), "the lagging node caught up without a snapshot")
        let target = try #require(cluster.applied(leader))
        try cluster.waitForApplied(lagging, atLeast: target, timeout: 60)
        // The snapshot holds the queue: after the others stop, the caught-up node serves every message.
        for n in 1...3 where n != lagging { cluster.stop(n) }
        for n in 1...3 where n != lagging { try cluster.start(n) }
        _ = try cluster.waitForLeader()
        let order = try await consumeAll(client: client, queue: "snap", expected: 3000, timeout: 60)
        #expect(Set(order) == confirmed)
    }

    /// Membership while publishing: 3 nodes grow to 5, one node is removed, leadership moves to a new node;
    /// every confirmed message is still consumed exactly once.
    @Test(.timeLimit(.minutes(3))) func membershipChangesWhilePublishing() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.reservePorts(for: 4)
        try cluster.reservePorts(for: 5)
        for n in 1...3 { try cluster.start(n, members: [1, 2, 3]) }
        _ = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "members")

        let publishing = Task {
            try await publishWithFailover(client: client, queue: "members", count: 6000, lanes: 50, killAfter: .max) {}
        }
        for n in [4, 5] {
            try cluster.start(n, members: Array(1...n), join: true)
            let p = cluster.ports[n]!
            try await client.addNode(
                id: NodeID(UInt64(n)), peerAddress: "127.0.0.1:\(p.peer)", clientAddress: "127.0.0.1:\(p.client)")
        }
        let info = try await client.clusterInfo()
        #expect(info.members.count == 5)
        let leader = info.leaderID
        let removed = (1...3).first { NodeID(UInt64($0)) != leader }!
        try await client.removeNode(id: NodeID(UInt64(removed)))
        try await client.transferLeader(to: NodeID(4))
        let confirmed = try await publishing.value
        #expect(confirmed.count == 6000)

        let after = try await client.clusterInfo()
        #expect(after.members.count == 4)
        #expect(!after.members.contains { $0.id == NodeID(UInt64(removed)) })
        #expect(after.leaderID == NodeID(4))
        let order = try await consumeAll(client: client, queue: "members", expected: 6000, timeout: 60)
        #expect(order.count == Set(order).count)
        #expect(Set(order) == confirmed)
        try cluster.waitForApplied(5, atLeast: cluster.applied(4) ?? 0, timeout: 30)
    }

    /// `skiff node repair` wipes a stopped node's log; restarted as it is, with no membership change, the node
    /// catches up from the leader (which sees that it holds less than it acknowledged) and trusts its log again,
    /// and the cluster kept serving throughout.
    @Test(.timeLimit(.minutes(2))) func repairedNodeCatchesUpAfterRestart() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let repaired = (1...3).first { $0 != leader }!
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "repair")
        _ = try await publishWithFailover(client: client, queue: "repair", count: 300, lanes: 30, killAfter: .max) {}
        cluster.stop(repaired)

        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: cluster.binary)
        tool.arguments = ["node", "repair", "--data-dir", cluster.directory + "/node\(repaired)"]
        tool.standardOutput = FileHandle.nullDevice
        try tool.run()
        tool.waitUntilExit()
        #expect(tool.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: cluster.directory + "/node\(repaired)/REPAIR_PENDING"))

        try cluster.start(repaired)
        _ = try await publishWithFailover(client: client, queue: "repair", count: 50, lanes: 5, killAfter: .max) {}
        let target = try #require(cluster.applied(cluster.waitForLeader()))
        try cluster.waitForApplied(repaired, atLeast: target, timeout: 30)
        let deadline = Date().addingTimeInterval(10)
        while cluster.clusterJSON(repaired)?["log_untrusted"] as? Bool != false && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(cluster.clusterJSON(repaired)?["log_untrusted"] as? Bool == false)
        #expect(!FileManager.default.fileExists(atPath: cluster.directory + "/node\(repaired)/REPAIR_PENDING"))
    }

    /// A follower answers a topic fetch from its own applied state (no NOT_LEADER), with the records the
    /// leader acknowledged.
    @Test(.timeLimit(.minutes(1))) func followerServesTopicFetch() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "unused")
        try await client.createTopic("events", config: TopicConfig(partitions: 2))
        for i in 0..<20 { try await client.produce(Array("e\(i)".utf8), to: "events", partition: 1) }
        let target = try #require(cluster.applied(leader))
        let follower = (1...3).first { $0 != leader }!
        try cluster.waitForApplied(follower, atLeast: target)

        let raw = try #require(RawWireConnection(port: cluster.ports[follower]!.client))
        #expect(raw.handshake())
        let fetch = FetchRequest(
            topic: ObjectName(namespace: "default", name: "events"), partition: 1, offset: Offset(0), maxRecords: 100,
            maxBytes: 1 << 20)
        raw.send(.fetch(fetch))
        guard case .fetched(let result)? = raw.receiveResponse() else {
            Issue.record("follower did not answer the fetch with records")
            return
        }
        #expect(result.records.map { String(decoding: $0.value, as: UTF8.self) } == (0..<20).map { "e\($0)" })
        #expect(result.highWatermark == Offset(20))
    }

    /// Hostile input over the socket: random bytes and a huge length prefix get an error frame and a closed
    /// connection; a half frame then silence is closed by the idle timeout. The node keeps serving.
    @Test(.timeLimit(.minutes(1))) func badInputIsRefusedAndNodeKeepsServing() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        cluster.environment = ["SKIFF_CLIENT_IDLE_TIMEOUT_MS": "500"]
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let port = cluster.ports[leader]!.client

        var generator = SystemRandomNumberGenerator()
        let garbage = try #require(RawWireConnection(port: port))
        #expect(
            garbage.send(bytes: [0, 0, 0, 40] + (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        #expect(isErrorResponse(garbage.receiveResponse()))
        #expect(garbage.closedByPeer())

        let huge = try #require(RawWireConnection(port: port))
        #expect(huge.send(bytes: [0xFF, 0xFF, 0xFF, 0xF0]))
        let hugeAnswer = huge.receiveResponse()
        #expect(isErrorResponse(hugeAnswer), "got \(String(describing: hugeAnswer))")
        #expect(huge.closedByPeer())

        let half = try #require(RawWireConnection(port: port))
        #expect(half.handshake())
        #expect(half.send(bytes: [0, 0, 0, 64, 1, 0]))
        let started = Date()
        #expect(half.closedByPeer())
        #expect(Date().timeIntervalSince(started) < 3)

        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "still-serving")
        let id = try await client.publish(Array("alive".utf8), to: "still-serving")
        #expect(id != MessageID(0))
    }
}

func isErrorResponse(_ response: Response?) -> Bool {
    if case .error? = response { return true }
    return false
}
