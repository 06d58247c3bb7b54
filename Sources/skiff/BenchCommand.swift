import ArgumentParser
import Foundation
import SkiffClient

/// `skiff bench`: cluster load (the default) and component benchmarks.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: cluster load (default), and component benchmarks.",
        subcommands: [
            BenchClusterCommand.self, BenchStorageCommand.self, BenchBrokerCommand.self,
        ],
        defaultSubcommand: BenchClusterCommand.self)
}

/// `skiff bench [cluster]`: publish (and optionally consume) load against a cluster, with confirm-latency
/// percentiles.
struct BenchClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Load a cluster: msgs/s, MB/s and confirm latency p50/p99/p999.",
        discussion: """
            Defaults match the anchors' workload: 1 KiB bodies, one connection, at most 1000 unconfirmed, 100k
            messages. --rate publishes at a fixed rate and measures latency from each message's scheduled send
            time. --failover SIGKILLs the leader (PID from --cluster-dir/node<ID>.pid) after --kill-after and
            reports the time from the kill to the next confirmed publish.
            """)

    @OptionGroup var options: ClientOptions
    @Option(help: "Queue to publish to (declared if missing).") var queue: String = "bench"
    @Option(help: "Messages to publish.") var messages: Int = 100_000
    @Option(help: "Body bytes per message.") var size: Int = 1_024
    @Option(
        help: """
            Body contents: cyclic (bytes 0..250 repeating, the same for every message, like the anchors' \
            letters; LZ4 shrinks it) or random (new pseudo-random bytes for each message; incompressible).
            """)
    var body: BenchBody = .cyclic
    @Option(help: "Unconfirmed publishes allowed at once (all connections together).") var inflight: Int = 1_000
    @Option(help: "Client connections (each a separate client).") var connections: Int = 1
    @Option(help: "Publish at this many messages per second instead of as fast as possible.") var rate: Int?
    @Flag(help: "After publishing, consume and ack everything published.") var consume = false
    @Option(name: .customLong("ack-batch"), help: "Consume phase: ack deliveries in batches of this many.")
    var ackBatch: Int = 256
    @Flag(
        name: .customLong("skip-publish"),
        help: "With --consume: publish nothing; consume and ack --messages already in the queue.")
    var skipPublish = false
    @Flag(help: "SIGKILL the leader mid-run and measure the time to the next confirm.") var failover = false
    @Option(name: .customLong("cluster-dir"), help: "Directory holding node<ID>.pid files (for --failover).")
    var clusterDirectory: String?
    @Option(name: .customLong("kill-after"), help: "When to kill the leader.", transform: DurationArgument.parse)
    var killAfter: DurationArgument = DurationArgument(milliseconds: 2_000)
    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.") var noProgress = false
    @Option(
        name: .customLong("latency-log"),
        help: "Write one line per confirmed publish to this file: send time (ms since the start) and latency (ms).")
    var latencyLog: String?

    func validate() throws {
        guard messages >= 1, size >= 0, inflight >= 1, connections >= 1 else {
            throw ValidationError("--messages, --inflight and --connections must be at least 1")
        }
        if let rate, rate < 1 { throw ValidationError("--rate must be at least 1") }
        if failover, clusterDirectory == nil { throw ValidationError("--failover needs --cluster-dir") }
        if skipPublish, !consume || failover || rate != nil {
            throw ValidationError("--skip-publish needs --consume, and excludes --failover and --rate")
        }
    }

    func run() async throws {
        let clients = try (0..<connections).map { _ in try options.makeClient(role: .client) }
        defer { clients.forEach { $0.close() } }
        try await prepare(clients)
        let killer = failover ? LeaderKiller(directory: clusterDirectory!, client: clients[0]) : nil
        let killTask = killer.map { killer in
            Task { try await killer.kill(after: .milliseconds(killAfter.milliseconds)) }
        }
        if skipPublish {
            let report: [String: Any] = [
                "mode": "consume", "consume": try await consumePhase(clients[0], expected: messages),
            ]
            return print(report)
        }
        let run = try await publishPhase(clients)
        if let latencyLog { try run.writeLatencyLog(to: latencyLog) }
        var report = run.report(messages: messages, bodyBytes: size)
        report["mode"] = rate == nil ? "publish" : "rate"
        report["body"] = body.rawValue
        if let rate { report["rate"] = rate }
        if let killTask {
            let killed = try await killTask.value
            report["failover"] = run.failoverReport(killedAt: killed.instant, leader: killed.leader)
        }
        if consume { report["consume"] = try await consumePhase(clients[0], expected: messages) }
        print(report)
    }

    /// Declares the queue and warms every connection up (producer id, leader connection), outside the timing.
    private func prepare(_ clients: [SkiffClient]) async throws {
        try await clients[0].declaring(namespace: options.namespace) {
            do {
                try await clients[0].declareQueue(queue)
            } catch let error as SkiffClientError where error.code == .alreadyExists {}
        }
        for client in clients { _ = try await client.producerID() }
    }

    /// Publishes `messages` messages with at most `inflight` unconfirmed, optionally paced at `rate`.
    ///
    /// Uses the client's pipelined publish (a confirm callback, no task per message), so the bench measures the
    /// cluster rather than its own task scheduling.
    private func publishPhase(_ clients: [SkiffClient]) async throws -> PublishRun {
        var bodies = BenchBodies(kind: body, size: size)
        let queue = self.queue
        var run = PublishRun(capacity: messages)
        var progress = ProgressBar(total: messages, enabled: !noProgress)
        let start = ContinuousClock.now
        let intervalNs = rate.map { 1_000_000_000 / UInt64($0) }
        let window = ConfirmWindow(limit: inflight, expected: messages)
        for index in 0..<messages {
            try await window.acquire()
            var scheduled = ContinuousClock.now
            if let intervalNs {
                scheduled = start + .nanoseconds(Int64(intervalNs) * Int64(index))
                if scheduled > .now { try await Task.sleep(until: scheduled, clock: .continuous) }
            }
            let message = OutgoingMessage(body: bodies.next())
            try await clients[index % clients.count].publish([message], to: .queue(queue)) {
                [scheduled] result in
                window.complete(result.map { _ in Confirm(start: scheduled, end: .now) })
            }
            if index % Self.progressEvery == 0 { progress.update(window.confirmedCount) }
        }
        for confirm in try await window.drain() { run.record(confirm) }
        progress.update(run.count, force: true)
        progress.finish()
        run.elapsed = ContinuousClock.now - start
        return run
    }

    /// Publishes between two progress-bar updates.
    private static let progressEvery = 256

    /// Consumes and acks `expected` messages, acking in batches; returns the consume report.
    private func consumePhase(_ client: SkiffClient, expected: Int) async throws -> [String: Any] {
        let ackBatch = max(1, self.ackBatch)
        var progress = ProgressBar(total: expected, enabled: !noProgress)
        let start = ContinuousClock.now
        var received = 0
        var pending: [ReceivedDelivery] = []
        try await withThrowingTaskGroup(of: Void.self) { acks in
            var outstanding = 0
            for try await delivery in client.consume(queue: queue, prefetch: UInt32(clamping: inflight)) {
                received += 1
                pending.append(delivery)
                if received >= expected {
                    // The last batch is acked before the loop ends: ending the loop ends the subscription, which
                    // releases its leases, and an ack that arrives after that is answered UNKNOWN_LEASE.
                    try await acks.waitForAll()
                    try await QueueConsumer.ack(pending)
                    pending = []
                } else if pending.count >= ackBatch {
                    let batch = pending
                    pending = []
                    if outstanding >= 8 {
                        try await acks.next()
                        outstanding -= 1
                    }
                    acks.addTask { try await QueueConsumer.ack(batch) }
                    outstanding += 1
                }
                progress.update(received)
                if received >= expected { break }
            }
            try await acks.waitForAll()
        }
        progress.update(received, force: true)
        progress.finish()
        let seconds = (ContinuousClock.now - start).seconds
        return [
            "messages": received, "seconds": seconds, "msgsPerSec": Double(received) / seconds,
            "mbPerSec": Double(received * size) / seconds / 1e6,
        ]
    }

    private func print(_ report: [String: Any]) {
        if options.json { return Output.json(report) }
        func number(_ key: String, in object: [String: Any] = report) -> Double { (object[key] as? Double) ?? 0 }
        if report["mode"] as? String != "consume" {
            Swift.print(
                String(
                    format: "published %d msgs of %d B in %.2f s: %.0f msg/s, %.1f MB/s", messages, size,
                    number("seconds"), number("msgsPerSec"), number("mbPerSec")))
            Swift.print(
                String(
                    format: "confirm latency ms: p50 %.3f  p99 %.3f  p999 %.3f  max %.3f", number("p50Ms"),
                    number("p99Ms"), number("p999Ms"), number("maxMs")))
        }
        if let failover = report["failover"] as? [String: Any] {
            Swift.print(
                String(
                    format:
                        "failover: leader %d SIGKILLed; next confirmed publish after %.1f ms (longest confirm gap "
                        + "after the kill %.1f ms)", (failover["killedLeader"] as? UInt64).map(Int.init) ?? 0,
                    number("killToNextConfirmMs", in: failover), number("longestConfirmGapAfterKillMs", in: failover)))
        }
        if let consume = report["consume"] as? [String: Any] {
            Swift.print(
                String(
                    format: "consumed+acked %d msgs in %.2f s: %.0f msg/s, %.1f MB/s",
                    (consume["messages"] as? Int) ?? 0,
                    number("seconds", in: consume), number("msgsPerSec", in: consume), number("mbPerSec", in: consume)))
        }
    }
}

