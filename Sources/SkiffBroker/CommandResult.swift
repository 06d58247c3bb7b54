/// The outcome of applying one command.
public enum CommandResult: Hashable, Sendable {
    case ok(ResultValue)
    case error(BrokerError)

    /// The error, if the command failed.
    public var error: BrokerError? {
        if case .error(let error) = self { return error }
        return nil
    }
}

/// What a successful command returns.
public enum ResultValue: Hashable, Sendable {
    case none
    /// Sub-results of a `Command.batch`, in order.
    case batch([CommandResult])
    /// A publish (or committed half message): the broker sequence of every stored copy, and how many
    /// queues received each message (1 for a direct queue publish).
    case published(PublishReceipt)
    /// An append: one position per record, in request order.
    case appended([RecordPosition])
    /// A receive: the leased messages (possibly none).
    case delivered([DeliveredMessage])
    /// Acks, nacks, extends, purges and releases: how many messages were affected.
    case count(UInt64)
    case producer(ProducerID)
    case transaction(TransactionID)
    case halfMessage(HalfMessageID)
    /// A join or heartbeat: the member's current assignment.
    case assignment(GroupAssignment)
}

/// The result of a publish.
public struct PublishReceipt: Hashable, Sendable {
    /// Sequences of all stored copies, in message order then queue order.
    public var sequences: [MessageSeq]
    /// Per message: how many queues it was routed to.
    public var routedQueues: [UInt32]
    public init(sequences: [MessageSeq], routedQueues: [UInt32]) {
        self.sequences = sequences
        self.routedQueues = routedQueues
    }
}

/// Where an appended record landed.
public struct RecordPosition: Hashable, Sendable {
    public var partition: UInt32
    public var offset: Offset
    public init(partition: UInt32, offset: Offset) {
        self.partition = partition
        self.offset = offset
    }
}

/// A message handed to a consumer under a lease.
public struct DeliveredMessage: Hashable, Sendable {
    public var lease: LeaseID
    public var sequence: MessageSeq
    /// The client-chosen id from `OutgoingMessage.id`.
    public var id: String
    public var body: [UInt8]
    /// The original headers, plus `x-death-reason`, `x-original-queue` and `x-death-count` for dead letters.
    public var headers: [Header]
    public var priority: UInt8
    /// 1 on the first delivery.
    public var deliveryCount: UInt16
    /// Leader time (ms) at which the lease expires.
    public var leaseDeadline: Int64
}

/// A member's view of its group after a join or heartbeat.
public struct GroupAssignment: Hashable, Sendable {
    public var generation: UInt64
    public var partitions: [UInt32]
    public init(generation: UInt64, partitions: [UInt32]) {
        self.generation = generation
        self.partitions = partitions
    }
}

/// Something the shell must act on after an apply. Events are deterministic outputs, identical on every replica;
/// normally only the leader's shell acts on them.
public enum BrokerEvent: Hashable, Sendable {
    /// A queue gained ready messages (publish, delay elapsed, requeue, lease expiry): feed its push consumers.
    case messagesAvailable(namespace: String, queue: String, ready: UInt64)
    /// A topic partition grew: wake long-polling fetchers.
    case recordsAppended(namespace: String, topic: String, partition: UInt32, endOffset: Offset)
    /// Leases expired; the messages were requeued or dead-lettered.
    case leasesExpired(namespace: String, queue: String, consumer: String, leases: [LeaseID])
    /// A group's assignment changed. Members learn it on their next heartbeat (`staleGeneration`).
    case groupRebalanced(GroupRef, generation: UInt64, assignment: [String: [UInt32]])
    /// A half message is still undecided: ask a live producer of `producerGroup` for its outcome.
    case checkback(HalfCheck)
    /// A half message was rolled back after its last unanswered check.
    case halfMessageRolledBack(HalfMessageID, producerGroup: String)
    /// A transaction was aborted by its timeout.
    case transactionTimedOut(TransactionID, producer: ProducerID)
}

/// A checkback request for one half message.
public struct HalfCheck: Hashable, Sendable {
    public var half: HalfMessageID
    public var producerGroup: String
    public var namespace: String
    public var target: PublishTarget
    /// The message's client id, so the producer can look up its local transaction.
    public var messageID: String
    /// The half message as prepared (id, body, headers, priority), for the producer's checker: like a
    /// RocketMQ checker, it may need the body or headers to find its local transaction.
    public var message: OutgoingMessage
    /// 1 for the first check.
    public var check: UInt32

    /// Creates the event (the broker does; shells and tests may build one to test their mapping).
    public init(
        half: HalfMessageID, producerGroup: String, namespace: String, target: PublishTarget, messageID: String,
        message: OutgoingMessage, check: UInt32
    ) {
        self.half = half
        self.producerGroup = producerGroup
        self.namespace = namespace
        self.target = target
        self.messageID = messageID
        self.message = message
        self.check = check
    }
}

/// Queue statistics (a read-only query).
public struct QueueStats: Hashable, Sendable {
    public var namespace: String
    public var queue: String
    public var ready: UInt64
    public var leased: UInt64
    public var delayed: UInt64
    /// Messages this queue has moved to its dead-letter queue since it was declared.
    public var deadLettered: UInt64
    /// Messages discarded (dropped by overflow, or dead-lettered with no usable dead-letter queue).
    public var discarded: UInt64
    /// Messages stored into the queue (published, routed or dead-lettered in) since it was declared.
    public var published: UInt64
    /// Leases granted (deliveries and redeliveries) since it was declared.
    public var delivered: UInt64
    /// Messages acked since it was declared.
    public var acked: UInt64
    /// Body bytes of ready messages.
    public var readyBytes: UInt64
    /// Body bytes of all held messages (ready, delayed, leased).
    public var bytes: UInt64
    public var activeConsumer: String?
    public var arguments: QueueArguments
}

/// A record read from a topic.
public struct TopicRecord: Hashable, Sendable {
    public var offset: Offset
    /// Append time (leader ms).
    public var timestamp: Int64
    public var key: [UInt8]?
    /// nil for a tombstone.
    public var value: [UInt8]?
    public var headers: [Header]
}

/// The answer to a fetch.
public struct FetchResult: Hashable, Sendable {
    public var records: [TopicRecord]
    /// The first offset still stored.
    public var logStartOffset: Offset
    /// The offset the next appended record will get.
    public var endOffset: Offset
}

/// A group's state (a read-only query).
public struct GroupInfo: Hashable, Sendable {
    public var generation: UInt64
    /// Member -> owned partitions.
    public var assignment: [String: [UInt32]]
    /// Committed next-offset per partition (nil: nothing committed).
    public var committed: [Offset?]
}

/// Topic description (a read-only query).
public struct TopicInfo: Hashable, Sendable {
    public var namespace: String
    public var topic: String
    public var arguments: TopicArguments
    public var logStartOffsets: [Offset]
    public var endOffsets: [Offset]
    public var groups: [String]
}

/// Exchange description (a read-only query).
public struct ExchangeInfo: Hashable, Sendable {
    public var namespace: String
    public var exchange: String
    public var kind: ExchangeKind
    public var alternateExchange: String?
    /// (queue, binding key, headers match).
    public var bindings: [BindingInfo]
}

/// One binding of an exchange.
public struct BindingInfo: Hashable, Sendable {
    public var queue: String
    public var bindingKey: String
    public var headers: HeadersMatch?
}
