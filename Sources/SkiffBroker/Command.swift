/// A message header (name/value pair). Order is preserved; names may repeat.
public struct Header: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// When a published message becomes visible.
public enum DeliveryTime: Hashable, Sendable {
    /// Visible as soon as the publish applies.
    case now
    /// Visible `ms` milliseconds after the publish's command time.
    case delayMs(Int64)
    /// Visible at the given leader time (milliseconds since the Unix epoch). A time in the past means now.
    case at(Int64)
}

/// One message as a producer sends it.
public struct OutgoingMessage: Hashable, Sendable {
    /// The client-chosen message id (may be empty); returned with every delivery.
    public var id: String
    public var body: [UInt8]
    public var headers: [Header]
    /// 0 ... 9; higher is delivered first.
    public var priority: UInt8
    /// Per-message time to live in ms; nil means the queue's TTL (if any). The shorter of the two applies.
    public var ttlMs: Int64?
    public var deliveryTime: DeliveryTime

    public init(
        id: String = "", body: [UInt8], headers: [Header] = [], priority: UInt8 = 0, ttlMs: Int64? = nil,
        deliveryTime: DeliveryTime = .now
    ) {
        self.id = id
        self.body = body
        self.headers = headers
        self.priority = priority
        self.ttlMs = ttlMs
        self.deliveryTime = deliveryTime
    }
}

/// Where a publish goes: straight to a queue, or through an exchange with a routing key.
public enum PublishTarget: Hashable, Sendable {
    case queue(String)
    case exchange(String, routingKey: String)
}

/// The idempotence stamp of a producer: its cluster-allocated id and its next sequence number for the target.
public struct ProducerStamp: Hashable, Sendable {
    public var producer: ProducerID
    /// Starts at 0 for each (producer, target) and grows by one per accepted command.
    public var sequence: UInt64
    public init(producer: ProducerID, sequence: UInt64) {
        self.producer = producer
        self.sequence = sequence
    }
}

/// A publish of one or more messages to one target. All messages are stored, or none.
public struct PublishRequest: Hashable, Sendable {
    public var namespace: String
    public var target: PublishTarget
    public var messages: [OutgoingMessage]
    public var producer: ProducerStamp?
    public init(namespace: String, target: PublishTarget, messages: [OutgoingMessage], producer: ProducerStamp? = nil) {
        self.namespace = namespace
        self.target = target
        self.messages = messages
        self.producer = producer
    }
}

/// What a full queue does with one more message.
public enum OverflowPolicy: UInt8, Hashable, Sendable {
    /// Discard the head (oldest message of the lowest non-empty priority level) to make room.
    case dropHead = 0
    /// Refuse the publish with `queueFull`.
    case rejectPublish = 1
    /// Dead-letter the head (reason `maxlen`) to make room.
    case deadLetter = 2
}

/// Queue declaration arguments. Redeclaring a queue with equal arguments is a no-op; different ones fail.
public struct QueueArguments: Hashable, Sendable {
    /// Max ready messages; nil is unbounded.
    public var maxLength: UInt64?
    /// Max ready body bytes; nil is unbounded.
    public var maxBytes: UInt64?
    public var overflow: OverflowPolicy
    /// Queue-wide message TTL in ms.
    public var messageTTLMs: Int64?
    /// Queue (same namespace) receiving dead letters; nil discards them.
    public var deadLetterQueue: String?
    /// After this many deliveries an unacked message is dead-lettered (reason `maxdeliveries`); nil is unbounded.
    public var maxDeliveries: UInt16?
    /// Only one consumer at a time receives (strict in-order processing).
    public var singleActiveConsumer: Bool

    public init(
        maxLength: UInt64? = nil, maxBytes: UInt64? = nil, overflow: OverflowPolicy = .dropHead,
        messageTTLMs: Int64? = nil, deadLetterQueue: String? = nil, maxDeliveries: UInt16? = nil,
        singleActiveConsumer: Bool = false
    ) {
        self.maxLength = maxLength
        self.maxBytes = maxBytes
        self.overflow = overflow
        self.messageTTLMs = messageTTLMs
        self.deadLetterQueue = deadLetterQueue
        self.maxDeliveries = maxDeliveries
        self.singleActiveConsumer = singleActiveConsumer
    }
}