/// When one publish was sent (or scheduled) and confirmed.
struct Confirm: Sendable {
    var start: ContinuousClock.Instant
    var end: ContinuousClock.Instant
}

/// The results of a publish phase.
struct PublishRun {
    var latencies: LatencyRecorder
    var confirms: [Confirm] = []
    var elapsed: Duration = .zero
    let start = ContinuousClock.now
    var count: Int { confirms.count }

    init(capacity: Int) {
        latencies = LatencyRecorder(capacity: capacity)
        confirms.reserveCapacity(capacity)
    }

    mutating func record(_ confirm: Confirm) {
        confirms.append(confirm)
        latencies.record((confirm.end - confirm.start).nanoseconds)
    }

    func report(messages: Int, bodyBytes: Int) -> [String: Any] {
        let seconds = elapsed.seconds
        let summary = latencies.summary()
        return [
            "messages": messages, "bodyBytes": bodyBytes, "seconds": seconds,
            "msgsPerSec": Double(messages) / seconds, "mbPerSec": Double(messages * bodyBytes) / seconds / 1e6,
            "p50Ms": summary.p50, "p99Ms": summary.p99, "p999Ms": summary.p999, "maxMs": summary.max,
        ]
    }

    /// Writes `send-ms latency-ms` per confirm, in send order (to find stalls: do slow confirms cluster in time?).
    func writeLatencyLog(to path: String) throws {
        let lines = confirms.sorted { $0.start < $1.start }.map { confirm in
            let sent = Double((confirm.start - start).nanoseconds) / 1e6
            let latency = Double((confirm.end - confirm.start).nanoseconds) / 1e6
            return String(format: "%.3f %.3f", sent, latency)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The kill-to-next-confirm time: when the first publish sent after the kill was confirmed. (Confirms
    /// read just after the kill may be answers the dead leader sent before it died, so they do not count.)
    /// Also the longest gap between consecutive confirms after the kill, for context.
    func failoverReport(killedAt kill: ContinuousClock.Instant, leader: UInt64) -> [String: Any] {
        var report: [String: Any] = ["killedLeader": leader]
        if let firstNew = confirms.filter({ $0.start >= kill }).map(\.end).min() {
            report["killToNextConfirmMs"] = Double((firstNew - kill).nanoseconds) / 1e6
        }
        var longest: Duration = .zero
        var previous = kill
        for end in confirms.map(\.end).sorted() where end > kill {
            longest = max(longest, end - previous)
            previous = end
        }
        report["longestConfirmGapAfterKillMs"] = Double(longest.nanoseconds) / 1e6
        return report
    }
}

/// Finds the leader through the cluster status and SIGKILLs it using its PID file.
struct LeaderKiller: Sendable {
    let directory: String
    let client: SkiffClient

    func kill(after delay: Duration) async throws -> (instant: ContinuousClock.Instant, leader: UInt64) {
        try await Task.sleep(for: delay)
        let info = try await client.clusterInfo()
        guard info.leaderID != .none else { throw ValidationError("no leader to kill") }
        let path = "\(directory)/node\(info.leaderID.rawValue).pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw ValidationError("cannot read the leader's PID from \(path)") }
        let instant = ContinuousClock.now
        guard Foundation.kill(pid, SIGKILL) == 0 else { throw ValidationError("kill -9 \(pid) failed: errno \(errno)") }
        Output.error("killed leader node \(info.leaderID.rawValue) (pid \(pid))")
        return (instant, info.leaderID.rawValue)
    }
}
