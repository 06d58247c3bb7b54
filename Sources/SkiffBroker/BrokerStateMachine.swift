import Collections

/// The replicated state machine of Skiff: namespaces, queues, exchanges, topics, consumer groups, idempotent
/// producers, transactions and half messages.
///
/// It is pure and deterministic: no I/O, no clock, no randomness. Every replica that applies the same commands
/// with the same `(index, time)` pairs reaches the same state (`stateHash()`), returns the same results and
/// emits the same events. Time comes only from `apply`'s `time` argument (the leader's timestamp); it is clamped
/// to never go backwards. When idle, the leader proposes `Command.tick` so that timers still fire.
///
/// Persistence: the shell writes `takeCheckpointDelta()` into SQLite (tables in `schema`) and rebuilds the
/// machine with `restore(query:)`. Payloads (bodies) are released from RAM at each checkpoint; set
/// `payloadSource` so deliveries and fetches can read them back.
public struct BrokerStateMachine: Sendable {
    /// Reads checkpointed payloads. MUST be set before applying commands after a checkpoint or a restore.
    public var payloadSource: (any PayloadSource)?
    /// Whether `receive` results carry each message's id, body and headers. A shell that will discard a
    /// receive's result (a replica that did not propose it) clears this for that apply, so it reads no payloads;
    /// the replicated state, the events and every other result are the same either way.
    public var materializesDeliveries = true

    // Replicated state (checkpointed).
    var appliedIndex: UInt64 = 0
    var now: Int64 = 0
    var nextSeq: UInt64 = 1
    var nextLease: UInt64 = 1
    var nextEntity: UInt32 = 1
    var nextProducer: UInt64 = 1
    var nextTransaction: UInt64 = 1
    var nextHalf: UInt64 = 1
    var nextMemberSerial: UInt64 = 1
    var namespaces: [String: NamespaceState] = [:]
    var queues: [UInt32: QueueState] = [:]
    var exchanges: [UInt32: ExchangeState] = [:]
    var topics: [UInt32: TopicState] = [:]
    var groups: [UInt32: GroupState] = [:]
    var producers: [UInt64: ProducerState] = [:]
    var transactions: [UInt64: TransactionState] = [:]
    /// Finished transaction id -> committed (true) or aborted (false), oldest first.
    var finishedTransactions: OrderedDictionary<UInt64, Bool> = [:]
    var halves: [UInt64: HalfState] = [:]

    // Derived state (rebuilt by restore, excluded from the state hash).
    var timers = MinHeap<Timer>()
    /// When `timers` outgrows this (stale entries of acked leases, extended deadlines...), it is rebuilt from the
    /// live state after the apply; this bounds stale entries to about the live count plus a constant.
    var timerRebuildThreshold = Self.timerSlack
    /// Consumer -> queues where it took leases (a superset: acked leases leave stale entries, which release
    /// skips). Keeps `releaseConsumer` from scanning every queue without costing a hash per lease.
    var consumerQueues: [String: Set<UInt32>] = [:]
    /// Consumer -> queues where it is the single active consumer.
    var activeConsumerQueues: [String: Set<UInt32>] = [:]
    /// Changes since the last checkpoint, including the payloads of new messages and records.
    var tracker = CheckpointTracker()

    // Per-apply scratch.
    var events: [BrokerEvent] = []
    var availableQueues: Set<UInt32> = []
    /// The queue most recently added to `availableQueues` (skips re-hashing it for every message of a batch).
    var lastAvailableQueue: UInt32 = 0
    var appendedPartitions: Set<PartitionKey> = []
    var expiredLeases: [ExpiredLeaseKey: [LeaseID]] = [:]

    struct LeaseKey: Hashable, Sendable {
        var queue: UInt32
        var lease: UInt64
    }

