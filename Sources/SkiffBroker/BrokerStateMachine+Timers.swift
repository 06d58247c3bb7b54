/// Time-driven behaviour: everything here runs at the start of an apply, for timers due at the command's time.
extension BrokerStateMachine {
    /// Stale timer entries tolerated beyond twice the live count before the heap is rebuilt.
    static let timerSlack = 100_000
    /// Fires due timers in (time, kind, owner, id) order. A timer acts only when its time is exactly its subject's
    /// current due time; an early (stale) entry re-arms at the due time instead, even if that is also past. So the
    /// order of effective firings is the canonical (due time, kind, owner, id) order whatever stale entries the
    /// heap holds, and a restored replica (whose heap has none) fires identically. Only effective firings count
    /// toward `timersPerApplyMax`, so stale entries never shift where an apply stops.
    mutating func fireDueTimers() {
        var effective = 0
        while effective < BrokerLimits.timersPerApplyMax, let first = timers.min, first.at <= now {
            _ = timers.popMin()
            if fire(first) { effective += 1 }
        }
    }

    /// Runs one timer; returns whether it changed state.
    private mutating func fire(_ timer: Timer) -> Bool {
        switch timer.kind {
        case .delayedVisible: return makeVisible(queue: timer.owner, seq: timer.id, at: timer.at)
        case .messageExpiry: return expireReady(queue: timer.owner, timerID: timer.id, at: timer.at)
        case .leaseExpiry: return expireLease(queue: timer.owner, lease: timer.id, at: timer.at)
        case .transactionTimeout: return timeOutTransaction(timer.id, at: timer.at)
        case .halfCheck: return checkHalf(timer.id, at: timer.at)
        case .memberTimeout: return expireMember(group: timer.owner, serial: timer.id, at: timer.at)
        case .topicRetention: return enforceRetention(topic: timer.owner, at: timer.at)
        }
    }

    private mutating func expireReady(queue id: UInt32, timerID: UInt64, at: Int64) -> Bool {
        let seq = timerID & (1 << 58 - 1)
        let priority = UInt8(timerID >> 58)
        guard queues[id] != nil, let message = queues[id]!.removeReady(seq: seq, priority: priority) else {
            return false
        }
        guard message.expiresAt == at else {
            // A timer from an earlier stay in this queue: the message's own timer (armed when it last became
            // ready) is at its current expiry. Put it back untouched.
            queues[id]!.insertReady(message)
            return false
        }
        deadLetter([(message, id, .expired)])
        return true
    }

    private mutating func expireLease(queue id: UInt32, lease: UInt64, at: Int64) -> Bool {
        guard let held = queues[id]?.leases[lease] else { return false }
        guard held.deadline == at else {
            // Extended: follow the deadline. (An earlier deadline has its own timer, armed by the extend.)
            if held.deadline > at { arm(.leaseExpiry, at: held.deadline, owner: id, id: lease) }
            return false
        }
        _ = takeLease(lease, queue: id)
        expiredLeases[ExpiredLeaseKey(queue: id, consumer: held.consumer), default: []].append(LeaseID(lease))
        // A consumer that let a lease lapse is presumed gone: it loses single-active ownership.
        if queues[id]!.activeConsumer == held.consumer { removeActive(held.consumer, queue: id) }
        requeue(held.message, queue: id)
        return true
    }

    /// Replaces the timer heap with exactly one timer per live subject, at its current due time, and drops stale
    /// entries of the consumer index. Both are derived state, so this never changes behaviour: it is what
    /// `restore` does, and what `apply` does when stale timers pile up (see `timerRebuildThreshold`).
    mutating func rebuildTimers() {
        var live: [Timer] = []
        consumerQueues.removeAll()
        for (id, queue) in queues {
            for held in queue.leases.values { consumerQueues[held.consumer, default: []].insert(id) }
            if queue.readyWithExpiry > 0 {
                for level in queue.levels {
                    for message in level where message.expiresAt != Int64.max {
                        live.append(
                            Timer(
                                at: message.expiresAt, id: Self.expiryTimerID(message), owner: id, kind: .messageExpiry)
                        )
                    }
                }
            }
            for (seq, delayed) in queue.delayed {
                live.append(Timer(at: delayed.visibleAt, id: seq, owner: id, kind: .delayedVisible))
            }
            for (lease, held) in queue.leases {
                live.append(Timer(at: held.deadline, id: lease, owner: id, kind: .leaseExpiry))
            }
        }
        for (id, transaction) in transactions {
            live.append(Timer(at: transaction.deadline, id: id, owner: 0, kind: .transactionTimeout))
        }
        for (id, half) in halves { live.append(Timer(at: half.nextCheckAt, id: id, owner: 0, kind: .halfCheck)) }
        for (id, group) in groups {
            for member in group.members.values {
                live.append(
                    Timer(
                        at: member.lastSeen + member.sessionTimeoutMs, id: member.serial, owner: id,
                        kind: .memberTimeout))
            }
        }
        timers = MinHeap(live)
        for id in topics.keys {
            topics[id]!.retentionTimerAt = nil
            armRetention(topic: id)
        }
        timerRebuildThreshold = 2 * timers.count + Self.timerSlack
    }
}
