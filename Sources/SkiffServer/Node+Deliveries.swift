import Logging
import NIOCore
import SkiffBroker
import SkiffRaft
import SkiffWire

/// Push deliveries to queue consumers, broker events, and half-message checkbacks.
extension Node {
    /// Default lease (visibility timeout) when a subscription names none.
    static let defaultLeaseMs: Int64 = 30_000

    func subscribe(_ request: SubscribeRequest, id: RequestID, from connection: ClientConnection) {
        let leaseMs = request.leaseMs > 0 ? Int64(request.leaseMs) : Node.defaultLeaseMs
        guard
            let sub = subscriptions.add(
                connection: connection.id, queue: request.queue, prefetch: Int(request.prefetch), leaseMs: leaseMs,
                node: config.nodeID)
        else {
            connection.reply(id, .error(WireError(.limitExceeded, "too many subscriptions on this connection")))
            return
        }
        connection.reply(id, .subscribed(sub))
        pumpDeliveries()
    }

    func unsubscribe(_ sub: SubscriptionID, id: RequestID, from connection: ClientConnection) {
        if let consumer = subscriptions.remove(sub, connection: connection.id) {
            submit(.releaseConsumer(consumer), bytes: consumer.utf8.count, responder: nil)
        }
        connection.reply(id, .ok)
    }

    /// After each apply batch: ask for messages for hungry subscriptions and flush every written connection.
    func deliverAfterApply() {
        pumpDeliveries()
        flushConnections()
    }

    func flushConnections() {
        let dirty = dirtyConnections
        dirtyConnections = []
        for connection in dirty { connection.flushIfNeeded() }
    }

    /// Proposes a `receive` for every subscription that wants one (see `SubscriptionTable`).
    func pumpDeliveries() {
        guard isLeader else { return }
        for subID in subscriptions.wantingMessages() {
            guard var sub = subscriptions[subID] else { continue }
            let count = min(sub.credit, BrokerLimits.receiveMessagesMax)
            sub.receiveProposed(count: count)
            subscriptions[subID] = sub
            let command = Command.receive(
                namespace: sub.queue.namespace, queue: sub.queue.name, consumer: sub.consumer,
                maxMessages: UInt32(count), visibilityMs: sub.leaseMs)
            let term = raft.term
            submit(command, bytes: 64) { [weak self] outcome in
                self?.received(outcome, subscription: subID, asked: count, term: term)
            }
        }
    }

    private func received(_ outcome: Outcome, subscription subID: SubscriptionID, asked: Int, term: Term) {
        // A subscription that ended while its receive was in flight needs nothing here: its `releaseConsumer`
        // was proposed after the receive, so it applies after it and releases these leases too.
        guard var sub = subscriptions[subID] else { return }
        sub.receiveEnded(count: asked)
        subscriptions[subID] = sub
        // Only the leader of the term that proposed the receive pushes its leases; on any other node the
        // subscription is already ended with NOT_LEADER and the leases expire and are delivered again.
        guard isLeader, raft.term == term else { return }
        switch outcome {
        case .applied(.ok(.delivered(let messages))):
            if messages.isEmpty { sub.idle = true }
            for message in messages { sub.outstanding.insert(message.lease) }
            subscriptions[subID] = sub
            guard let connection = connections[sub.connection], !messages.isEmpty else { return }
            push(messages, subscription: subID, queue: sub.queue, to: connection)
        case .applied(.error(let error)):
            subscriptions[subID] = nil
            connections[sub.connection]?.push(
                .subscriptionEnded(SubscriptionEnded(subscriptionID: subID, error: WireMapping.wireError(error))))
        case .applied(.ok), .failed:
            sub.idle = true
            subscriptions[subID] = sub
        }
    }

    /// Pushes leased messages: one `deliveries` frame per batch on connections that negotiated batches,
    /// one `delivery` frame per message on older ones.
    private func push(
        _ messages: [DeliveredMessage], subscription subID: SubscriptionID, queue: ObjectName,
        to connection: ClientConnection
    ) {
        guard connection.takesDeliveryBatches else {
            for message in messages {
                connection.push(.delivery(WireMapping.delivery(message, subscription: subID, queue: queue)))
            }
            return
        }
        for batch in WireMapping.deliveryBatches(messages, subscription: subID, queue: queue) {
            connection.push(.deliveries(batch))
        }
    }

    /// Tells every subscriber that this node no longer leads; clients re-subscribe on the new leader.
    func endSubscriptionsOnLeadershipLoss() {
        let error = notLeaderError()
        for sub in subscriptions.leadershipLost() {
            connections[sub.connection]?.push(
                .subscriptionEnded(SubscriptionEnded(subscriptionID: sub.id, error: error)))
        }
        flushConnections()
    }

    /// Credit flows back as soon as a consumer settles, so the next delivery is not held up by the commit.
    func settled(_ request: SettleRequest, connection: ClientConnection) {
        subscriptions.settle(WireMapping.leases(request.leases), queue: request.queue, connection: connection.id)
    }

    /// Broker events: wake consumers, return expired credit, route checkbacks.
    func handle(_ events: [BrokerEvent]) {
        for event in events {
            switch event {
            case .messagesAvailable(let namespace, let queue, _):
                subscriptions.wake(namespace: namespace, queue: queue)
            case .leasesExpired(_, _, let consumer, let leases):
                subscriptions.expired(leases, consumer: consumer)
            case .checkback(let check):
                routeCheckback(check)
            default:
                break
            }
        }
    }

    /// Sends a checkback to one live connection registered for the producer group (rotating among them).
    private func routeCheckback(_ check: HalfCheck) {
        guard isLeader else { return }
        let live = connections.values.filter { $0.isActive && $0.producerGroups.contains(check.producerGroup) }
            .sorted { $0.id < $1.id }
        guard !live.isEmpty else { return }
        let connection = live[Int(check.half.rawValue % UInt64(live.count))]
        connection.push(.checkback(WireMapping.checkback(check)))
    }
}
