import Testing

@testable import SkiffWire

@Suite struct DeliveryBatchTests {
    static let queue = ObjectName(namespace: "ns", name: "jobs")

    static func delivery(_ n: UInt64, subscription: UInt64 = 9) -> Delivery {
        Delivery(
            subscriptionID: SubscriptionID(subscription), queue: queue, messageID: MessageID(n),
            leaseToken: LeaseToken(100 + n), deliveryCount: UInt32(n % 3 + 1), priority: UInt8(n % 10),
            publishedAtMs: n, leaseExpiresAtMs: 1_000 + n, headers: n % 2 == 0 ? [:] : ["h\(n)": "v"],
            body: Array(repeating: UInt8(truncatingIfNeeded: n), count: Int(n % 50)))
    }

    /// A batch decodes to the same deliveries, each with the batch's subscription and queue, and its frame is
    /// smaller than the same deliveries as single frames (the subscription and queue are written once).
    @Test func batchRoundTripsAndIsSmaller() throws {
        let deliveries = (1...40).map { Self.delivery($0) }
        let batch = DeliveryBatch(subscriptionID: SubscriptionID(9), queue: Self.queue, deliveries: deliveries)
        let frame = Push.deliveries(batch).frame
        let decoded = try Push(frame: try #require(try FrameDecoder.decode(frame.encoded())).frame)
        guard case .deliveries(let back) = decoded else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(back.deliveries == deliveries)
        let singles = deliveries.reduce(0) { $0 + Push.delivery($1).frame.encodedBytes }
        #expect(frame.encodedBytes < singles)
    }

    /// Encodes a batch header with `count` items of the smallest size, for the decoder's bound checks.
    static func rawBatch(count: UInt32, items: Int) -> Frame {
        var writer = WireWriter()
        writer.write(SubscriptionID(1))
        writer.write(queue)
        writer.write(count)
        for n in 0..<items {
            writer.write(MessageID(UInt64(n)))
            writer.write(LeaseToken(UInt64(n)))
            writer.write(UInt32(1))
            writer.write(UInt8(0))
            writer.write(UInt64(0))
            writer.write(UInt64(0))
            writer.write([String: String]())
            writer.writeBytes([])
        }
        return Frame(kind: .push, opcode: Push.Opcode.deliveries.rawValue, requestID: .none, payload: writer.bytes)
    }

    /// An empty batch, a batch over `deliveriesPerBatchMax`, and a count larger than the bytes that follow are
    /// typed errors; a batch of exactly the maximum decodes.
    @Test func batchBoundsAreEnforced() throws {
        let max = WireProtocol.deliveriesPerBatchMax
        #expect(throws: FrameError(.invalidValue(field: "deliveries.items"))) {
            try Push(frame: Self.rawBatch(count: 0, items: 0))
        }
        #expect(throws: FrameError(.invalidValue(field: "deliveries.items"))) {
            try Push(frame: Self.rawBatch(count: UInt32(max + 1), items: max + 1))
        }
        #expect(throws: FrameError(.truncated(field: "deliveries.items"))) {
            try Push(frame: Self.rawBatch(count: 1_000, items: 2))
        }
        guard case .deliveries(let full) = try Push(frame: Self.rawBatch(count: UInt32(max), items: max)) else {
            Issue.record("a full batch did not decode as deliveries")
            return
        }
        #expect(full.deliveries.count == max)
        #expect(full.deliveries.allSatisfy { $0.subscriptionID == SubscriptionID(1) && $0.queue == Self.queue })
    }
}

extension DeliveryBatchTests {
    /// The example frame of docs/protocol.md §4 (two deliveries of subscription 7 on `default/q`) is exactly what
    /// the encoder writes.
    @Test func documentedExampleMatchesTheEncoder() {
        let queue = ObjectName(namespace: "default", name: "q")
        let deliveries = [(2, 3, 1_000, "AA"), (4, 5, 1_001, "BBB")].map { id, lease, expires, body in
            Delivery(
                subscriptionID: SubscriptionID(7), queue: queue, messageID: MessageID(UInt64(id)),
                leaseToken: LeaseToken(UInt64(lease)), deliveryCount: 1, priority: 0, publishedAtMs: 0,
                leaseExpiresAtMs: UInt64(expires), headers: [:], body: Array(body.utf8))
        }
        let frame = Push.deliveries(
            DeliveryBatch(subscriptionID: SubscriptionID(7), queue: queue, deliveries: deliveries)
        )
        .frame
        func u64(_ v: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func item(_ id: UInt64, _ lease: UInt64, _ expires: UInt64, _ body: String) -> [UInt8] {
            u64(id) + u64(lease) + [0, 0, 0, 1, 0] + u64(0) + u64(expires) + [0, 0, 0, 0]
                + [0, 0, 0, UInt8(body.utf8.count)] + Array(body.utf8)
        }
        var expected: [UInt8] = [0x00, 0x00, 0x00, 0x87, 0x03, 0x00, 0x00, 0x04] + u64(0)
        expected += u64(7) + [0, 0, 0, 7] + Array("default".utf8) + [0, 0, 0, 1] + Array("q".utf8) + [0, 0, 0, 2]
        expected += item(2, 3, 1_000, "AA") + item(4, 5, 1_001, "BBB")
        #expect(frame.encoded() == expected)
    }
}
