import SkiffBroker
import SkiffRaft
import SkiffWire

/// The leader's queue subscriptions and their credit (prefetch) windows.
///
/// Credit = prefetch − deliveries not yet settled. A prefetch of 0 pauses a subscription: it takes no new leases,
/// and those it holds stay valid until settled or expired. A subscription with credit and no receive in flight asks
/// the broker for up to `credit` messages (a `receive` through Raft, which takes the leases); when a receive
/// comes back empty the subscription goes idle until the broker says its queue has messages again.
///
/// Receives in flight: credit also excludes the messages they asked for, and up to `receivesInFlightMax` may
/// be in flight at once, so credit returned by acks is asked for in the next group-commit batch instead of
/// after the previous receive is applied. While one is in flight, another is proposed only for a worthwhile
/// batch (`receiveBatchDivisor`, `receiveBatchMax`), so a trickle of acks is not one Raft command per message.
struct SubscriptionTable {
    /// Subscriptions one connection may hold.
    static let perConnectionMax = 1024
    /// Largest prefetch honoured; bigger windows are clamped.
    static let prefetchMax = 10_000
    /// Receives one subscription may have proposed and not yet applied.
    static let receivesInFlightMax = 4
    /// While a receive is in flight, another one is proposed only for at least this share of the prefetch
    /// (1/`receiveBatchDivisor`) or `receiveBatchMax` messages, whichever is less.
    static let receiveBatchDivisor = 4
    static let receiveBatchMax = 256

    struct Subscription {
        var id: SubscriptionID
        var connection: UInt64
        var queue: ObjectName
        var prefetch: Int
        var leaseMs: Int64
        /// The broker consumer name: unique per node, connection and subscription.
        var consumer: String
        var outstanding: Set<LeaseID> = []
        /// Receives proposed for this subscription and not yet applied.
        var receivesInFlight = 0
        /// Messages those receives asked for (credit already promised to them).
        var requested = 0
        var idle = false

        var credit: Int { max(0, prefetch - outstanding.count - requested) }

        /// Whether a receive should be proposed now: credit, messages possibly available, a free receive slot,
        /// and, when a receive is already in flight, enough credit to be worth another Raft command.
        var wantsReceive: Bool {
            guard !idle, credit > 0, receivesInFlight < SubscriptionTable.receivesInFlightMax else { return false }
            if receivesInFlight == 0 { return true }
            let worthwhile = min(
                SubscriptionTable.receiveBatchMax, max(1, prefetch / SubscriptionTable.receiveBatchDivisor))
            return credit >= worthwhile
        }

        /// Records a receive proposed for `count` messages.
        mutating func receiveProposed(count: Int) {
            receivesInFlight += 1
            requested += count
        }

        /// Records that a receive for `count` messages was applied (or failed): its promised credit is free.
        mutating func receiveEnded(count: Int) {
            precondition(
                receivesInFlight > 0 && requested >= count,
                "receive of \(count) ended with \(receivesInFlight) in flight for \(requested) messages (\(id))")
            receivesInFlight -= 1
            requested -= count
        }
    }

    private(set) var byID: [SubscriptionID: Subscription] = [:]
    private var nextID: UInt64 = 1

    var count: Int { byID.count }

    /// Adds a subscription, or returns nil when the connection is at its limit.
    mutating func add(
        connection: UInt64, queue: ObjectName, prefetch: Int, leaseMs: Int64, node: NodeID
    ) -> SubscriptionID? {
        guard byID.values.filter({ $0.connection == connection }).count < Self.perConnectionMax else { return nil }
        let id = SubscriptionID(nextID)
        nextID += 1
        let consumer = "n\(node.rawValue)-c\(connection)-s\(id.rawValue)"
        byID[id] = Subscription(
            id: id, connection: connection, queue: queue, prefetch: min(max(0, prefetch), Self.prefetchMax),
            leaseMs: leaseMs, consumer: consumer)
        return id
    }

    /// Removes one subscription of `connection`; returns its consumer name for releasing its leases.
    mutating func remove(_ id: SubscriptionID, connection: UInt64) -> String? {
        guard let sub = byID[id], sub.connection == connection else { return nil }
        byID[id] = nil
        return sub.consumer
    }

    /// Removes every subscription of a closed connection; returns their consumer names.
    mutating func removeConnection(_ connection: UInt64) -> [String] {
        let gone = byID.values.filter { $0.connection == connection }
        for sub in gone { byID[sub.id] = nil }
        return gone.map(\.consumer).sorted()
    }

    /// Drops everything (this node stopped being the leader); returns what was dropped.
    mutating func leadershipLost() -> [Subscription] {
        let all = Array(byID.values)
        byID = [:]
        return all
    }

    mutating func setPrefetch(_ id: SubscriptionID, connection: UInt64, prefetch: Int) {
        guard byID[id]?.connection == connection else { return }
        byID[id]?.prefetch = min(max(0, prefetch), Self.prefetchMax)
    }

    /// Subscriptions that should ask for messages now.
    func wantingMessages() -> [SubscriptionID] {
        byID.values.filter(\.wantsReceive).map(\.id).sorted {
            $0.rawValue < $1.rawValue
        }
    }

    subscript(id: SubscriptionID) -> Subscription? {
        get { byID[id] }
        set { byID[id] = newValue }
    }

    /// The queue of `namespace`/`queue` may have messages again: wake its idle subscriptions.
    mutating func wake(namespace: String, queue: String) {
        for (id, sub) in byID where sub.idle && sub.queue.namespace == namespace && sub.queue.name == queue {
            byID[id]?.idle = false
        }
    }

    /// Returns credit for settled or expired leases of `connection` (nil: any connection) on `queue`.
    mutating func settle(_ leases: [LeaseID], queue: ObjectName, connection: UInt64?) {
        for (id, sub) in byID where sub.queue == queue && (connection == nil || sub.connection == connection) {
            var outstanding = sub.outstanding
            for lease in leases { outstanding.remove(lease) }
            if outstanding.count != sub.outstanding.count {
                byID[id]?.outstanding = outstanding
                byID[id]?.idle = false
            }
        }
    }

    /// Returns credit for leases that expired under consumer `consumer`.
    mutating func expired(_ leases: [LeaseID], consumer: String) {
        for (id, sub) in byID where sub.consumer == consumer {
            for lease in leases { byID[id]?.outstanding.remove(lease) }
            byID[id]?.idle = false
        }
    }
}