/// AMQP 0-9-1 exchange types.
public enum ExchangeKind: UInt8, Hashable, Sendable {
    case direct = 0
    case fanout = 1
    case topic = 2
    case headers = 3
}

/// Headers-exchange binding arguments: match all or any of `headers` (names starting `x-` are ignored).
public struct HeadersMatch: Hashable, Sendable {
    public var matchAll: Bool
    public var headers: [Header]
    public init(matchAll: Bool, headers: [Header]) {
        self.matchAll = matchAll
        self.headers = headers
    }
}

/// Topic creation arguments.
public struct TopicArguments: Hashable, Sendable {
    public var partitions: UInt32
    /// Records older than this (by append time) are removed; nil keeps them.
    public var retentionMs: Int64?
    /// Per partition: the oldest records are removed while the partition's bytes exceed this; nil is unbounded.
    public var retentionBytes: UInt64?
    /// Keep only the latest record per key; a tombstone (nil value) deletes the key.
    public var compact: Bool
    /// How long a tombstone itself stays readable in a compacted topic.
    public var tombstoneRetentionMs: Int64

    public init(
        partitions: UInt32, retentionMs: Int64? = nil, retentionBytes: UInt64? = nil, compact: Bool = false,
        tombstoneRetentionMs: Int64 = 86_400_000
    ) {
        self.partitions = partitions
        self.retentionMs = retentionMs
        self.retentionBytes = retentionBytes
        self.compact = compact
        self.tombstoneRetentionMs = tombstoneRetentionMs
    }
}

/// One record as a producer appends it to a topic.
public struct OutgoingRecord: Hashable, Sendable {
    /// Chooses the partition (FNV-1a 64 of the key, modulo the partition count) unless `partition` is set.
    public var key: [UInt8]?
    /// nil is a tombstone (compacted topics).
    public var value: [UInt8]?
    public var headers: [Header]
    /// An explicit partition; overrides the key hash.
    public var partition: UInt32?

    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [Header] = [], partition: UInt32? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }
}

/// An append of records to one topic. All records are stored, or none.
public struct AppendRequest: Hashable, Sendable {
    public var namespace: String
    public var topic: String
    public var records: [OutgoingRecord]
    public var producer: ProducerStamp?
    public init(namespace: String, topic: String, records: [OutgoingRecord], producer: ProducerStamp? = nil) {
        self.namespace = namespace
        self.topic = topic
        self.records = records
        self.producer = producer
    }
}

/// Names one consumer group of one topic.
public struct GroupRef: Hashable, Sendable {
    public var namespace: String
    public var topic: String
    public var group: String
    public init(namespace: String, topic: String, group: String) {
        self.namespace = namespace
        self.topic = topic
        self.group = group
    }
}

/// A committed position: the next offset the group will read from `partition`.
public struct PartitionOffset: Hashable, Sendable {
    public var partition: UInt32
    public var offset: Offset
    public init(partition: UInt32, offset: Offset) {
        self.partition = partition
        self.offset = offset
    }
}

/// An offset commit by a group member that owns the partitions in `generation`.
public struct OffsetCommit: Hashable, Sendable {
    public var group: GroupRef
    public var member: String
    public var generation: UInt64
    public var offsets: [PartitionOffset]
    public init(group: GroupRef, member: String, generation: UInt64, offsets: [PartitionOffset]) {
        self.group = group
        self.member = member
        self.generation = generation
        self.offsets = offsets
    }
}

/// Where `resetOffsets` moves a group.
public enum ResetTarget: Hashable, Sendable {
    case earliest
    case latest
    /// The first record appended at or after this time (ms); the end of the partition if none.
    case timestamp(Int64)
    /// An explicit offset, which must lie within [log start, end].
    case offset(Offset)
}

/// The outcome a producer reports for a half message.
public enum HalfResolution: UInt8, Hashable, Sendable {
    case commit = 0
    case rollback = 1
    /// Still undecided: the broker keeps checking back.
    case unknown = 2
}

