import Foundation
import SkiffClient
import Testing

@Suite(.serialized) struct BlockReplicationTests {
    /// Real processes replicate the leader's log blocks: after a stream of concurrent publishes every
    /// follower's segment files are byte-for-byte the leader's, so block boundaries and contents agree. (That
    /// followers write the received bytes instead of re-encoding them is proven by `BlockShipperTests`.)
    @Test(.timeLimit(.minutes(2))) func followersHoldTheLeadersBytes() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "blocks")
        let total = 3_000
        let lanes = 100
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    for i in stride(from: lane, to: total, by: lanes) {
                        let body = "m\(i) " + String(repeating: "block payload \(i % 13) ", count: 40)
                        try await client.publish(Array(body.utf8), to: "blocks")
                    }
                }
            }
            try await group.waitForAll()
        }
        let target = try #require(cluster.applied(leader))
        for node in 1...3 { try cluster.waitForApplied(node, atLeast: target) }
        // Followers first: a stopping leader hands leadership over, and the next leader would append a new
        // term's entry that only some nodes get. The leader may still append (timers) after they stopped, so each
        // follower's segment must be a prefix of the leader's.
        for node in 1...3 where node != leader { cluster.stop(node) }
        cluster.stop(leader)

        let leaderSegments = try segments(of: leader, in: cluster)
        for node in 1...3 where node != leader {
            let followerSegments = try segments(of: node, in: cluster)
            #expect(followerSegments.keys.sorted() == leaderSegments.keys.sorted())
            #expect(followerSegments.values.reduce(0) { $0 + $1.count } > 20_000, "the stream reached the log")
            for (name, bytes) in followerSegments {
                let leaderBytes = leaderSegments[name] ?? Data()
                #expect(leaderBytes.prefix(bytes.count) == bytes, "node \(node) \(name) differs from the leader's")
            }
        }
    }

    private func segments(of node: Int, in cluster: ClusterHarness) throws -> [String: Data] {
        let directory = cluster.directory + "/node\(node)/log"
        var result: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix("seg-") {
            result[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return result
    }
}
