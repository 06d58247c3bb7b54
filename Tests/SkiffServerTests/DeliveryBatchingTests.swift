import SkiffWire
import Testing

@testable import SkiffBroker
@testable import SkiffServer

@Suite struct DeliveryBatchingTests {
    static let queue = ObjectName(namespace: "ns", name: "q")

    static func message(_ n: UInt64, bodyBytes: Int, headers: [Header] = []) -> DeliveredMessage {
        DeliveredMessage(
            lease: LeaseID(100 + n), sequence: MessageSeq(n), id: "m\(n)",
            body: Array(repeating: UInt8(truncatingIfNeeded: n), count: bodyBytes), headers: headers, priority: 0,
            deliveryCount: 1, leaseDeadline: 5_000)
    }

    /// Batches keep every delivery once and in order, hold at most `deliveriesPerBatchMax` each, and are cut
    /// before the byte bound; a delivery larger than the bound travels alone.
    @Test func batchesAreBoundedByCountAndBytes() {
        let many = (0..<2_500).map { Self.message($0, bodyBytes: 10) }
        let counted = WireMapping.deliveryBatches(many, subscription: SubscriptionID(3), queue: Self.queue)
        #expect(counted.map(\.deliveries.count) == [1_024, 1_024, 452])
        #expect(counted.flatMap(\.deliveries).map(\.messageID.rawValue) == Array(0..<2_500))
        #expect(counted.allSatisfy { $0.subscriptionID == SubscriptionID(3) && $0.queue == Self.queue })

        let sized = [
            Self.message(1, bodyBytes: 400), Self.message(2, bodyBytes: 500),
            Self.message(3, bodyBytes: 200, headers: [Header("k", "v")]), Self.message(4, bodyBytes: 5_000),
            Self.message(5, bodyBytes: 1),
        ]
        let cut = WireMapping.deliveryBatches(
            sized, subscription: SubscriptionID(3), queue: Self.queue, bytesSoftMax: 1_000)
        // 400 + 500 fit; + 200 + 10 header bytes would pass 1,000; 5,000 alone; then 1.
        #expect(cut.map { $0.deliveries.map(\.messageID.rawValue) } == [[1, 2], [3], [4], [5]])
        #expect(cut[1].deliveries[0].headers == ["k": "v"])
        #expect(WireMapping.deliveryBatches([], subscription: SubscriptionID(3), queue: Self.queue).isEmpty)
    }
}
