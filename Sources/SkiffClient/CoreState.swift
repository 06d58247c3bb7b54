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
        pending[opID]!.sentOn = connection.id
        pending[opID]!.everSent = true
        pending[opID]!.sends += 1
        byRequestID[requestID] = opID
        connection.send(pending[opID]!.request.frame(id: requestID))
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

    /// Takes the next `count` sequence numbers of `target`.
    mutating func takeSequences(_ key: String, count: Int) -> SequenceNumber {
        let first = sequences[key] ?? SequenceNumber(1)
        sequences[key] = first.advanced(by: UInt64(count))
        return first
    }
}

extension Request {
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
    let continuation: AsyncThrowingStream<ReceivedDelivery, any Error>.Continuation
    var serverID: SubscriptionID?
    var connectionID: UInt64?
    /// True while a subscribe request is in flight.
    var subscribing = false
}

/// Answers checkbacks for one producer group.
typealias HalfChecker = @Sendable (Checkback) async -> HalfOutcome
