import Collections

/// Why a message left its queue for the dead-letter queue. Raw values are stored in checkpoints.
enum DeathReason: UInt8, Sendable {
    case none = 0
    case rejected = 1
    case expired = 2
    case maxLength = 3
    case maxDeliveries = 4

    /// The `x-death-reason` header value.
    var headerValue: String {
        switch self {
        case .none: return ""
        case .rejected: return "rejected"
        case .expired: return "expired"
        case .maxLength: return "maxlen"
        case .maxDeliveries: return "delivery_limit"
        }
    }
}

/// The RAM-resident metadata of one queued message. Kept to 32 bytes (stride) because a backlog of millions
/// lives in RAM as these; the body lives in the checkpoint tracker until a checkpoint, then in SQLite.
struct QueuedMessage: Hashable, Sendable {
    var seq: UInt64
    /// Leader ms at which the message expires; `Int64.max` when it never does.
    var expiresAt: Int64
    var size: UInt32
    /// The queue it was last dead-lettered from (0: never dead-lettered).
    var originQueue: UInt32
    var deliveries: UInt16
    var priority: UInt8
    var deadLetterHops: UInt8
    var deathReason: UInt8
}

/// A message waiting for its delivery time.
struct DelayedMessage: Hashable, Sendable {
    var visibleAt: Int64
    var message: QueuedMessage
}

/// A message leased to a consumer.
struct Lease: Hashable, Sendable {
    var message: QueuedMessage
    var consumer: String
    var deadline: Int64
}

/// One queue: its arguments and the messages it holds, by state.
///
/// Invariant: every held message is in exactly one of `levels` (ready), `delayed` or `leases`; `readyCount`,
/// `readyBytes` and `heldBytes` equal the sums over those collections; each level is sorted by `seq`.
struct QueueState: Sendable {
    let id: UInt32
    let namespace: String
    let name: String
    var arguments: QueueArguments
    var levels: [Deque<QueuedMessage>]
    var readyCount: UInt64 = 0
    var readyBytes: UInt64 = 0
    var heldBytes: UInt64 = 0
    /// Ready messages that have an expiry (and so an expiry timer); lets timer rebuilds skip TTL-free queues.
    var readyWithExpiry = 0
    var delayed: [UInt64: DelayedMessage] = [:]
    var leases: [UInt64: Lease] = [:]
    var deadLettered: UInt64 = 0
    var discarded: UInt64 = 0
    /// Messages stored into this queue (published, routed or dead-lettered in) since it was declared.
    var published: UInt64 = 0
    /// Leases granted (first deliveries and redeliveries) since it was declared.
    var delivered: UInt64 = 0
    /// Messages acked since it was declared.
    var acked: UInt64 = 0
    var activeConsumer: String?

    init(id: UInt32, namespace: String, name: String, arguments: QueueArguments) {
        self.id = id
        self.namespace = namespace
        self.name = name
        self.arguments = arguments
        self.levels = Array(repeating: Deque(), count: Int(BrokerLimits.priorityMax) + 1)
    }

    var isEmpty: Bool { readyCount == 0 && delayed.isEmpty && leases.isEmpty }

    /// Whether the ready set exceeds the queue's length or byte limit.
    var isOverLimit: Bool {
        if let maxLength = arguments.maxLength, readyCount > maxLength { return true }
        if let maxBytes = arguments.maxBytes, readyBytes > maxBytes { return true }
        return false
    }

    /// Inserts a ready message at its `seq` position within its priority level (FIFO by publish order), and
    /// returns whether the queue is now over its limits.
    @discardableResult
    mutating func insertReady(_ message: QueuedMessage) -> Bool {
        let level = Int(message.priority)
        if let last = levels[level].last, last.seq > message.seq {
            let index = Self.insertionIndex(levels[level], seq: message.seq)
            precondition(
                index == levels[level].count || levels[level][index].seq != message.seq,
                "queue \(name): message \(message.seq) inserted twice")
            levels[level].insert(message, at: index)
        } else {
            levels[level].append(message)
        }
        readyCount += 1
        readyBytes += UInt64(message.size)
        heldBytes += UInt64(message.size)
        if message.expiresAt != Int64.max { readyWithExpiry += 1 }
        return isOverLimit
    }

    /// Removes and returns the next message to deliver: the oldest of the highest non-empty priority.
    mutating func popNextReady() -> QueuedMessage? {
        for level in stride(from: levels.count - 1, through: 0, by: -1) where !levels[level].isEmpty {
            return takeReady(levels[level].removeFirst())
        }
        return nil
    }

    /// Removes and returns the overflow victim: the oldest message of the lowest non-empty priority.
    mutating func popOverflowHead() -> QueuedMessage? {
        for level in 0..<levels.count where !levels[level].isEmpty {
            return takeReady(levels[level].removeFirst())
        }
        return nil
    }

    /// Removes a ready message by sequence, if it is ready.
    mutating func removeReady(seq: UInt64, priority: UInt8) -> QueuedMessage? {
        let level = Int(priority)
        guard level < levels.count else { return nil }
        let index = Self.insertionIndex(levels[level], seq: seq)
        guard index < levels[level].count, levels[level][index].seq == seq else { return nil }
        return takeReady(levels[level].remove(at: index))
    }

    /// Removes every ready message, returning them in level order.
    mutating func removeAllReady() -> [QueuedMessage] {
        var removed: [QueuedMessage] = []
        removed.reserveCapacity(Int(readyCount))
        for level in 0..<levels.count {
            removed.append(contentsOf: levels[level])
            levels[level].removeAll()
        }
        heldBytes -= readyBytes
        readyCount = 0
        readyBytes = 0
        readyWithExpiry = 0
        return removed
    }

    private mutating func takeReady(_ message: QueuedMessage) -> QueuedMessage {
        readyCount -= 1
        readyBytes -= UInt64(message.size)
        heldBytes -= UInt64(message.size)
        if message.expiresAt != Int64.max { readyWithExpiry -= 1 }
        return message
    }

    /// The first index whose element's seq is >= `seq`.
    static func insertionIndex(_ level: Deque<QueuedMessage>, seq: UInt64) -> Int {
        var low = 0
        var high = level.count
        while low < high {
            let mid = (low + high) / 2
            if level[mid].seq < seq { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
