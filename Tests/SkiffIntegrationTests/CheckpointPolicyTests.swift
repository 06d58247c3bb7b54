import Foundation
import SkiffClient
import Testing

@Suite(.serialized) struct CheckpointPolicyTests {
    /// The Raft core's compaction hint (every `max(1000, log_retain_entries)` applied entries) is not a
    /// checkpoint trigger of its own: with the byte and time triggers far away, 2,500 one-at-a-time publishes
    /// (one entry each, two hints) write no checkpoint on any node. Before, each hint forced one on every node
    /// at once, which stalled the publish path (docs/benchmarks.md, "Latency at 1000 msg/s").
    @Test(.timeLimit(.minutes(2))) func compactionHintsDoNotForceCheckpoints() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        cluster.environment = [
            "SKIFF_STORAGE_LOG_RETAIN_ENTRIES": "0", "SKIFF_STORAGE_CHECKPOINT_INTERVAL_MS": "600000",
        ]
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "hints")
        for i in 0..<2_500 { try await client.publish(Array("m\(i)".utf8), to: "hints") }
        let target = try #require(cluster.applied(leader))
        #expect(target >= 2_500, "each publish was its own entry, so the core gave at least two hints")
        for node in 1...3 {
            // 60 s, not the default 20: in CI this runs beside CPU-bound suites, and once a follower took longer.
            try cluster.waitForApplied(node, atLeast: target, timeout: 60)
            let checkpoints = try #require(metric("skiff_checkpoints_total", node: node, cluster))
            #expect(checkpoints == 0, "node \(node) wrote \(checkpoints) checkpoints")
        }
    }

    /// A counter's value from a node's `/metrics`.
    private func metric(_ name: String, node: Int, _ cluster: ClusterHarness) -> Double? {
        guard let text = httpGet(port: cluster.ports[node]!.admin, path: "/metrics") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }
}
