import Collections

/// A namespace: the names of its queues, exchanges and topics, mapped to entity ids.
struct NamespaceState: Hashable, Sendable {
    var queues: [String: UInt32] = [:]
    var exchanges: [String: UInt32] = [:]
    var topics: [String: UInt32] = [:]
    var isEmpty: Bool { queues.isEmpty && exchanges.isEmpty && topics.isEmpty }
}

/// One exchange binding. `queue` is an entity id; a deleted queue's bindings are removed with it.
struct Binding: Hashable, Sendable {
    var queue: UInt32
    var key: String
    var headers: HeadersMatch?
}

struct ExchangeState: Hashable, Sendable {
    let id: UInt32
    let namespace: String
    let name: String
    var kind: ExchangeKind
    var alternate: String?
    var bindings: [Binding] = []
}

/// The RAM-resident metadata of one topic record.
struct RecordMeta: Hashable, Sendable {
    var offset: UInt64
    var seq: UInt64
    var timestamp: Int64
    var size: UInt32
    var tombstone: Bool
    /// Kept only for compacted topics, which need it to maintain the key index.
    var key: [UInt8]?
}

/// One partition. Invariant: `records` is sorted by offset, all below `nextOffset` and at or above `logStart`.
struct PartitionState: Hashable, Sendable {
    var records: Deque<RecordMeta> = []
    var nextOffset: UInt64 = 0
    var logStart: UInt64 = 0
    var bytes: UInt64 = 0
    /// Compacted topics: key -> offset of its latest record.
    var keyIndex: [[UInt8]: UInt64] = [:]

