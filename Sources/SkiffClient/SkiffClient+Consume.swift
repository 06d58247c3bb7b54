import Logging
import SkiffWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A message leased to this client by a subscription. Settle it with `ack()`, `nack()` or `reject()`
/// before its lease ends, or extend the lease.
public struct ReceivedDelivery: Sendable {
    /// The delivery as the server sent it.
    public let delivery: Delivery
    let core: ClientCore
    let connectionID: UInt64

    public var id: MessageID { delivery.messageID }
    public var body: [UInt8] { delivery.body }
    public var headers: [String: String] { delivery.headers }
    /// 1 on first delivery; higher on redeliveries.
    public var deliveryCount: UInt32 { delivery.deliveryCount }
    public var queue: ObjectName { delivery.queue }
    /// Leader time (ms since the Unix epoch) at which the lease ends unless extended; 0 when not known.
    public var leaseExpiresAtMs: UInt64 { delivery.leaseExpiresAtMs }

    /// True when the lease is known and ended at or before `nowMs` (ms since the Unix epoch).
    func leaseEnded(atMs nowMs: Int64) -> Bool {
        delivery.leaseExpiresAtMs > 0 && Int64(clamping: delivery.leaseExpiresAtMs) <= nowMs
    }

    /// Removes the message from the queue.
    public func ack() async throws { try await settle(.ack) }

    /// Returns the message to the queue for redelivery.
    public func nack() async throws { try await settle(.nack) }

    /// Dead-letters the message, or drops it when the queue has no dead-letter target.
    public func reject() async throws { try await settle(.reject) }

    /// Extends the lease to `ms` milliseconds from now (leader time).
    public func extendLease(byMs ms: UInt32) async throws {
        let request = ExtendLeaseRequest(queue: delivery.queue, leases: [delivery.lease], extendMs: ms)
        try await ReceivedDelivery.run(.extendLease(request), core: core, connectionIDs: [connectionID])
    }

    func settle(_ kind: Settlement) async throws {
        try await ReceivedDelivery.settle([self], kind)
    }

    /// Settles many deliveries of one client with one request per queue.
    static func settle(_ deliveries: [ReceivedDelivery], _ kind: Settlement) async throws {
        guard let first = deliveries.first else { return }
        let core = first.core
        // Usually every delivery is of one queue (one consumer's batch): no grouping, no hashing of names.
        let byQueue: [ObjectName: [ReceivedDelivery]] =
            deliveries.allSatisfy { $0.delivery.queue == first.delivery.queue }
            ? [first.delivery.queue: deliveries] : Dictionary(grouping: deliveries, by: \.delivery.queue)
        for (queue, group) in byQueue {
            let request = SettleRequest(queue: queue, leases: group.map(\.delivery.lease))
            let wire: Request
            switch kind {
            case .ack: wire = .ack(request)
            case .nack: wire = .nack(request)
            case .reject: wire = .reject(request)
            }
            try await run(wire, core: core, connectionIDs: Set(group.map(\.connectionID)))
        }
    }

    /// Sends a lease operation.
    ///
    /// `UNKNOWN_LEASE` is thrown, never swallowed, even for a delivery received on a connection that has since
    /// been lost: the server released that lease, so the ack (or nack, or extension) did not take effect and the
    /// message will be delivered again. Reporting success there would tell the application a message was
    /// acknowledged when it was not (the chaos checker's `after-ack` duplicate).
    private static func run(_ request: Request, core: ClientCore, connectionIDs: Set<UInt64>) async throws {
        let response = try await core.call(request)
        guard case .ok = response else { throw SkiffClientError.unexpected(response, for: request) }
    }

    enum Settlement: Sendable { case ack, nack, reject }
}

