import SkiffBroker

/// The broker-level invariants, checked once per log index at the first replica to apply it (the "frontier"):
/// every replica applies the same commands in the same order, which the Raft checks and the state-hash
/// comparison establish, so the frontier's results stand for all of them.
struct BrokerChecker {
    private struct Delivery: Hashable {
        var queue: String
        var seq: MessageSeq
    }

    /// The highest log index whose broker effects were checked.
    private(set) var frontier: UInt64 = 0
    /// Broker applied index -> state hash, from the first replica that computed it.
    private var hashes: [UInt64: UInt64] = [:]
    /// Message id -> the sequences of its one stored publish (idempotent producer: a retry gets the same ones).
    private var stored: [String: [MessageSeq]] = [:]
    /// Live leases: message -> lease, and lease -> message.
    private var liveLeases: [Delivery: LeaseID] = [:]
    private var leased: [LeaseID: (message: Delivery, deadline: Int64, consumer: String)] = [:]
    /// How often each message has been delivered from each queue (a dead letter starts again at zero).
    private var deliveries: [Delivery: UInt16] = [:]
    /// Every message id handed to a consumer.
    private(set) var deliveredIDs: Set<String> = []
    private(set) var leasesGranted = 0
    private(set) var leasesExpired = 0
    private(set) var duplicatesAbsorbed = 0

    /// Compares a replica's state hash with the one first recorded for the same applied index.
    mutating func checkHash(_ hash: UInt64, appliedIndex: UInt64, node: String) -> (String, String)? {
        if let known = hashes[appliedIndex] {
            guard known == hash else {
                return (
                    "broker-replicas-agree",
                    "\(node) hashes \(hash) at applied index \(appliedIndex), "
                        + "another replica \(known)"
                )
            }
        } else {
            hashes[appliedIndex] = hash
        }
        return nil
    }

    /// Checks the effects of the command applied at `index`, once per index.
    mutating func observe(
        index: UInt64, command: Command, result: CommandResult, events: [BrokerEvent], brokerTime: Int64
    ) -> (String, String)? {
        guard index > frontier else { return nil }
        frontier = index
        for event in events {
            guard case .leasesExpired(_, let queue, _, let leases) = event else { continue }
            for lease in leases {
                guard let held = leased.removeValue(forKey: lease) else { continue }
                liveLeases[held.message] = nil
                leasesExpired += 1
                if held.deadline > brokerTime {
                    return ("lease-expired-early", "\(lease) on \(queue) expired at \(brokerTime) < \(held.deadline)")
                }
            }
        }
        guard case .ok(let value) = result else { return nil }
        switch (command, value) {
        case (.publish(let request), .published(let receipt)):
            guard let id = request.messages.first?.id else { return nil }
            if let known = stored[id] {
                guard known == receipt.sequences else {
                    return ("idempotent-publish", "message \(id) stored twice, as \(known) and \(receipt.sequences)")
                }
                duplicatesAbsorbed += 1
            } else {
                stored[id] = receipt.sequences
            }
        case (.receive(_, let queue, let consumer, _, _), .delivered(let messages)):
            for message in messages {
                if let problem = noteDelivery(message, queue: queue, consumer: consumer) { return problem }
            }
        case (.releaseConsumer(let consumer), _):
            for (lease, held) in leased where held.consumer == consumer {
                leased[lease] = nil
                liveLeases[held.message] = nil
            }
        case (.ack(_, _, let leases), _), (.nack(_, _, let leases, _), _):
            for lease in leases {
                if let held = leased.removeValue(forKey: lease) { liveLeases[held.message] = nil }
            }
        default: break
        }
        return nil
    }

    private mutating func noteDelivery(
        _ message: DeliveredMessage, queue: String, consumer: String
    ) -> (String, String)? {
        let key = Delivery(queue: queue, seq: message.sequence)
        if let other = liveLeases[key] {
            return (
                "lease-exclusive",
                "\(message.id) (\(message.sequence) in \(queue)) leased as \(message.lease) while \(other) is live"
            )
        }
        let expected = (deliveries[key] ?? 0) + 1
        guard message.deliveryCount == expected else {
            return (
                "delivery-count",
                "\(message.id) in \(queue) delivered with count \(message.deliveryCount), expected \(expected)"
            )
        }
        deliveries[key] = expected
        liveLeases[key] = message.lease
        leased[message.lease] = (key, message.leaseDeadline, consumer)
        deliveredIDs.insert(message.id)
        leasesGranted += 1
        return nil
    }
}
