import Logging
import NIOCore
import SkiffBroker
import SkiffRaft
import SkiffWire

/// Client requests: reads served locally, writes turned into broker commands and answered after apply.
extension Node {
    func connectionOpened(_ connection: ClientConnection) {
        connections[connection.id] = connection
    }

    /// A lost connection's leases are released at once (through Raft), so its messages are redelivered
    /// without waiting for their visibility timeouts.
    func connectionClosed(_ connection: ClientConnection) {
        connections[connection.id] = nil
        let consumers = subscriptions.removeConnection(connection.id)
        guard isLeader else { return }
        for consumer in consumers { submit(.releaseConsumer(consumer), bytes: consumer.utf8.count, responder: nil) }
    }

    /// The handshake answer for a connection that negotiated `version`.
    func helloOK(version: UInt16) -> HelloOK {
        HelloOK(
            version: version, nodeID: config.nodeID, leaderID: raft.leader ?? .none,
            leaderAddress: clientAddress(of: raft.leader), frameBytesMax: UInt32(config.clientFrameBytesMax))
    }

    /// Serves one decoded request from `connection`.
    func handle(_ request: Request, id: RequestID, from connection: ClientConnection) {
        switch request {
        case .hello: connection.reply(id, .helloOK(helloOK(version: connection.protocolVersion)))
        case .ping: connection.reply(id, .ok)
        case .clusterInfo: connection.reply(id, .cluster(clusterInfo()))
        case .fetch(let fetch): connection.reply(id, self.fetch(fetch))
        default:
            guard isLeader else {
                connection.reply(id, .error(notLeaderError()))
                return
            }
            handleOnLeader(request, id: id, from: connection)
        }
    }

    private func handleOnLeader(_ request: Request, id: RequestID, from connection: ClientConnection) {
        switch request {
        case .addNode(let add): addNode(add, id: id, from: connection)
        case .removeNode(let node): removeNode(node, id: id, from: connection)
        case .transferLeader(let node): transferLeader(to: node, id: id, from: connection)
        case .subscribe(let s): subscribe(s, id: id, from: connection)
        case .unsubscribe(let sub): unsubscribe(sub, id: id, from: connection)
        case .setPrefetch(let p):
            subscriptions.setPrefetch(p.subscriptionID, connection: connection.id, prefetch: Int(p.prefetch))
            connection.reply(id, .ok)
            pumpDeliveries()
        case .ack(let s), .nack(let s), .reject(let s):
            settled(s, connection: connection)
            submitWrite(request, id: id, from: connection)
            // The credit the settle returned is asked for in the same group-commit batch as the settle.
            pumpDeliveries()
        case .namespaceList, .queueStats, .queueList, .exchangeList, .topicList, .groupOffsets:
            linearizableRead(request, id: id, from: connection)
        default:
            submitWrite(request, id: id, from: connection)
        }
    }

    /// Turns a write request into a broker command and answers after commit and apply.
    private func submitWrite(_ request: Request, id: RequestID, from connection: ClientConnection) {
        let dedup = config.unsafeBug != .skipDedup
        guard let (command, bytes) = Self.command(for: request, dedup: dedup) else {
            connection.reply(id, .error(WireError(.badRequest, "request \(request.opcode) is not a write")))
            return
        }
        if case .allocateProducer(let group) = request, !group.isEmpty { connection.producerGroups.insert(group) }
        if config.unsafeBug == .ackBeforeFsync, case .publish(let p) = request {
            // TEST ONLY: confirm before the write is durable anywhere (issue 6 §6).
            let ids = (0..<p.messages.count).map { _ in MessageID(0) }
            connection.reply(id, .published(PublishResult(messageIDs: ids, duplicate: false)))
            submit(command, bytes: bytes, responder: nil)
            return
        }
        connection.pendingRequests += 1
        submit(command, bytes: bytes) { [weak connection] outcome in
            guard let connection else { return }
            connection.pendingRequests -= 1
            switch outcome {
            case .failed(let error): connection.reply(id, .error(error))
            case .applied(.error(let error)):
                if error.code == .staleSequence, let duplicate = WireMapping.staleDuplicate(for: request) {
                    connection.reply(id, duplicate)
                } else {
                    connection.reply(id, .error(WireMapping.wireError(error)))
                }
            case .applied(.ok(let value)): connection.reply(id, WireMapping.response(for: request, value: value))
            }
        }
    }

