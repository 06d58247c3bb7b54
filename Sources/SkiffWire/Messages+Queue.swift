/// Queue, exchange, publish and consume messages.

/// What happens when a queue is full (max length or max bytes).
public enum OverflowPolicy: UInt8, Sendable, Hashable, CaseIterable {
    /// Drop (or dead-letter, if a target is set) the oldest ready message.
    case dropHead = 0
    /// Refuse the publish with `QUEUE_FULL`.
    case rejectPublish = 1
    /// Dead-letter the oldest ready message.
    case deadLetter = 2
}

/// A queue's declared arguments. `nil` means "no limit" / "not set".
public struct QueueArguments: WireCodable, Hashable {
    /// The queue that receives dead-lettered messages, in the same namespace.
    public var deadLetterQueue: String?
    /// Deliveries after which a message is dead-lettered.
    public var maxDeliveries: UInt32?
    /// Per-queue message time-to-live.
    public var messageTTLMs: UInt64?
    /// Maximum ready messages.
    public var maxLength: UInt64?
    /// Maximum ready body bytes.
    public var maxBytes: UInt64?
    public var overflow: OverflowPolicy
    /// Single-active-consumer: only one subscription receives deliveries at a time.
    public var exclusive: Bool
    /// Default lease (visibility timeout) for deliveries; nil uses the broker default.
    public var leaseMs: UInt32?

    /// Creates arguments; the defaults describe an unbounded, non-exclusive queue.
    public init(
        deadLetterQueue: String? = nil, maxDeliveries: UInt32? = nil, messageTTLMs: UInt64? = nil,
        maxLength: UInt64? = nil, maxBytes: UInt64? = nil, overflow: OverflowPolicy = .dropHead,
        exclusive: Bool = false, leaseMs: UInt32? = nil
    ) {
        self.deadLetterQueue = deadLetterQueue
        self.maxDeliveries = maxDeliveries
        self.messageTTLMs = messageTTLMs
        self.maxLength = maxLength
        self.maxBytes = maxBytes
        self.overflow = overflow
        self.exclusive = exclusive
        self.leaseMs = leaseMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeOptional(deadLetterQueue) { $0.write($1) }
        writer.writeOptional(maxDeliveries) { $0.write($1) }
        writer.writeOptional(messageTTLMs) { $0.write($1) }
        writer.writeOptional(maxLength) { $0.write($1) }
        writer.writeOptional(maxBytes) { $0.write($1) }
        writer.write(overflow.rawValue)
        writer.write(exclusive)
        writer.writeOptional(leaseMs) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        deadLetterQueue = try reader.readOptional("queue.deadLetter") { r throws(FrameError) in
            try r.readString("queue.deadLetter")
        }
        maxDeliveries = try reader.readOptional("queue.maxDeliveries") { r throws(FrameError) in
            try r.readUInt32("queue.maxDeliveries")
        }
        messageTTLMs = try reader.readOptional("queue.ttl") { r throws(FrameError) in try r.readUInt64("queue.ttl") }
        maxLength = try reader.readOptional("queue.maxLength") { r throws(FrameError) in
            try r.readUInt64("queue.maxLength")
        }
        maxBytes = try reader.readOptional("queue.maxBytes") { r throws(FrameError) in
            try r.readUInt64("queue.maxBytes")
        }
        overflow = try reader.readEnum("queue.overflow")
        exclusive = try reader.readBool("queue.exclusive")
        leaseMs = try reader.readOptional("queue.leaseMs") { r throws(FrameError) in try r.readUInt32("queue.leaseMs") }
    }
}

/// Declares a queue; declaring an existing queue with equal arguments succeeds, with different ones fails
/// with `ALREADY_EXISTS`.
public struct QueueDeclareRequest: WireCodable, Hashable {
    public var queue: ObjectName
    public var arguments: QueueArguments

    /// Creates the request.
    public init(queue: ObjectName, arguments: QueueArguments = QueueArguments()) {
        self.queue = queue
        self.arguments = arguments
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(queue)
        writer.write(arguments)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        queue = try reader.read()
        arguments = try reader.read()
    }
}

/// A queue's counters and arguments.
public struct QueueStats: WireCodable, Hashable {
    public var name: String
    /// Messages that can be delivered now.
    public var ready: UInt64
    /// Messages delivered and not yet settled.
    public var leased: UInt64
    /// Messages waiting for their delay to pass (or invisible half messages).
    public var delayed: UInt64
    /// Messages this queue has dead-lettered since it was declared.
    public var deadLettered: UInt64
    /// Body bytes of ready, leased and delayed messages.
    public var bytes: UInt64
    /// Active subscriptions on the answering node.
    public var consumers: UInt32
    public var arguments: QueueArguments
    /// Cumulative since the queue was declared (Prometheus-style counters: rates are their derivatives):
    /// messages stored into the queue, leases granted, messages acked, messages discarded.
    public var published: UInt64
    public var delivered: UInt64
    public var acked: UInt64
    public var discarded: UInt64

