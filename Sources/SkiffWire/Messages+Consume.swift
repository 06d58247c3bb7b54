/// Consumer messages: subscriptions, pushed deliveries, settlement and leases.

/// Subscribes this connection to a queue. The server pushes `Delivery` frames while the subscription has
/// fewer than `prefetch` unsettled deliveries.
public struct SubscribeRequest: WireCodable, Hashable {
    public var queue: ObjectName
    /// The maximum unsettled deliveries (the credit window); 0 subscribes paused.
    public var prefetch: UInt32
    /// The lease per delivery; 0 uses the queue's default.
    public var leaseMs: UInt32

    /// Creates the request.
    public init(queue: ObjectName, prefetch: UInt32, leaseMs: UInt32 = 0) {
        self.queue = queue
        self.prefetch = prefetch
        self.leaseMs = leaseMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(queue)
        writer.write(prefetch)
        writer.write(leaseMs)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        queue = try reader.read()
        // 0 subscribes paused (a client re-subscribing a consumer it paused with `setPrefetch`).
        prefetch = try reader.readUInt32("subscribe.prefetch")
        leaseMs = try reader.readUInt32("subscribe.leaseMs")
    }
}

/// Changes a subscription's credit window.
public struct PrefetchRequest: WireCodable, Hashable {
    public var subscriptionID: SubscriptionID
    public var prefetch: UInt32

    /// Creates the request.
    public init(subscriptionID: SubscriptionID, prefetch: UInt32) {
        self.subscriptionID = subscriptionID
        self.prefetch = prefetch
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(subscriptionID)
        writer.write(prefetch)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        subscriptionID = try reader.readID("prefetch.subscription")
        // 0 pauses the subscription.
        prefetch = try reader.readUInt32("prefetch.prefetch")
    }
}

/// One leased message pushed to a subscription.
public struct Delivery: WireCodable, Hashable {
    public var subscriptionID: SubscriptionID
    public var queue: ObjectName
    public var messageID: MessageID
    /// Names this lease; settle and extend calls must present it.
    public var leaseToken: LeaseToken
    /// 1 on the first delivery, raised on every redelivery.
    public var deliveryCount: UInt32
    public var priority: UInt8
    /// Leader time of the publish, milliseconds since the Unix epoch.
    public var publishedAtMs: UInt64
    /// Leader time at which the lease ends unless extended.
    public var leaseExpiresAtMs: UInt64
    public var headers: [String: String]
    public var body: [UInt8]

    /// Creates a delivery.
    public init(
        subscriptionID: SubscriptionID, queue: ObjectName, messageID: MessageID, leaseToken: LeaseToken,
        deliveryCount: UInt32, priority: UInt8 = 0, publishedAtMs: UInt64 = 0, leaseExpiresAtMs: UInt64 = 0,
        headers: [String: String] = [:], body: [UInt8]
    ) {
        self.subscriptionID = subscriptionID
        self.queue = queue
        self.messageID = messageID
        self.leaseToken = leaseToken
        self.deliveryCount = deliveryCount
        self.priority = priority
        self.publishedAtMs = publishedAtMs
        self.leaseExpiresAtMs = leaseExpiresAtMs
        self.headers = headers
        self.body = body
    }

    /// The handle to settle or extend this delivery with.
    public var lease: LeaseHandle { LeaseHandle(messageID: messageID, leaseToken: leaseToken) }

    public func encode(to writer: inout WireWriter) {
        writer.write(subscriptionID)
        writer.write(queue)
        encodeItem(to: &writer)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        let subscriptionID: SubscriptionID = try reader.readID("delivery.subscription")
        let queue: ObjectName = try reader.read()
        try self.init(subscriptionID: subscriptionID, queue: queue, itemFrom: &reader)
    }

    /// The fields after the subscription and the queue: a whole `delivery` push after those two, and one item of
    /// a `deliveries` push, which writes them once for all its items.
    func encodeItem(to writer: inout WireWriter) {
        writer.write(messageID)
        writer.write(leaseToken)
        writer.write(deliveryCount)
        writer.write(priority)
        writer.write(publishedAtMs)
        writer.write(leaseExpiresAtMs)
        writer.write(headers)
        writer.writeBytes(body)
    }

    /// Reads the fields `encodeItem` writes, for a delivery of `subscriptionID` on `queue`.
    init(subscriptionID: SubscriptionID, queue: ObjectName, itemFrom reader: inout WireReader) throws(FrameError) {
        self.subscriptionID = subscriptionID
        self.queue = queue
        messageID = try reader.readID("delivery.messageID")
        leaseToken = try reader.readID("delivery.leaseToken")
        deliveryCount = try reader.readUInt32("delivery.count")
        priority = try reader.readUInt8("delivery.priority")
        publishedAtMs = try reader.readUInt64("delivery.publishedAt")
        leaseExpiresAtMs = try reader.readUInt64("delivery.leaseExpiresAt")
        headers = try reader.readMap("delivery.headers")
        body = try reader.readBytes("delivery.body")
    }
}

