/// Every bound the broker enforces, with its unit in the name. Commands exceeding one are rejected with
/// `BrokerError.Code.limitExceeded` (or `.invalidArgument`), and the decoder refuses longer fields.
public enum BrokerLimits {
    /// Namespace, queue, exchange, topic, group, consumer and producer-group names.
    public static let nameBytesMax = 200
    /// AMQP routing keys and binding keys.
    public static let routingKeyBytesMax = 255
    /// The client-chosen message id.
    public static let clientIDBytesMax = 255
    /// Headers per message or per binding.
    public static let headerCountMax = 64
    public static let headerNameBytesMax = 255
    public static let headerValueBytesMax = 4096
    /// One message body or record value.
    public static let bodyBytesMax = 4 << 20
    /// One record key.
    public static let keyBytesMax = 4096
    /// Messages in one publish, records in one append.
    public static let messagesPerCommandMax = 10_000
    /// Sub-commands in one `Command.batch`.
    public static let batchCommandsMax = 100_000
    /// Nesting of `Command.batch` (a batch may hold batches one level deep).
    public static let batchDepthMax = 2
    /// Messages one receive may lease.
    public static let receiveMessagesMax = 1_000
    /// Lease ids in one ack, nack or extend.
    public static let leaseIDsPerCommandMax = 10_000
    /// Visibility timeout (lease duration) range.
    public static let visibilityMsMin: Int64 = 1
    public static let visibilityMsMax: Int64 = 12 * 3_600_000
    /// Message TTL and delay range (one year).
    public static let ttlMsMax: Int64 = 365 * 86_400_000
    public static let delayMsMax: Int64 = 365 * 86_400_000
    /// Topic time retention (100 years).
    public static let retentionMsMax: Int64 = 100 * 365 * 86_400_000
    /// Command times are clamped to 0 ... timeMsMax (about 35,000 years of ms), so that adding any bounded
    /// duration to the clock can never overflow.
    public static let timeMsMax: Int64 = 1 << 50
    /// Priority levels are 0 ... priorityMax; higher is delivered first.
    public static let priorityMax: UInt8 = 9
    /// Delivery-count ceiling a queue may configure.
    public static let maxDeliveriesMax: UInt16 = 10_000
    /// Delayed (not yet visible) messages per queue.
    public static let delayedPerQueueMax = 10_000_000
    /// How many times one message may be dead-lettered; beyond this it is discarded, which ends DLQ loops.
    public static let deadLetterHopsMax: UInt8 = 8
    /// How many alternate exchanges one publish may follow.
    public static let alternateExchangeDepthMax = 4
    /// Partitions per topic.
    public static let partitionsMax = 1_024
    /// Members per consumer group.
    public static let groupMembersMax = 1_024
    /// Session timeout range for group members.
    public static let sessionTimeoutMsMin: Int64 = 100
    public static let sessionTimeoutMsMax: Int64 = 3_600_000
    /// Records one fetch may return.
    public static let fetchRecordsMax = 10_000
    /// Live idempotent producers; the least recently used idle one is forgotten beyond this.
    public static let producersMax = 100_000
    /// Recent results remembered per (producer, target), answered again for duplicates.
    public static let producerResultWindow = 8
    /// Open transactions at once.
    public static let openTransactionsMax = 10_000
    /// Buffered operations and bytes in one transaction.
    public static let transactionOpsMax = 10_000
    public static let transactionBytesMax = 64 << 20
    /// Transaction timeout range.
    public static let transactionTimeoutMsMin: Int64 = 100
    public static let transactionTimeoutMsMax: Int64 = 15 * 60_000
    /// Finished transaction outcomes remembered so a late commit/abort gets a precise answer.
    public static let finishedTransactionsRemembered = 4_096
    /// Half messages pending at once.
    public static let halfMessagesMax = 100_000
    /// Checkback interval range and the largest check count a producer may configure.
    public static let checkIntervalMsMin: Int64 = 100
    public static let checkIntervalMsMax: Int64 = 3_600_000
    public static let halfChecksMax: UInt32 = 100
    /// Entities per state machine.
    public static let namespacesMax = 10_000
    public static let entitiesPerNamespaceMax = 100_000
    public static let bindingsPerExchangeMax = 10_000
    /// Due timers processed by one `apply`; the rest fire on the next command (normally a tick).
    public static let timersPerApplyMax = 100_000
}
