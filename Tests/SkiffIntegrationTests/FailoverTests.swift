import Foundation
import SkiffClient
import SkiffWire
import Testing

/// Counts confirmations across publishing tasks and fires `midway` once.
final class ConfirmCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var fired = false
    let threshold: Int
    let midway: @Sendable () -> Void

    init(threshold: Int, midway: @escaping @Sendable () -> Void) {
        self.threshold = threshold
        self.midway = midway
    }

    func confirmed() {
        let fire = lock.withLock { () -> Bool in
            count += 1
            guard !fired, count >= threshold else { return false }
            fired = true
            return true
        }
        if fire { midway() }
    }
}

/// Publishes `count` messages `m<i>` to `queue` from `lanes` concurrent producers (lane k publishes k, k + lanes,
/// ... one after the other, so at most `lanes` are unconfirmed). Calls `midway` once `killAfter` are confirmed.
/// Returns the confirmed indexes. No retry logic here: the client fails over by itself.
func publishWithFailover(
    client: SkiffClient, queue: String, count: Int, lanes: Int, killAfter: Int, midway: @escaping @Sendable () -> Void
) async throws -> Set<Int> {
    let counter = ConfirmCounter(threshold: killAfter, midway: midway)
    return try await withThrowingTaskGroup(of: [Int].self) { group in
        for lane in 0..<lanes {
            group.addTask {
                var done: [Int] = []
                for i in stride(from: lane, to: count, by: lanes) {
                    try await client.publish(Array("m\(i)".utf8), to: queue)
                    done.append(i)
                    counter.confirmed()
                }
                return done
            }
        }
        var confirmed = Set<Int>()
        for try await done in group { confirmed.formUnion(done) }
        return confirmed
    }
}

/// Deliveries out of publish order: within one lane each message was published after the previous one was
/// confirmed, so it must be delivered after it.
func laneOrderViolations(_ order: [Int], lanes: Int) -> Int {
    var last = [Int](repeating: -1, count: lanes)
    var violations = 0
    for i in order {
        if i <= last[i % lanes] { violations += 1 }
        last[i % lanes] = max(last[i % lanes], i)
    }
    return violations
}

/// Consumes until `expected` distinct messages arrived (bounded by `timeout`), acking each; returns the
/// indexes in delivery order, duplicates included.
func consumeAll(client: SkiffClient, queue: String, expected: Int, timeout: TimeInterval) async throws -> [Int] {
    let deadline = Date().addingTimeInterval(timeout)
    var order: [Int] = []
    var seen = Set<Int>()
    var unacked: [ReceivedDelivery] = []
    let consumer = client.consume(queue: queue, prefetch: 1000)
    for try await delivery in consumer {
        let text = String(decoding: delivery.body, as: UTF8.self)
        guard text.hasPrefix("m"), let i = Int(text.dropFirst()) else {
            Issue.record("phantom message body \(text)")
            continue
        }
        order.append(i)
        seen.insert(i)
        unacked.append(delivery)
        if unacked.count >= 200 {
            try await QueueConsumer.ack(unacked)
            unacked = []
        }
        if seen.count >= expected || Date() > deadline { break }
    }
    if !unacked.isEmpty { try await QueueConsumer.ack(unacked) }
    return order
}

/// Creates the default namespace (tolerating an existing one) and a queue.
func prepareQueue(_ client: SkiffClient, _ queue: String) async throws {
    do { try await client.createNamespace("default") } catch let error as SkiffClientError {
        guard "\(error)".contains("ALREADY_EXISTS") else { throw error }
    }
    try await client.declareQueue(queue)
}

@Suite(.serialized) struct ClusterFailoverTests {
    /// 3 nodes: 20k publishes while the leader is SIGKILLed mid-stream. Every confirmed message is consumed
    /// exactly once and in publish order, and the killed node restarts and catches up.
    @Test(.timeLimit(.minutes(3))) func leaderKilledMidStreamLosesNothing() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let firstLeader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        try await prepareQueue(client, "orders")

        let total = 20_000
        let confirmed = try await publishWithFailover(
            client: client, queue: "orders", count: total, lanes: 1000, killAfter: total / 4
        ) { cluster.kill9(firstLeader) }
        #expect(confirmed.count == total, "every publish is confirmed through the failover")
        #expect(!cluster.isRunning(firstLeader))

        let newLeader = try cluster.waitForLeader(excluding: [firstLeader])
        #expect(newLeader != firstLeader)
        let order = try await consumeAll(client: client, queue: "orders", expected: total, timeout: 90)
        let delivered = Set(order)
        #expect(order.count == delivered.count, "\(order.count - delivered.count) duplicate deliveries")
        #expect(confirmed.subtracting(delivered).isEmpty, "\(confirmed.subtracting(delivered).count) confirmed lost")
        #expect(delivered.subtracting(confirmed).isEmpty, "\(delivered.subtracting(confirmed).count) phantoms")
        let outOfOrder = laneOrderViolations(order, lanes: 1000)
        #expect(outOfOrder == 0, "\(outOfOrder) deliveries out of publish order")

        try cluster.start(firstLeader)
        let target = try #require(cluster.applied(newLeader))
        try cluster.waitForApplied(firstLeader, atLeast: target, timeout: 60)
    }
}