    /// The broker command for a write request and its approximate size, or nil for non-writes.
    static func command(for request: Request, dedup: Bool) -> (Command, Int)? {
        switch request {
        case .namespaceCreate(let n): return (.createNamespace(n), n.utf8.count)
        case .namespaceDelete(let n): return (.deleteNamespace(n), n.utf8.count)
        case .queueDeclare(let q):
            return (
                .declareQueue(
                    namespace: q.queue.namespace, queue: q.queue.name,
                    arguments: WireMapping.queueArguments(q.arguments)), 64
            )
        case .queueDelete(let q): return (.deleteQueue(namespace: q.namespace, queue: q.name, ifEmpty: false), 64)
        case .queuePurge(let q): return (.purgeQueue(namespace: q.namespace, queue: q.name), 64)
        case .publish(let p):
            return (WireMapping.publishCommand(p, dedup: dedup), p.messages.reduce(64) { $0 + $1.body.count + 32 })
        case .allocateProducer(let group): return (.initProducer(producerGroup: group), 32)
        case .ack(let s):
            return (.ack(namespace: s.queue.namespace, queue: s.queue.name, leases: WireMapping.leases(s.leases)), 32)
        case .nack(let s):
            return (
                .nack(
                    namespace: s.queue.namespace, queue: s.queue.name, leases: WireMapping.leases(s.leases),
                    requeue: true), 32
            )
        case .reject(let s):
            return (
                .nack(
                    namespace: s.queue.namespace, queue: s.queue.name, leases: WireMapping.leases(s.leases),
                    requeue: false), 32
            )
        case .extendLease(let e):
            return (
                .extendLeases(
                    namespace: e.queue.namespace, queue: e.queue.name, leases: WireMapping.leases(e.leases),
                    visibilityMs: Int64(e.extendMs)), 32
            )
        case .exchangeDeclare(let e):
            let kind = ExchangeKind(rawValue: e.type.rawValue) ?? .direct
            return (
                .declareExchange(
                    namespace: e.exchange.namespace, exchange: e.exchange.name, kind: kind,
                    alternateExchange: e.alternateExchange), 64
            )
        case .exchangeDelete(let e): return (.deleteExchange(namespace: e.namespace, exchange: e.name), 64)
        case .bind(let b), .unbind(let b):
            let match =
                b.headers.isEmpty ? nil : HeadersMatch(matchAll: b.matchAll, headers: WireMapping.headers(b.headers))
            if case .bind = request {
                return (
                    .bind(
                        namespace: b.namespace, exchange: b.exchange, queue: b.queue, bindingKey: b.bindingKey,
                        headers: match), 64
                )
            }
            return (
                .unbind(
                    namespace: b.namespace, exchange: b.exchange, queue: b.queue, bindingKey: b.bindingKey,
                    headers: match), 64
            )
        default: return commandRest(for: request, dedup: dedup)
        }
    }

    private static func commandRest(for request: Request, dedup: Bool) -> (Command, Int)? {
        switch request {
        case .topicCreate(let t):
            let arguments = TopicArguments(
                partitions: t.config.partitions, retentionMs: t.config.retentionMs.map { Int64(clamping: $0) },
                retentionBytes: t.config.retentionBytes, compact: t.config.compacted)
            return (.createTopic(namespace: t.topic.namespace, topic: t.topic.name, arguments: arguments), 64)
        case .topicDelete(let t): return (.deleteTopic(namespace: t.namespace, topic: t.name), 64)
        case .produce(let p):
            return (WireMapping.appendCommand(p, dedup: dedup), p.records.reduce(64) { $0 + $1.value.count + 32 })
        case .groupJoin(let j):
            let ref = GroupRef(namespace: j.namespace, topic: j.topic, group: j.group)
            return (.joinGroup(ref, member: j.memberID, sessionTimeoutMs: Int64(j.sessionTimeoutMs)), 64)
        case .groupHeartbeat(let m):
            return (
                .heartbeat(
                    GroupRef(namespace: m.namespace, topic: m.topic ?? "", group: m.group), member: m.memberID,
                    generation: m.generation), 64
            )
        case .groupLeave(let m):
            let ref = GroupRef(namespace: m.namespace, topic: m.topic ?? "", group: m.group)
            return (.leaveGroup(ref, member: m.memberID), 64)
        case .commitOffsets(let c):
            let commits = WireMapping.offsetCommit(c)
            return (commits.count == 1 ? .commitOffsets(commits[0]) : .batch(commits.map { .commitOffsets($0) }), 64)
        case .resetOffsets(let r):
            let ref = GroupRef(namespace: r.namespace, topic: r.topic, group: r.group)
            return (.resetOffsets(ref, partition: r.partition, to: WireMapping.resetTarget(r.position)), 64)
        case .txnBegin(let b):
            return (.beginTransaction(producer: .init(b.producerID?.rawValue ?? 0), timeoutMs: Int64(b.timeoutMs)), 32)
        case .txnPublish(let t):
            return (
                .transactionPublish(.init(t.transactionID.rawValue), WireMapping.publish(t.publish, dedup: dedup)),
                64 + t.publish.messages.reduce(0) { $0 + $1.body.count }
            )
        case .txnProduce(let t):
            return (
                .transactionAppend(.init(t.transactionID.rawValue), WireMapping.append(t.produce, dedup: dedup)),
                64 + t.produce.records.reduce(0) { $0 + $1.value.count }
            )
        case .txnCommitOffsets(let t):
            guard let commit = WireMapping.offsetCommit(t.commit).first else { return nil }
            return (.transactionCommitOffsets(.init(t.transactionID.rawValue), commit), 64)
        case .txnCommit(let t): return (.commitTransaction(.init(t.rawValue)), 16)
        case .txnAbort(let t): return (.abortTransaction(.init(t.rawValue)), 16)
        case .halfPrepare(let h):
            guard let message = h.publish.messages.first, h.publish.messages.count == 1 else { return nil }
            var outgoing = WireMapping.message(message)
            // A stamped prepare names its message, so the broker answers a resend with the still-open half.
            if dedup, let stamp = h.publish.producer {
                outgoing.id = "half:\(stamp.producerID.rawValue):\(stamp.sequence.rawValue)"
            }
            let prepare = HalfPrepare(
                namespace: h.publish.namespace, target: WireMapping.target(h.publish.target), message: outgoing,
                producerGroup: h.producerGroup)
            return (.prepareHalfMessage(prepare), 64 + message.body.count)
        case .halfResolve(let r):
            let resolution: HalfResolution
            switch r.outcome {
            case .commit: resolution = .commit
            case .rollback: resolution = .rollback
            case .unknown: resolution = .unknown
            }
            return (.resolveHalfMessage(.init(r.halfID.rawValue), resolution), 16)
        default: return nil
        }
    }
}