/// A RocketMQ-style half message: stored invisibly until committed.
public struct HalfPrepare: Hashable, Sendable {
    public var namespace: String
    public var target: PublishTarget
    public var message: OutgoingMessage
    /// The producer group that receives checkback events.
    public var producerGroup: String
    public var checkIntervalMs: Int64
    /// After this many unanswered checks the message is rolled back.
    public var maxChecks: UInt32
    public init(
        namespace: String, target: PublishTarget, message: OutgoingMessage, producerGroup: String,
        checkIntervalMs: Int64 = 60_000, maxChecks: UInt32 = 15
    ) {
        self.namespace = namespace
        self.target = target
        self.message = message
        self.producerGroup = producerGroup
        self.checkIntervalMs = checkIntervalMs
        self.maxChecks = maxChecks
    }
}

/// Every operation of the broker. Commands are what the Raft log carries (see `encoded()`).
///
/// Time never travels inside a command: `BrokerStateMachine.apply` receives the leader's timestamp beside it.
public enum Command: Hashable, Sendable {
    /// Many independent commands in one log entry (group commit). Each gets its own result; a failing
    /// sub-command does not undo the others.
    case batch([Command])
    /// Lets time advance when the leader is idle: fires due delays, TTLs, lease expiries, timeouts, checkbacks.
    case tick

    case createNamespace(String)
    /// Fails with `namespaceNotEmpty` unless the namespace has no queues, exchanges or topics.
    case deleteNamespace(String)

    case declareQueue(namespace: String, queue: String, arguments: QueueArguments)
    case deleteQueue(namespace: String, queue: String, ifEmpty: Bool)
    /// Removes ready and delayed messages; leased ones stay until acked or expired.
    case purgeQueue(namespace: String, queue: String)

    case publish(PublishRequest)
    /// Leases up to `maxMessages` ready messages to `consumer` for `visibilityMs`.
    case receive(namespace: String, queue: String, consumer: String, maxMessages: UInt32, visibilityMs: Int64)
    case ack(namespace: String, queue: String, leases: [LeaseID])
    /// `requeue: true` makes the messages ready again (or dead-letters them at max deliveries);
    /// `requeue: false` rejects them to the dead-letter queue (reason `rejected`).
    case nack(namespace: String, queue: String, leases: [LeaseID], requeue: Bool)
    /// Moves each lease's deadline to command time + `visibilityMs`.
    case extendLeases(namespace: String, queue: String, leases: [LeaseID], visibilityMs: Int64)
    /// Returns every message leased to `consumer` (all queues) to ready and drops its single-active claims.
    /// The shell proposes it when a consumer's connection drops.
    case releaseConsumer(String)

    case declareExchange(namespace: String, exchange: String, kind: ExchangeKind, alternateExchange: String?)
    case deleteExchange(namespace: String, exchange: String)
    /// `headers` is only used (and required) for headers exchanges.
    case bind(namespace: String, exchange: String, queue: String, bindingKey: String, headers: HeadersMatch?)
    case unbind(namespace: String, exchange: String, queue: String, bindingKey: String, headers: HeadersMatch?)

    case createTopic(namespace: String, topic: String, arguments: TopicArguments)
    case deleteTopic(namespace: String, topic: String)
    case append(AppendRequest)
    /// Joins (or rejoins) a member; bumps the generation and reassigns partitions.
    case joinGroup(GroupRef, member: String, sessionTimeoutMs: Int64)
    case leaveGroup(GroupRef, member: String)
    case heartbeat(GroupRef, member: String, generation: UInt64)
    case commitOffsets(OffsetCommit)
    /// Moves the committed offsets of `partition` (or every partition when nil).
    case resetOffsets(GroupRef, partition: UInt32?, to: ResetTarget)
    /// Deletes a group and its committed offsets.
    case deleteGroup(GroupRef)

    /// Allocates a producer id. `producerGroup` (may be empty) receives half-message checkbacks.
    case initProducer(producerGroup: String)

    case beginTransaction(producer: ProducerID, timeoutMs: Int64)
    case transactionPublish(TransactionID, PublishRequest)
    case transactionAppend(TransactionID, AppendRequest)
    case transactionCommitOffsets(TransactionID, OffsetCommit)
    case commitTransaction(TransactionID)
    case abortTransaction(TransactionID)

    case prepareHalfMessage(HalfPrepare)
    case resolveHalfMessage(HalfMessageID, HalfResolution)
}