    struct PartitionKey: Hashable, Comparable, Sendable {
        var topic: UInt32
        var partition: UInt32
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition) }
    }

    struct ExpiredLeaseKey: Hashable, Comparable, Sendable {
        var queue: UInt32
        var consumer: String
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.queue, lhs.consumer) < (rhs.queue, rhs.consumer) }
    }

    /// An empty broker.
    public init() {}

    /// The last applied log index.
    public var lastAppliedIndex: UInt64 { appliedIndex }

    /// The broker's clock: the largest command time applied so far.
    public var currentTime: Int64 { now }

    /// The earliest time at which a timer is due, if any. The leader SHOULD propose `Command.tick` once its clock
    /// passes it (and immediately if it is already <= `currentTime`, which means work was deferred).
    public var nextTimerDeadline: Int64? { timers.min?.at }

    /// Applies one committed command. `index` is its Raft log index (strictly increasing across calls; a repeated
    /// or older index is refused with `alreadyApplied` and changes nothing). `time` is the leader's timestamp in
    /// ms; it is clamped to `0 ... BrokerLimits.timeMsMax` and so that the broker clock never goes backwards.
    public mutating func apply(
        _ command: Command, index: UInt64, time: Int64
    ) -> (
        result: CommandResult, events: [BrokerEvent]
    ) {
        guard index > appliedIndex else {
            let error = BrokerError(.alreadyApplied, "index \(index) <= applied index \(appliedIndex)")
            return (.error(error), [])
        }
        appliedIndex = index
        now = max(now, min(max(time, 0), BrokerLimits.timeMsMax))
        fireDueTimers()
        let result = execute(command, depth: 0)
        if timers.count > timerRebuildThreshold { rebuildTimers() }
        return (result, drainEvents())
    }

    mutating func execute(_ command: Command, depth: Int) -> CommandResult {
        do {
            return .ok(try perform(command, depth: depth))
        } catch {
            return .error(error)
        }
    }

    private mutating func perform(_ command: Command, depth: Int) throws(BrokerError) -> ResultValue {
        switch command {
        case .batch(let commands):
            guard depth < BrokerLimits.batchDepthMax else { throw invalid("batch nested too deep") }
            guard commands.count <= BrokerLimits.batchCommandsMax else { throw limit("batch of \(commands.count)") }
            return .batch(commands.map { execute($0, depth: depth + 1) })
        case .tick: return .none
        case .createNamespace(let name): return try createNamespace(name)
        case .deleteNamespace(let name): return try deleteNamespace(name)
        case .declareQueue(let namespace, let queue, let arguments):
            return try declareQueue(namespace, queue, arguments)
        case .deleteQueue(let namespace, let queue, let ifEmpty): return try deleteQueue(namespace, queue, ifEmpty)
        case .purgeQueue(let namespace, let queue): return try purgeQueue(namespace, queue)
        case .publish(let request): return try publishIdempotent(request)
        case .receive(let namespace, let queue, let consumer, let maxMessages, let visibilityMs):
            return try receive(namespace, queue, consumer, maxMessages, visibilityMs)
        case .ack(let namespace, let queue, let leases): return try ack(namespace, queue, leases)
        case .nack(let namespace, let queue, let leases, let requeue):
            return try nack(namespace, queue, leases, requeue: requeue)
        case .extendLeases(let namespace, let queue, let leases, let visibilityMs):
            return try extendLeases(namespace, queue, leases, visibilityMs)
        case .releaseConsumer(let consumer): return try releaseConsumer(consumer)
        default: return try performRest(command)
        }
    }

    private mutating func performRest(_ command: Command) throws(BrokerError) -> ResultValue {
        switch command {
        case .declareExchange(let namespace, let exchange, let kind, let alternate):
            return try declareExchange(namespace, exchange, kind, alternate)
        case .deleteExchange(let namespace, let exchange): return try deleteExchange(namespace, exchange)
        case .bind(let namespace, let exchange, let queue, let key, let headers):
            return try bind(namespace, exchange, queue, key, headers)
        case .unbind(let namespace, let exchange, let queue, let key, let headers):
            return try unbind(namespace, exchange, queue, key, headers)
        case .createTopic(let namespace, let topic, let arguments): return try createTopic(namespace, topic, arguments)
        case .deleteTopic(let namespace, let topic): return try deleteTopic(namespace, topic)
        case .append(let request): return try appendIdempotent(request)
        case .joinGroup(let group, let member, let timeout): return try joinGroup(group, member, timeout)
        case .leaveGroup(let group, let member): return try leaveGroup(group, member)
        case .heartbeat(let group, let member, let generation): return try heartbeat(group, member, generation)
        case .commitOffsets(let commit):
            let plan = try planOffsetCommit(commit, pendingAppends: [:])
            performOffsetCommit(plan)
            return .none
        case .resetOffsets(let group, let partition, let target): return try resetOffsets(group, partition, target)
        case .deleteGroup(let group): return try deleteGroup(group)
        case .initProducer(let group): return try initProducer(group)
        case .beginTransaction(let producer, let timeoutMs): return try beginTransaction(producer, timeoutMs)
        case .transactionPublish(let txn, let request): return try addToTransaction(txn, .publish(request))
        case .transactionAppend(let txn, let request): return try addToTransaction(txn, .append(request))
        case .transactionCommitOffsets(let txn, let commit): return try addToTransaction(txn, .commitOffsets(commit))
        case .commitTransaction(let txn): return try commitTransaction(txn)
        case .abortTransaction(let txn): return try abortTransaction(txn)
        case .prepareHalfMessage(let prepare): return try prepareHalf(prepare)
        case .resolveHalfMessage(let half, let resolution): return try resolveHalf(half, resolution)
        default: preconditionFailure("BrokerStateMachine.perform: unhandled command \(command)")
        }
    }

    /// Turns the per-apply scratch into the ordered event list.
    private mutating func drainEvents() -> [BrokerEvent] {
        var output = events
        events.removeAll()
        for key in expiredLeases.keys.sorted() {
            guard let queue = queues[key.queue] else { continue }
            output.append(
                .leasesExpired(
                    namespace: queue.namespace, queue: queue.name, consumer: key.consumer, leases: expiredLeases[key]!))
        }
        expiredLeases.removeAll()
        for id in availableQueues.sorted() {
            guard let queue = queues[id], queue.readyCount > 0 else { continue }
            output.append(.messagesAvailable(namespace: queue.namespace, queue: queue.name, ready: queue.readyCount))
        }
        availableQueues.removeAll()
        lastAvailableQueue = 0
        for key in appendedPartitions.sorted() {
            guard let topic = topics[key.topic] else { continue }
            let end = Offset(topic.partitions[Int(key.partition)].nextOffset)
            output.append(
                .recordsAppended(
                    namespace: topic.namespace, topic: topic.name, partition: key.partition, endOffset: end))
        }
        appendedPartitions.removeAll()
        return output
    }

    // MARK: Validation helpers

    func invalid(_ message: String) -> BrokerError { BrokerError(.invalidArgument, message) }
    func limit(_ message: String) -> BrokerError { BrokerError(.limitExceeded, message) }

    /// Names are 1 ... `nameBytesMax` bytes of `[A-Za-z0-9._:-]`.
    func checkName(_ name: String, _ what: String) throws(BrokerError) {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= BrokerLimits.nameBytesMax else {
            throw BrokerError(.invalidName, "\(what) name must be 1...\(BrokerLimits.nameBytesMax) bytes")
        }
        for byte in utf8 {
            let ok =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x5f || byte == 0x3a || byte == 0x2d
            guard ok else {
                throw BrokerError(.invalidName, "\(what) name '\(name)' has a character outside [A-Za-z0-9._:-]")
            }
        }
    }

    func checkHeaders(_ headers: [Header]) throws(BrokerError) {
        guard headers.count <= BrokerLimits.headerCountMax else { throw limit("\(headers.count) headers") }
        for header in headers {
            guard header.name.utf8.count <= BrokerLimits.headerNameBytesMax,
                header.value.utf8.count <= BrokerLimits.headerValueBytesMax
            else { throw limit("header '\(header.name.prefix(32))' too long") }
        }
    }

    func namespaceState(_ name: String) throws(BrokerError) -> NamespaceState {
        guard let state = namespaces[name] else {
            throw BrokerError(.namespaceNotFound, "namespace '\(name)' not found")
        }
        return state
    }

    func queueID(_ namespace: String, _ queue: String) throws(BrokerError) -> UInt32 {
        guard let id = try namespaceState(namespace).queues[queue] else {
            throw BrokerError(.queueNotFound, "queue '\(queue)' not found in namespace '\(namespace)'")
        }
        return id
    }

    func exchangeID(_ namespace: String, _ exchange: String) throws(BrokerError) -> UInt32 {
        guard let id = try namespaceState(namespace).exchanges[exchange] else {
            throw BrokerError(.exchangeNotFound, "exchange '\(exchange)' not found in namespace '\(namespace)'")
        }
        return id
    }

    func topicID(_ namespace: String, _ topic: String) throws(BrokerError) -> UInt32 {
        guard let id = try namespaceState(namespace).topics[topic] else {
            throw BrokerError(.topicNotFound, "topic '\(topic)' not found in namespace '\(namespace)'")
        }
        return id
    }

    mutating func allocateEntityID() -> UInt32 {
        defer { nextEntity += 1 }
        return nextEntity
    }

    mutating func allocateSeq() -> UInt64 {
        // Expiry timers keep the priority in the top bits of their id (`expiryTimerID`).
        precondition(nextSeq < 1 << 58, "message sequence space exhausted at m\(nextSeq)")
        defer { nextSeq += 1 }
        return nextSeq
    }

    mutating func noteAvailable(_ id: UInt32) {
        guard id != lastAvailableQueue else { return }
        availableQueues.insert(id)
        lastAvailableQueue = id
    }

    mutating func arm(_ kind: TimerKind, at: Int64, owner: UInt32 = 0, id: UInt64) {
        timers.insert(Timer(at: at, id: id, owner: owner, kind: kind))
    }

    /// Looks up a payload in RAM, then in the payload source.
    func payload(_ seq: UInt64) -> Payload {
        if let resident = tracker.messages[seq]?.payload ?? tracker.records[seq]?.payload { return resident }
        guard let source = payloadSource, let stored = source.payload(for: MessageSeq(seq)) else {
            preconditionFailure(
                "payload of m\(seq) is neither resident nor in the payload source (applied \(appliedIndex))")
        }
        return stored
    }
}
