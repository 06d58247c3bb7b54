import Foundation
import SkiffClient
import Testing

@Suite(.serialized) struct DeliveryBatchTests {
    /// Messages per queue: more than one receive's worth is not needed, but enough that a version-2 connection
    /// gets batches of several deliveries.
    static let messageCount = 300

    /// A raw connection that negotiates protocol version 1 gets one `delivery` push per message; one that
    /// negotiates version 2 gets `deliveries` batches. Both see every message exactly once with its body, and
    /// acking every lease empties the queue.
    @Test(.timeLimit(.minutes(2))) func eachProtocolVersionGetsItsDeliveryFrames() async throws {
        let cluster = try ClusterHarness(nodes: 3)
        defer { cluster.shutdown() }
        try cluster.startAll()
        let leader = try cluster.waitForLeader()
        let client = try SkiffClient(seeds: cluster.seeds)
        defer { client.close() }
        for version in [1, 2] {
            let queue = "v\(version)"
            try await prepareQueue(client, queue)
            let messages = (0..<Self.messageCount).map { OutgoingMessage(body: Array("\(queue)-\($0)".utf8)) }
            _ = try await client.publish(messages, to: .queue(queue))
        }
        for version: UInt16 in [1, 2] {
            let raw = try #require(RawWireConnection(port: cluster.ports[leader]!.client, timeoutMs: 10_000))
            raw.send(.hello(Hello(role: .client, clientID: "raw-v\(version)", versionMin: 1, versionMax: version)))
            guard case .helloOK(let ok)? = raw.receiveResponse() else {
                Issue.record("no helloOK for version \(version)")
                return
            }
            #expect(ok.version == version)
            let queue = ObjectName(namespace: "default", name: "v\(version)")
            raw.send(.subscribe(SubscribeRequest(queue: queue, prefetch: 1_000)))
            let (deliveries, opcodes) = Self.receiveDeliveries(raw, count: Self.messageCount)
            let bodies = deliveries.map { String(decoding: $0.body, as: UTF8.self) }
            #expect(bodies.sorted() == (0..<Self.messageCount).map { "v\(version)-\($0)" }.sorted())
            if version == 1 {
                #expect(opcodes == [.delivery: Self.messageCount])
            } else {
                #expect(opcodes.keys.sorted { $0.rawValue < $1.rawValue } == [.deliveries])
                #expect((opcodes[.deliveries] ?? 0) < Self.messageCount)
            }
            raw.send(.ack(SettleRequest(queue: queue, leases: deliveries.map(\.lease))))
            guard case .ok? = raw.receiveResponse() else {
                Issue.record("ack on version \(version) was not answered ok")
                return
            }
            let stats = try await client.queueStats(queue.name)
            #expect(stats.ready == 0 && stats.leased == 0, "\(stats)")
        }
    }

    /// Reads pushes until `count` deliveries arrived (or the socket times out); returns them and how many
    /// frames of each push opcode carried them.
    static func receiveDeliveries(
        _ raw: RawWireConnection, count: Int
    ) -> ([Delivery], [Push.Opcode: Int]) {
        var deliveries: [Delivery] = []
        var opcodes: [Push.Opcode: Int] = [:]
        while deliveries.count < count, let frame = raw.receiveFrame() {
            guard frame.kind == .push, let push = try? Push(frame: frame) else { continue }
            opcodes[push.opcode, default: 0] += 1
            switch push {
            case .delivery(let delivery): deliveries.append(delivery)
            case .deliveries(let batch): deliveries += batch.deliveries
            default: break
            }
        }
        return (deliveries, opcodes)
    }
}