    /// Creates the stats.
    public init(
        name: String, ready: UInt64, leased: UInt64, delayed: UInt64, deadLettered: UInt64, bytes: UInt64,
        consumers: UInt32, arguments: QueueArguments, published: UInt64 = 0, delivered: UInt64 = 0,
        acked: UInt64 = 0, discarded: UInt64 = 0
    ) {
        self.published = published
        self.delivered = delivered
        self.acked = acked
        self.discarded = discarded
        self.name = name
        self.ready = ready
        self.leased = leased
        self.delayed = delayed
        self.deadLettered = deadLettered
        self.bytes = bytes
        self.consumers = consumers
        self.arguments = arguments
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(name)
        for value in [ready, leased, delayed, deadLettered, bytes] { writer.write(value) }
        writer.write(consumers)
        writer.write(arguments)
        for value in [published, delivered, acked, discarded] { writer.write(value) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        name = try reader.readString("stats.name")
        ready = try reader.readUInt64("stats.ready")
        leased = try reader.readUInt64("stats.leased")
        delayed = try reader.readUInt64("stats.delayed")
        deadLettered = try reader.readUInt64("stats.deadLettered")
        bytes = try reader.readUInt64("stats.bytes")
        consumers = try reader.readUInt32("stats.consumers")
        arguments = try reader.read()
        published = try reader.readUInt64("stats.published")
        delivered = try reader.readUInt64("stats.delivered")
        acked = try reader.readUInt64("stats.acked")
        discarded = try reader.readUInt64("stats.discarded")
    }
}

/// An exchange's routing type (AMQP 0-9-1 semantics).
public enum ExchangeType: UInt8, Sendable, Hashable, CaseIterable {
    case direct = 0
    case fanout = 1
    case topic = 2
    case headers = 3
}

/// Declares an exchange, or describes one in `exchangeList`.
public struct ExchangeInfo: WireCodable, Hashable {
    public var exchange: ObjectName
    public var type: ExchangeType
    /// Where unroutable messages go, in the same namespace.
    public var alternateExchange: String?

    /// Creates the declaration.
    public init(exchange: ObjectName, type: ExchangeType, alternateExchange: String? = nil) {
        self.exchange = exchange
        self.type = type
        self.alternateExchange = alternateExchange
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(exchange)
        writer.write(type.rawValue)
        writer.writeOptional(alternateExchange) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        exchange = try reader.read()
        type = try reader.readEnum("exchange.type")
        alternateExchange = try reader.readOptional("exchange.alternate") { r throws(FrameError) in
            try r.readString("exchange.alternate")
        }
    }
}

/// Binds a queue to an exchange (or removes the binding).
public struct BindRequest: WireCodable, Hashable {
    public var namespace: String
    public var exchange: String
    public var queue: String
    /// The routing or pattern key (`*` and `#` wildcards for topic exchanges).
    public var bindingKey: String
    /// Header values to match for headers exchanges.
    public var headers: [String: String]
    /// Headers exchanges: `x-match all` when true, `any` when false.
    public var matchAll: Bool

    /// Creates the request.
    public init(
        namespace: String, exchange: String, queue: String, bindingKey: String = "",
        headers: [String: String] = [:], matchAll: Bool = true
    ) {
        self.namespace = namespace
        self.exchange = exchange
        self.queue = queue
        self.bindingKey = bindingKey
        self.headers = headers
        self.matchAll = matchAll
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(exchange)
        writer.write(queue)
        writer.write(bindingKey)
        writer.write(headers)
        writer.write(matchAll)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("bind.namespace")
        exchange = try reader.readString("bind.exchange")
        queue = try reader.readString("bind.queue")
        bindingKey = try reader.readString("bind.key")
        headers = try reader.readMap("bind.headers")
        matchAll = try reader.readBool("bind.matchAll")
    }
}

/// One message to publish.
public struct OutgoingMessage: WireCodable, Hashable {
    public var body: [UInt8]
    public var headers: [String: String]
    /// 0 (lowest) to 9 (highest); FIFO within a level.
    public var priority: UInt8
    /// Per-message time-to-live.
    public var ttlMs: UInt64?
    /// Invisible for this long after publish.
    public var delayMs: UInt64?
    /// Invisible until this leader time (milliseconds since the Unix epoch); wins over `delayMs`.
    public var deliverAtMs: UInt64?

