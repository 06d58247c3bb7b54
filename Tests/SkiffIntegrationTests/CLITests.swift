import Foundation
import SkiffClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `skiff` CLI against a real 3-node cluster: the commands and JSON lines the README and issue promise.
@Suite(.serialized) struct CLITests {
    /// Runs `skiff ARGS` against the cluster; returns its exit status and standard output.
    static func run(_ cluster: ClusterHarness, _ arguments: [String]) throws -> (status: Int32, out: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cluster.binary)
        process.arguments = arguments + ["--cluster", cluster.seeds.joined(separator: ",")]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The value of the sample whose name and labels are exactly `series`, if present.
    static func metric(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).split(separator: " ")[0])
        }
        return nil
    }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// `cluster status --json` names the leader and reports every node's own role and term (one leader, all in
    /// the leader's term); `queue create`, `publish --json --count` and `consume --json --count` round-trip
    /// messages with their ids and delivery counts; `consume --nack` raises the delivery count.
    @Test(.timeLimit(.minutes(2))) func statusPublishConsume() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        // Wait until every follower has heard from the leader, so each reports the leader's term.
        for n in 1...3 { try cluster.waitForApplied(n, atLeast: 1) }

        let status = try Self.run(cluster, ["cluster", "status", "--json"])
        #expect(status.status == 0)
        let object = try #require(Self.jsonLines(status.out).first)
        #expect(object["leader"] as? Int == leader)
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.count == 3)
        #expect(nodes.filter { $0["role"] as? String == "leader" }.count == 1)
        let terms = Set(nodes.compactMap { $0["term"] as? Int })
        #expect(terms.count == 1 && (terms.first ?? 0) > 0, "terms \(terms)")
        #expect(nodes.allSatisfy { ($0["applied"] as? Int ?? 0) > 0 })

        #expect(try Self.run(cluster, ["queue", "create", "cli", "--max-deliveries", "5", "--ttl", "1m"]).status == 0)
        let published = try Self.run(cluster, ["publish", "cli", "hello", "--count", "5", "--json"])
        #expect(published.status == 0)
        let ids = Self.jsonLines(published.out).compactMap { $0["id"] as? Int }
        #expect(ids.count == 5)

        let nacked = try Self.run(cluster, ["consume", "cli", "--count", "1", "--nack", "--json"])
        #expect(Self.jsonLines(nacked.out).first?["deliveries"] as? Int == 1)
        let consumed = try Self.run(cluster, ["consume", "cli", "--count", "5", "--json"])
        #expect(consumed.status == 0)
        let deliveries = Self.jsonLines(consumed.out)
        #expect(Set(deliveries.compactMap { $0["id"] as? Int }) == Set(ids))
        #expect(deliveries.allSatisfy { $0["body"] as? String == "hello" })
        #expect(deliveries.compactMap { $0["deliveries"] as? Int }.sorted() == [1, 1, 1, 1, 2])

        let stats = try Self.run(cluster, ["queue", "stats", "cli", "--json"])
        let figures = try #require(Self.jsonLines(stats.out).first)
        #expect(figures["ready"] as? Int == 0)
        #expect(figures["leased"] as? Int == 0)
        // 5 stored; 6 leases granted (one nacked and granted again), none beyond the two --count limits; 5 acked.
        #expect(figures["published"] as? Int == 5)
        #expect(figures["delivered"] as? Int == 6)
        #expect(figures["acked"] as? Int == 5)

        // Every node's /metrics shows the same replicated per-queue counters, plus role, term and fsync latency.
        let target = try #require(cluster.applied(leader))
        for n in 1...3 {
            try cluster.waitForApplied(n, atLeast: target)
            let metrics = httpGet(port: cluster.ports[n]!.admin, path: "/metrics") ?? ""
            #expect(Self.metric(metrics, "skiff_queue_published_total{queue=\"default/cli\"}") == 5, "node \(n)")
            #expect(Self.metric(metrics, "skiff_queue_delivered_total{queue=\"default/cli\"}") == 6, "node \(n)")
            #expect(Self.metric(metrics, "skiff_queue_acked_total{queue=\"default/cli\"}") == 5, "node \(n)")
            #expect(Self.metric(metrics, "skiff_queue_ready{queue=\"default/cli\"}") == 0, "node \(n)")
            #expect((Self.metric(metrics, "skiff_term") ?? 0) > 0, "node \(n)")
            #expect(Self.metric(metrics, "skiff_role{role=\"leader\"}") == (n == leader ? 1 : 0), "node \(n)")
            #expect(metrics.contains("skiff_fsync_seconds_bucket"), "node \(n)")
        }
    }
}

/// Leader reads are linearizable (ReadIndex, Raft thesis §6.4).
@Suite(.serialized) struct LinearizableReadTests {
    /// A leader cut off from both followers (paused with SIGSTOP) cannot confirm it still leads, so it does not
    /// answer a queue-stats read from its possibly stale state: the read gets an error, never the stats. Once
    /// the followers resume, reads are answered again.
    @Test(.timeLimit(.minutes(1))) func isolatedLeaderDoesNotServeStaleReads() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer {
            for n in 1...3 { cluster.signal(n, SIGCONT) }
            cluster.shutdown()
        }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "r")
        // Long enough for the read's own bound (5 s) to answer it.
        let raw = try #require(RawWireConnection(port: cluster.ports[leader]!.client, timeoutMs: 10_000))
        #expect(raw.handshake())
        raw.send(.queueStats(ObjectName(namespace: "default", name: "r")))
        guard case .queueStats? = raw.receiveResponse() else {
            Issue.record("a healthy leader did not answer a read")
            return
        }

        let followers = (1...3).filter { $0 != leader }
        for n in followers { cluster.signal(n, SIGSTOP) }
        // Each thread stops when it next runs; on a loaded machine wait until every thread of both has stopped.
        let stopDeadline = Date().addingTimeInterval(10)
        while followers.contains(where: { !cluster.isStopped($0) }) && Date() < stopDeadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let before = followers.map { "\($0): \(cluster.processState($0))" }
        raw.send(.queueStats(ObjectName(namespace: "default", name: "r")))
        let isolated = raw.receiveResponse()
        if case .queueStats? = isolated {
            let states = followers.map { "\($0): \(cluster.processState($0))" }
            let detail = "followers \(before) then \(states); logs in \(cluster.directory)"
            Issue.record("isolated leader \(leader) answered a read without confirming; \(detail)")
        }
        guard case .error(let error)? = isolated else {
            Issue.record("expected an error, got \(String(describing: isolated))")
            return
        }
        #expect(error.code == .timeout || error.code == .notLeader, "\(error)")

        for n in followers { cluster.signal(n, SIGCONT) }
        let newLeader = try cluster.waitForLeader()
        let again = try #require(RawWireConnection(port: cluster.ports[newLeader]!.client))
        #expect(again.handshake())
        again.send(.queueStats(ObjectName(namespace: "default", name: "r")))
        guard case .queueStats? = again.receiveResponse() else {
            Issue.record("reads did not resume after the followers came back")
            return
        }
    }
}
