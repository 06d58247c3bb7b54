import NIOCore
import SkiffWire

/// Everything `ClientCore` guards with its lock.
struct CoreState {
    var closed = false
    /// The handshaken connection to the node believed to lead.
    var connection: WireConnection?
    /// Connections that answered NOT_LEADER and still owe answers to calls sent on them.
    var draining: [UInt64: WireConnection] = [:]
    /// Whether a connection loop task is running.
    var connecting = false
    /// The leader's client address from the latest hint.
    var leaderHint: String?
    /// Client addresses of the members from the latest cluster status.
    var memberAddresses: [String] = []
    var pending: [UInt64: PendingCall] = [:]
    /// No call in `pending` has an earlier deadline (a lower bound: removals do not raise it; the deadline sweep
    /// recomputes it when it passes).
    var deadlineFloor = NIODeadline.distantFuture
    /// Wire request id of each sent ledger call → its op id.
    var byRequestID: [RequestID: UInt64] = [:]
    var direct: [RequestID: DirectCall] = [:]
    private var nextID: UInt64 = 0
    /// The idempotent producer id, once allocated.
    var producerID: ProducerID?
    /// The next sequence number per publish target.
    var sequences: [String: SequenceNumber] = [:]
    var subscriptions: [UInt64: SubscriptionState] = [:]
    /// Server subscription id → local subscription id, for the current connection.
    var subscriptionByServerID: [SubscriptionID: UInt64] = [:]
    /// Producer groups whose checkbacks this client answers.
    var checkers: [String: HalfChecker] = [:]

    /// A fresh id for ops, wire requests, subscriptions and connections (one counter; never zero).
    mutating func allocateID() -> UInt64 {
        nextID += 1
        return nextID
    }

    /// Sends ledger call `opID` on `connection`.
    mutating func send(_ opID: UInt64, on connection: WireConnection) {
        let requestID = RequestID(allocateID())
        // One hash lookup for the four accesses; the mutations are in place.
        let index = pending.index(forKey: opID)!
        pending.values[index].sentOn = connection.id
        pending.values[index].everSent = true
        pending.values[index].sends += 1
        let frame = pending.values[index].request.frame(id: requestID)
        byRequestID[requestID] = opID
        connection.send(frame)
    }

    /// Sends every unsent call, oldest first.
    mutating func sendUnsent(on connection: WireConnection) {
        let unsent = pending.filter { $0.value.sentOn == nil }.sorted { $0.value.order < $1.value.order }
        for (opID, _) in unsent { send(opID, on: connection) }
    }

    /// Forgets the current connection (optionally keeping it to drain).
    mutating func detachCurrent(draining connection: WireConnection?) {
        self.connection = nil
        if let connection { draining[connection.id] = connection }
        for (serverID, localID) in subscriptionByServerID where subscriptions[localID]?.serverID == serverID {
            subscriptions[localID]!.serverID = nil
        }
        subscriptionByServerID.removeAll()
    }

    func hasCallsSent(on connectionID: UInt64) -> Bool {
        pending.values.contains { $0.sentOn == connectionID }
    }

    /// Whether a call older than `opID` publishes to the same target (so a SEQUENCE_GAP is transient).
    func hasEarlierPending(than opID: UInt64, sameTargetAs request: Request) -> Bool {
        guard let key = request.sequenceKey, let order = pending[opID]?.order else { return false }
        return pending.values.contains { $0.order < order && $0.request.sequenceKey == key }
    }

    /// Marks the subscriptions served on a lost connection as needing a new subscribe.
    mutating func dropSubscriptions(onConnection connectionID: UInt64) {
        for (localID, subscription) in subscriptions where subscription.connectionID == connectionID {
            subscriptions[localID]!.serverID = nil
            subscriptions[localID]!.connectionID = nil
        }
    }

    /// The highest sequence number the leader confirmed per target.
    var confirmedSequences: [String: SequenceNumber] = [:]
    /// Bound on rewinds one call may trigger, so a broker that disagrees cannot cause a resend loop.
    static let sequenceRewindsMax = 3