    /// The first index whose record offset is >= `offset`.
    func index(atOrAfter offset: UInt64) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].offset < offset { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

struct TopicState: Hashable, Sendable {
    let id: UInt32
    let namespace: String
    let name: String
    var arguments: TopicArguments
    var partitions: [PartitionState]
    /// Round-robin cursor for records with neither key nor partition.
    var roundRobin: UInt64 = 0
    /// Group name -> group entity id.
    var groups: [String: UInt32] = [:]
    /// Derived: the time the retention timer is armed for, if any.
    var retentionTimerAt: Int64?
}

struct MemberState: Hashable, Sendable {
    var serial: UInt64
    var sessionTimeoutMs: Int64
    var lastSeen: Int64
}

/// A consumer group of one topic. Invariant: `owners.count == partitions`; every owner is a member.
struct GroupState: Hashable, Sendable {
    let id: UInt32
    let topic: UInt32
    let name: String
    var generation: UInt64 = 0
    var members: [String: MemberState] = [:]
    var owners: [String?]
    var committed: [UInt64?]

    init(id: UInt32, topic: UInt32, name: String, partitions: Int) {
        self.id = id
        self.topic = topic
        self.name = name
        self.owners = Array(repeating: nil, count: partitions)
        self.committed = Array(repeating: nil, count: partitions)
    }

    /// Range assignment over members sorted by name: member i owns [i*P/M, (i+1)*P/M).
    mutating func reassign() {
        let names = members.keys.sorted()
        let count = owners.count
        for partition in 0..<count { owners[partition] = nil }
        guard !names.isEmpty else { return }
        for (index, name) in names.enumerated() {
            let start = index * count / names.count
            let end = (index + 1) * count / names.count
            for partition in start..<end { owners[partition] = name }
        }
    }

    func partitions(of member: String) -> [UInt32] {
        owners.indices.filter { owners[$0] == member }.map { UInt32($0) }
    }

    var assignment: [String: [UInt32]] {
        var result: [String: [UInt32]] = [:]
        for name in members.keys { result[name] = [] }
        for (partition, owner) in owners.enumerated() {
            if let owner { result[owner, default: []].append(UInt32(partition)) }
        }
        return result
    }
}

/// What an idempotent producer sent to one target recently.
struct SequenceWindow: Hashable, Sendable {
    var lastSequence: UInt64
    /// (sequence, result) of the most recent accepted commands, oldest first.
    var results: [StoredResult]
}

/// A remembered result, answered again to a duplicate.
struct StoredResult: Hashable, Sendable {
    var sequence: UInt64
    var result: CommandResult
}

struct ProducerState: Hashable, Sendable {
    var group: String
    var lastUsed: Int64
    var targets: [String: SequenceWindow] = [:]
}

struct TransactionState: Hashable, Sendable {
    var producer: UInt64
    var deadline: Int64
    /// Buffered `.publish`, `.append` and `.commitOffsets` commands, applied in order at commit.
    var operations: [Command] = []
    var bytes: Int = 0
}

struct HalfState: Hashable, Sendable {
    var prepare: HalfPrepare
    var checks: UInt32 = 0
    var nextCheckAt: Int64
}

/// Timer kinds; the raw value orders timers that are due at the same millisecond.
enum TimerKind: UInt8, Sendable {
    case delayedVisible = 0
    case messageExpiry = 1
    case leaseExpiry = 2
    case transactionTimeout = 3
    case halfCheck = 4
    case memberTimeout = 5
    case topicRetention = 6
}

/// A due-time entry. Timers are derived state: restore rebuilds them, and a timer whose subject changed or
/// vanished is ignored (or re-armed) when it fires, so stale entries never change behaviour.
struct Timer: Comparable, Sendable {
    var at: Int64
    var id: UInt64
    var owner: UInt32
    var kind: TimerKind

    static func < (lhs: Timer, rhs: Timer) -> Bool {
        if lhs.at != rhs.at { return lhs.at < rhs.at }
        if lhs.kind != rhs.kind { return lhs.kind.rawValue < rhs.kind.rawValue }
        if lhs.owner != rhs.owner { return lhs.owner < rhs.owner }
        return lhs.id < rhs.id
    }

    static func == (lhs: Timer, rhs: Timer) -> Bool {
        lhs.at == rhs.at && lhs.kind == rhs.kind && lhs.owner == rhs.owner && lhs.id == rhs.id
    }
}

/// Where a queued message is, for its checkpoint row.
enum MessagePlace: Hashable, Sendable {
    case ready
    case delayed(visibleAt: Int64)
    case leased(lease: UInt64, consumer: String, deadline: Int64)
}

/// The checkpoint row of one queued message as of its last change.
struct MessageRow: Hashable, Sendable {
    var queue: UInt32
    var message: QueuedMessage
    var place: MessagePlace
    /// Set while the message is new since the last checkpoint (no row exists yet): its resident payload.
    var payload: Payload?
}

/// The checkpoint row of one new topic record.
struct RecordRow: Hashable, Sendable {
    var topic: UInt32
    var partition: UInt32
    var meta: RecordMeta
    var payload: Payload
}

/// Metadata entities, one `broker_meta` row each.
enum EntityKey: Hashable, Comparable, Sendable {
    case namespace(String)
    case queue(UInt32)
    case exchange(UInt32)
    case topic(UInt32)
    case group(UInt32)
    case producer(UInt64)
    case transaction(UInt64)
    case half(UInt64)

    var rowKey: String {
        switch self {
        case .namespace(let name): return "n/\(name)"
        case .queue(let id): return "q/\(id)"
        case .exchange(let id): return "x/\(id)"
        case .topic(let id): return "t/\(id)"
        case .group(let id): return "g/\(id)"
        case .producer(let id): return "p/\(id)"
        case .transaction(let id): return "tx/\(id)"
        case .half(let id): return "h/\(id)"
        }
    }

    static func < (lhs: EntityKey, rhs: EntityKey) -> Bool { lhs.rowKey < rhs.rowKey }
}

/// What changed since the previous checkpoint.
struct CheckpointTracker: Sendable {
    var messages = MessageRowTable()
    var messageDeletes: [UInt64] = []
    var records: [UInt64: RecordRow] = [:]
    var recordDeletes: [UInt64] = []
    var entities: Set<EntityKey> = []
}