/// An endless sequence of deliveries from one queue. It re-subscribes by itself after failovers; it ends
/// with an error when the queue is deleted or the client closes, and unsubscribes when iteration stops.
///
/// Deliveries still buffered from a connection that has since been lost are skipped: their leases were
/// released with the connection, and the messages come again from the new leader. So are deliveries whose
/// lease already ended (by this host's clock against the leader's `leaseExpiresAtMs`) before the application
/// asked for them, for example after a push sat in a stalled TCP stream: the broker may have delivered the
/// message to another consumer meanwhile, and it comes again when the lease expiry is applied.
public struct QueueConsumer: AsyncSequence, Sendable {
    public typealias Element = ReceivedDelivery
    /// One element per push frame from the server.
    let stream: AsyncThrowingStream<[ReceivedDelivery], any Error>
    let core: ClientCore
    let localID: UInt64

    /// Changes how many deliveries may be unsettled at once. 0 pauses the subscription: no new messages are
    /// leased to it, and the deliveries already received can still be acked, nacked or extended. A consumer
    /// that will stop after N messages pauses before settling the last one, so that settling does not lease
    /// one more message that nobody will handle (which would raise its delivery count for nothing).
    public func setPrefetch(_ prefetch: UInt32) async throws {
        try await core.setPrefetch(localID, prefetch: Swift.min(prefetch, Self.prefetchMax))
    }

    /// The largest credit window the server honours.
    public static let prefetchMax: UInt32 = 10_000

    public func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator(), core: core) }

    /// Iterates deliveries one by one, skipping those of lost connections. Deliveries arrive in batches (one
    /// per push frame); the iterator hands out a batch's deliveries without waiting on the stream again.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[ReceivedDelivery], any Error>.AsyncIterator
        let core: ClientCore
        /// The rest of the current batch, in delivery order.
        var buffered: [ReceivedDelivery] = []
        var nextIndex = 0

        init(base: AsyncThrowingStream<[ReceivedDelivery], any Error>.AsyncIterator, core: ClientCore) {
            self.base = base
            self.core = core
        }

        public mutating func next() async throws -> ReceivedDelivery? {
            while let delivery = try await nextBuffered() {
                guard core.currentConnectionID == delivery.connectionID else { continue }
                if delivery.leaseEnded(atMs: wallClockMs()) {
                    core.logger.debug(
                        "skipping a delivery whose lease ended",
                        metadata: ["message": "\(delivery.id)", "lease_expires_at_ms": "\(delivery.leaseExpiresAtMs)"])
                    continue
                }
                return delivery
            }
            return nil
        }

        /// The next delivery of the current batch, or of the next batch from the stream.
        private mutating func nextBuffered() async throws -> ReceivedDelivery? {
            while nextIndex == buffered.count {
                guard let batch = try await base.next() else { return nil }
                buffered = batch
                nextIndex = 0
            }
            defer { nextIndex += 1 }
            return buffered[nextIndex]
        }
    }

    /// Acks many deliveries with one request per queue.
    public static func ack(_ deliveries: [ReceivedDelivery]) async throws {
        try await ReceivedDelivery.settle(deliveries, .ack)
    }

    /// Nacks many deliveries with one request per queue.
    public static func nack(_ deliveries: [ReceivedDelivery]) async throws {
        try await ReceivedDelivery.settle(deliveries, .nack)
    }
}

extension SkiffClient {
    /// Subscribes to a queue. At most `prefetch` deliveries are unsettled at once (the server's credit
    /// window); `leaseMs` of 0 uses the queue's default lease.
    public func consume(
        queue: String, namespace: String? = nil, prefetch: UInt32 = 100, leaseMs: UInt32 = 0
    ) -> QueueConsumer {
        let name = ObjectName(namespace: namespace ?? self.namespace, name: queue)
        let (localID, stream) = core.subscribe(queue: name, prefetch: max(prefetch, 1), leaseMs: leaseMs)
        return QueueConsumer(stream: stream, core: core, localID: localID)
    }
}

/// This host's wall clock in ms since the Unix epoch (compared with leader lease deadlines).
func wallClockMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