    /// Creates a message.
    public init(
        body: [UInt8], headers: [String: String] = [:], priority: UInt8 = 0, ttlMs: UInt64? = nil,
        delayMs: UInt64? = nil, deliverAtMs: UInt64? = nil
    ) {
        self.body = body
        self.headers = headers
        self.priority = priority
        self.ttlMs = ttlMs
        self.delayMs = delayMs
        self.deliverAtMs = deliverAtMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(priority)
        writer.writeOptional(ttlMs) { $0.write($1) }
        writer.writeOptional(delayMs) { $0.write($1) }
        writer.writeOptional(deliverAtMs) { $0.write($1) }
        writer.write(headers)
        writer.writeBytes(body)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        priority = try reader.readUInt8("message.priority")
        guard priority <= 9 else { throw FrameError(.invalidValue(field: "message.priority")) }
        ttlMs = try reader.readOptional("message.ttl") { r throws(FrameError) in try r.readUInt64("message.ttl") }
        delayMs = try reader.readOptional("message.delay") { r throws(FrameError) in try r.readUInt64("message.delay") }
        deliverAtMs = try reader.readOptional("message.deliverAt") { r throws(FrameError) in
            try r.readUInt64("message.deliverAt")
        }
        headers = try reader.readMap("message.headers")
        body = try reader.readBytes("message.body")
    }
}

/// Where a publish goes.
public enum PublishTarget: WireCodable, Hashable {
    /// Straight into one queue.
    case queue(String)
    /// Through an exchange, routed by key (and headers).
    case exchange(String, routingKey: String)

    /// The queue or exchange name.
    public var name: String {
        switch self {
        case .queue(let name), .exchange(let name, _): return name
        }
    }

    public func encode(to writer: inout WireWriter) {
        switch self {
        case .queue(let name):
            writer.write(UInt8(0))
            writer.write(name)
        case .exchange(let name, let key):
            writer.write(UInt8(1))
            writer.write(name)
            writer.write(key)
        }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        switch try reader.readUInt8("target.tag") {
        case 0: self = .queue(try reader.readString("target.queue"))
        case 1:
            let name = try reader.readString("target.exchange")
            self = .exchange(name, routingKey: try reader.readString("target.routingKey"))
        default: throw FrameError(.invalidValue(field: "target.tag"))
        }
    }
}

/// An idempotent producer's identity and the sequence number of the first message in a request. Message
/// `i` of the request carries `sequence + i`. Sequences count per (producer, namespace, target).
public struct ProducerStamp: WireCodable, Hashable {
    public var producerID: ProducerID
    public var sequence: SequenceNumber

    /// Creates the stamp.
    public init(producerID: ProducerID, sequence: SequenceNumber) {
        self.producerID = producerID
        self.sequence = sequence
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(producerID)
        writer.write(sequence)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        producerID = try reader.readID("producer.id")
        sequence = try reader.readID("producer.sequence")
    }
}

/// Publishes one or more messages (a batch is one atomic Raft command).
public struct PublishRequest: WireCodable, Hashable {
    public var namespace: String
    public var target: PublishTarget
    /// Set for idempotent publishes; nil for fire-and-forget duplicates-possible publishes.
    public var producer: ProducerStamp?
    /// At least one message.
    public var messages: [OutgoingMessage]

    /// Creates the request.
    public init(namespace: String, target: PublishTarget, producer: ProducerStamp? = nil, messages: [OutgoingMessage]) {
        self.namespace = namespace
        self.target = target
        self.producer = producer
        self.messages = messages
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(target)
        writer.writeOptional(producer) { $0.write($1) }
        writer.writeArray(messages) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("publish.namespace")
        target = try reader.read()
        producer = try reader.readOptional("publish.producer") { r throws(FrameError) in try r.read() }
        messages = try reader.readArray("publish.messages", elementBytesMin: 8) { r throws(FrameError) in try r.read() }
        guard !messages.isEmpty else { throw FrameError(.invalidValue(field: "publish.messages")) }
    }
}

/// The outcome of a publish: one id per message, in request order.
public struct PublishResult: WireCodable, Hashable {
    public var messageIDs: [MessageID]
    /// True when the broker recognised the request as a retry and returned the original ids.
    public var duplicate: Bool

    /// Creates the result.
    public init(messageIDs: [MessageID], duplicate: Bool = false) {
        self.messageIDs = messageIDs
        self.duplicate = duplicate
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeArray(messageIDs) { $0.write($1) }
        writer.write(duplicate)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        messageIDs = try reader.readArray("published.ids", elementBytesMin: 8) { r throws(FrameError) in
            try r.readID("published.id")
        }
        duplicate = try reader.readBool("published.duplicate")
    }
}