    /// Records the sequences of a confirmed stamped call.
    mutating func confirmSequences(of request: Request) {
        guard let key = request.sequenceKey, let stamp = request.producerStamp else { return }
        let last = stamp.sequence.advanced(by: UInt64(request.stampedCount - 1))
        if confirmedSequences[key].map({ $0 < last }) ?? true { confirmedSequences[key] = last }
    }

    /// Renumbers every pending call of `key`, in call order, from the last confirmed sequence + 1.
    mutating func rewindSequences(key: String) {
        var next = confirmedSequences[key].map { $0.advanced(by: 1) } ?? SequenceNumber(1)
        let calls = pending.filter { $0.value.request.sequenceKey == key }.sorted { $0.value.order < $1.value.order }
        for (opID, call) in calls {
            pending[opID]!.request = call.request.restamped(next)
            next = next.advanced(by: UInt64(call.request.stampedCount))
        }
        sequences[key] = next
    }

    /// Takes the next `count` sequence numbers of `target`.
    mutating func takeSequences(_ key: String, count: Int) -> SequenceNumber {
        let first = sequences[key] ?? SequenceNumber(1)
        sequences[key] = first.advanced(by: UInt64(count))
        return first
    }
}

extension Request {
    /// The producer stamp of a stamped publish or produce.
    var producerStamp: ProducerStamp? {
        switch self {
        case .publish(let p): return p.producer
        case .produce(let p): return p.producer
        default: return nil
        }
    }

    /// How many sequence numbers the request uses (one per message or record).
    var stampedCount: Int {
        switch self {
        case .publish(let p): return p.messages.count
        case .produce(let p): return p.records.count
        default: return 0
        }
    }

    /// The same request with its stamp renumbered to start at `sequence`.
    func restamped(_ sequence: SequenceNumber) -> Request {
        switch self {
        case .publish(var p):
            p.producer?.sequence = sequence
            return .publish(p)
        case .produce(var p):
            p.producer?.sequence = sequence
            return .produce(p)
        default: return self
        }
    }

    /// The success answer for a resent stamped write the broker reports as an old duplicate: stored, but
    /// its ids and offsets are no longer known, so they read as 0.
    var forgottenDuplicateResponse: Response? {
        switch self {
        case .publish(let p):
            return .published(
                PublishResult(messageIDs: Array(repeating: MessageID(0), count: p.messages.count), duplicate: true))
        case .produce(let p):
            let unknown = RecordPosition(partition: 0, offset: Offset(0))
            return .produced(
                ProduceResult(positions: Array(repeating: unknown, count: p.records.count), duplicate: true))
        default: return nil
        }
    }

    /// The idempotence target of a stamped publish or produce: sequences count per (namespace, target).
    var sequenceKey: String? {
        switch self {
        case .publish(let p) where p.producer != nil: return PublishRequest.sequenceKey(p.namespace, p.target)
        case .produce(let p) where p.producer != nil: return "t\u{0}\(p.topic.namespace)\u{0}\(p.topic.name)"
        default: return nil
        }
    }
}

extension PublishRequest {
    static func sequenceKey(_ namespace: String, _ target: PublishTarget) -> String {
        switch target {
        case .queue(let name): return "q\u{0}\(namespace)\u{0}\(name)"
        case .exchange(let name, _): return "x\u{0}\(namespace)\u{0}\(name)"
        }
    }
}

/// A consumer's subscription, kept across connections.
struct SubscriptionState {
    let queue: ObjectName
    var prefetch: UInt32
    let leaseMs: UInt32
    /// Yields deliveries in the batches the server pushed them (one element per push frame).
    let continuation: AsyncThrowingStream<[ReceivedDelivery], any Error>.Continuation
    var serverID: SubscriptionID?
    var connectionID: UInt64?
    /// True while a subscribe request is in flight.
    var subscribing = false
}

/// Answers checkbacks for one producer group.
typealias HalfChecker = @Sendable (Checkback) async -> HalfOutcome