/// Several leased messages of one subscription in one push frame (protocol version 2 and later). The subscription
/// and the queue are written once; each item carries the fields that differ between deliveries. A server sends it
/// only on connections that negotiated version 2 or later, and never with more than
/// `WireProtocol.deliveriesPerBatchMax` items.
public struct DeliveryBatch: WireCodable, Hashable {
    public let subscriptionID: SubscriptionID
    public let queue: ObjectName
    /// At least one delivery, each with this batch's `subscriptionID` and `queue`.
    public let deliveries: [Delivery]

    /// Creates the batch. Every delivery must belong to `subscriptionID` and `queue`; there must be between 1 and
    /// `WireProtocol.deliveriesPerBatchMax` of them.
    public init(subscriptionID: SubscriptionID, queue: ObjectName, deliveries: [Delivery]) {
        precondition(
            (1...WireProtocol.deliveriesPerBatchMax).contains(deliveries.count),
            "a delivery batch holds 1...\(WireProtocol.deliveriesPerBatchMax) deliveries, not \(deliveries.count)")
        for delivery in deliveries {
            precondition(
                delivery.subscriptionID == subscriptionID && delivery.queue == queue,
                "delivery \(delivery.messageID) of \(delivery.subscriptionID) in a batch of \(subscriptionID)")
        }
        self.subscriptionID = subscriptionID
        self.queue = queue
        self.deliveries = deliveries
    }

    /// The smallest encoded item: messageID, leaseToken, deliveryCount, priority, publishedAtMs,
    /// leaseExpiresAtMs, an empty header map and an empty body.
    static let itemBytesMin = 8 + 8 + 4 + 1 + 8 + 8 + 4 + 4

    /// An upper estimate of the encoded size when headers are small, to size the writer once.
    var encodedBytesEstimate: Int {
        deliveries.reduce(64 + queue.namespace.utf8.count + queue.name.utf8.count) {
            $0 + Self.itemBytesMin + $1.body.count + ($1.headers.isEmpty ? 0 : 256)
        }
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(subscriptionID)
        writer.write(queue)
        writer.writeArray(deliveries) { writer, delivery in delivery.encodeItem(to: &writer) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        let subscriptionID: SubscriptionID = try reader.readID("deliveries.subscription")
        let queue: ObjectName = try reader.read()
        let deliveries = try reader.readArray("deliveries.items", elementBytesMin: Self.itemBytesMin) {
            r throws(FrameError) in try Delivery(subscriptionID: subscriptionID, queue: queue, itemFrom: &r)
        }
        guard (1...WireProtocol.deliveriesPerBatchMax).contains(deliveries.count) else {
            throw FrameError(.invalidValue(field: "deliveries.items"))
        }
        self.subscriptionID = subscriptionID
        self.queue = queue
        self.deliveries = deliveries
    }
}

/// Names one lease of one message.
public struct LeaseHandle: WireCodable, Hashable {
    public var messageID: MessageID
    public var leaseToken: LeaseToken

    /// Creates the handle.
    public init(messageID: MessageID, leaseToken: LeaseToken) {
        self.messageID = messageID
        self.leaseToken = leaseToken
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(messageID)
        writer.write(leaseToken)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        messageID = try reader.readID("lease.messageID")
        leaseToken = try reader.readID("lease.token")
    }
}

/// Acks, nacks or rejects leased messages of one queue (one Raft command for the whole list).
public struct SettleRequest: WireCodable, Hashable {
    public var queue: ObjectName
    /// At least one lease.
    public var leases: [LeaseHandle]

    /// Creates the request.
    public init(queue: ObjectName, leases: [LeaseHandle]) {
        self.queue = queue
        self.leases = leases
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(queue)
        writer.writeArray(leases) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        queue = try reader.read()
        leases = try reader.readArray("settle.leases", elementBytesMin: 16) { r throws(FrameError) in try r.read() }
        guard !leases.isEmpty else { throw FrameError(.invalidValue(field: "settle.leases")) }
    }
}

/// Pushes back the lease expiry of leased messages to `now + extendMs` (leader time).
public struct ExtendLeaseRequest: WireCodable, Hashable {
    public var queue: ObjectName
    public var leases: [LeaseHandle]
    public var extendMs: UInt32

    /// Creates the request.
    public init(queue: ObjectName, leases: [LeaseHandle], extendMs: UInt32) {
        self.queue = queue
        self.leases = leases
        self.extendMs = extendMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(queue)
        writer.writeArray(leases) { $0.write($1) }
        writer.write(extendMs)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        queue = try reader.read()
        leases = try reader.readArray("extend.leases", elementBytesMin: 16) { r throws(FrameError) in try r.read() }
        guard !leases.isEmpty else { throw FrameError(.invalidValue(field: "extend.leases")) }
        extendMs = try reader.readUInt32("extend.ms")
    }
}

/// Tells a client that the server ended a subscription (leadership lost, queue deleted, exclusive consumer
/// displaced). The client decides whether to re-subscribe, following `error`.
public struct SubscriptionEnded: WireCodable, Hashable {
    public var subscriptionID: SubscriptionID
    public var error: WireError

    /// Creates the notice.
    public init(subscriptionID: SubscriptionID, error: WireError) {
        self.subscriptionID = subscriptionID
        self.error = error
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(subscriptionID)
        writer.write(error)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        subscriptionID = try reader.readID("ended.subscription")
        error = try reader.read()
    }
}
