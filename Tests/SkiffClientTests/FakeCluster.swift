import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SkiffWire

/// The replicated state a real cluster would agree on, shared by the fake nodes of one test: who leads,
/// the stored messages with their idempotence table, and every request each node saw.
final class FakeCluster: Sendable {
    struct StoredMessage: Sendable, Hashable {
        var id: MessageID
        var body: [UInt8]
        var deliveries: UInt32 = 0
        var leasedBy: UInt64?
        var acked = false
        /// Stamped on every delivery; 0 (unknown) unless a test sets it.
        var leaseExpiresAtMs: UInt64 = 0
    }

    struct State {
        var leader: NodeID = .none
        var addresses: [NodeID: String] = [:]
        var messages: [StoredMessage] = []
        /// (producer, target, sequence) → message id.
        var stored: [String: MessageID] = [:]
        var lastSequence: [String: UInt64] = [:]
        var nextMessageID: UInt64 = 1
        var nextProducer: UInt64 = 100
        /// Every stamped publish a node received: (node, producer, sequence).
        var publishLog: [(NodeID, ProducerID, SequenceNumber)] = []
        /// Requests nodes answered NOT_LEADER.
        var notLeaderCount = 0
        /// Publishes answered with duplicate = true.
        var duplicatesAnswered = 0
        /// After this many stored publishes the leader crashes without answering the last one.
        var crashLeaderAfterPublishes: Int?
        /// After this many stored publishes the leader keeps storing but stops answering.
        var muteAfterPublishes: Int?
        /// Like the broker, only the last `resultWindow` results per (producer, target) are remembered; an
        /// older retry is answered DUPLICATE.
        var resultWindow: UInt64 = 8
        /// Publishes of these bodies fail with QUEUE_FULL and, like the broker, consume no sequence number.
        var rejectedBodies: Set<[UInt8]> = []
        /// Holds back the answer to a rejected body this long, so that the publishes pipelined behind it reach
        /// the server first (as on a real leader, where a refusal comes only after the commit).
        var rejectionDelayMs: Int64 = 0
        /// Errors answered, by code.
        var errorsAnswered: [ErrorCode: Int] = [:]
        var storedPublishes = 0
        /// The node that takes over when the leader crashes.
        var successor: NodeID = .none
        /// Requests of these opcodes are never answered (to test timeouts).
        var swallow: Set<Request.Opcode> = []
        var resolved: [(HalfMessageID, HalfOutcome)] = []
        var subscriptionsByConnection: [ObjectIdentifier: [SubscriptionID: UInt32]] = [:]
        /// Push each round's deliveries of a subscription as one `deliveries` batch (protocol version 2).
        var batchDeliveries = false
        /// One topic "t" with `topicPartitions` partitions; records per partition.
        var topicPartitions: UInt32 = 2
        var partitions: [UInt32: [TopicRecord]] = [:]
        /// Committed offsets of group "g" per partition.
        var committed: [UInt32: Offset] = [:]
        var generation: UInt64 = 0
        /// Transactions: id → staged publishes; committed ones are applied to `messages`.
        var transactions: [TransactionID: [PublishRequest]] = [:]
        var aborted: [TransactionID] = []
    }

    let state = NIOLockedValueBox(State())
    let nodes = NIOLockedValueBox<[NodeID: FakeNode]>([:])

    /// Starts `count` nodes with ids 1...count on ephemeral ports; node `leader` leads.
    static func start(nodes count: Int, leader: UInt64) async throws -> FakeCluster {
        let cluster = FakeCluster()
        for raw in 1...UInt64(count) {
            let node = try await FakeNode.start(id: NodeID(raw), cluster: cluster)
            cluster.nodes.withLockedValue { $0[node.id] = node }
            cluster.state.withLockedValue { $0.addresses[node.id] = node.address }
        }
        cluster.state.withLockedValue { $0.leader = NodeID(leader) }
        return cluster
    }

    func address(_ id: UInt64) -> String { state.withLockedValue { $0.addresses[NodeID(id)]! } }

    func node(_ id: UInt64) -> FakeNode { nodes.withLockedValue { $0[NodeID(id)]! } }

    func shutdown() async {
        for node in nodes.withLockedValue({ Array($0.values) }) { await node.kill() }
    }

    /// Simulates a crash of the leader: it stops listening and drops every connection; `successor` leads.
    func crashLeader() async {
        let (leader, successor) = state.withLockedValue { state -> (NodeID, NodeID) in
            let old = state.leader
            state.leader = state.successor
            return (old, state.successor)
        }
        precondition(successor != .none, "crashLeader without a successor")
        if let node = nodes.withLockedValue({ $0[leader] }) { await node.kill() }
    }

    func clusterInfo(from node: NodeID) -> ClusterInfo {
        state.withLockedValue { state in
            let members = state.addresses.keys.sorted().map { id in
                MemberInfo(
                    id: id, role: id == state.leader ? .leader : .follower, term: Term(1), commit: LogIndex(1),
                    applied: LogIndex(1), clientAddress: state.addresses[id]!, peerAddress: "")
            }
            return ClusterInfo(respondingNode: node, leaderID: state.leader, term: Term(1), members: members)
        }
    }
}

/// One fake node: a real NIO listener speaking SkiffWire, with canned broker behaviour.
final class FakeNode: Sendable {
    let id: NodeID
    let cluster: FakeCluster
    let serverChannel: any Channel
    let address: String
    let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    let dead = NIOLockedValueBox(false)
    /// A hung node (like one under SIGSTOP) keeps its connections but answers nothing.
    let hung = NIOLockedValueBox(false)

    private init(id: NodeID, cluster: FakeCluster, serverChannel: any Channel) {
        self.id = id
        self.cluster = cluster
        self.serverChannel = serverChannel
        self.address = "127.0.0.1:\(serverChannel.localAddress!.port!)"
    }

    static func start(id: NodeID, cluster: FakeCluster) async throws -> FakeNode {
        let nodeBox = NIOLockedValueBox<FakeNode?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let node = nodeBox.withLockedValue({ $0 }), !node.dead.withLockedValue({ $0 }) else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    node.connections.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(WireFrameDecoder()), MessageToByteHandler(WireFrameEncoder()),
                        FakeNodeHandler(node: node),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let node = FakeNode(id: id, cluster: cluster, serverChannel: channel)
        nodeBox.withLockedValue { $0 = node }
        return node
    }

    /// Stops listening and closes every connection (like SIGKILL).
    func kill() async {
        dead.withLockedValue { $0 = true }
        try? await serverChannel.close()
        for channel in connections.withLockedValue({ Array($0.values) }) { try? await channel.close() }
    }

    /// What this node answers; nil means "no answer" (swallowed or crashed).
    func handle(_ request: Request, connection: any Channel) -> Response? {
        if dead.withLockedValue({ $0 }) || hung.withLockedValue({ $0 }) { return nil }
        if cluster.state.withLockedValue({ $0.swallow.contains(request.opcode) }) { return nil }
        switch request {
        case .hello:
            let (leader, address) = cluster.state.withLockedValue { ($0.leader, $0.addresses[$0.leader] ?? "") }
            return .helloOK(
                HelloOK(version: 1, nodeID: id, leaderID: leader, leaderAddress: address, frameBytesMax: 1 << 24))
        case .clusterInfo: return .cluster(cluster.clusterInfo(from: id))
        case .ping: return .ok
        default: break
        }
        let (isLeader, leaderAddress) = cluster.state.withLockedValue { state in
            (state.leader == id, state.addresses[state.leader] ?? "")
        }
        guard isLeader else {
            cluster.state.withLockedValue { state in
                state.notLeaderCount += 1
                if case .publish(let p) = request, let stamp = p.producer {
                    state.publishLog.append((id, stamp.producerID, stamp.sequence))
                }
            }
            return .error(WireError(.notLeader, "fake follower", leaderID: .none, leaderAddress: leaderAddress))
        }
        return handleAsLeader(request, connection: connection)
    }

    private func handleAsLeader(_ request: Request, connection: any Channel) -> Response? {
        switch request {
        case .allocateProducer:
            return .producer(
                cluster.state.withLockedValue { state in
                    state.nextProducer += 1
                    return ProducerID(state.nextProducer)
                })
        case .publish(let publish): return self.publish(publish)
        case .queueStats(let name) where name.name != "q":
            return .error(WireError(.unknownQueue, "no queue \(name.name)"))
        case .queueDeclare: return .ok
        case .subscribe(let subscribe): return self.subscribe(subscribe, connection: connection)
        case .ack(let settle):
            cluster.state.withLockedValue { state in
                for lease in settle.leases {
                    if let index = state.messages.firstIndex(where: { $0.id == lease.messageID }) {
                        state.messages[index].acked = true
                        state.messages[index].leasedBy = nil
                    }
                }
            }
            scheduleDeliveries()
            return .ok
        case .nack(let settle):
            cluster.state.withLockedValue { state in
                for lease in settle.leases {
                    if let index = state.messages.firstIndex(where: { $0.id == lease.messageID }) {
                        state.messages[index].leasedBy = nil
                    }
                }
            }
            scheduleDeliveries()
            return .ok
        case .extendLease: return .ok
        case .halfPrepare:
            return .halfPrepared(HalfPrepared(halfID: HalfMessageID(77), messageID: MessageID(78)))
        case .halfResolve(let resolve):
            cluster.state.withLockedValue { $0.resolved.append((resolve.halfID, resolve.outcome)) }
            return .ok
        case .unsubscribe: return .ok
        case .produce, .fetch, .groupJoin, .groupHeartbeat, .groupLeave, .commitOffsets, .groupOffsets, .resetOffsets:
            return cluster.state.withLockedValue { FakeTopics.handle(request, state: &$0) }
        case .txnBegin, .txnPublish, .txnCommit, .txnAbort:
            return cluster.state.withLockedValue { FakeTopics.handleTransaction(request, state: &$0) }
        default: return .error(WireError(.badRequest, "fake node does not implement \(request.opcode)"))
        }
    }

    private func publish(_ publish: PublishRequest) -> Response? {
        let outcome = cluster.state.withLockedValue { state -> (Response?, Bool) in
            guard let stamp = publish.producer else { return (.error(WireError(.badRequest, "unstamped")), false) }
            state.publishLog.append((id, stamp.producerID, stamp.sequence))
            let target = "\(publish.namespace)/\(publish.target.name)"
            let key = { (seq: UInt64) in "\(stamp.producerID)/\(target)/\(seq)" }
            let first = stamp.sequence.rawValue
            let last = state.lastSequence["\(stamp.producerID)/\(target)"] ?? 0
            if first <= last {
                state.duplicatesAnswered += 1
                guard first + state.resultWindow > last, let original = state.stored[key(first)] else {
                    state.errorsAnswered[.duplicate, default: 0] += 1
                    return (.error(WireError(.duplicate, "older than the result window")), false)
                }
                let ids = (0..<UInt64(publish.messages.count)).map { state.stored[key(first + $0)] ?? original }
                return (.published(PublishResult(messageIDs: ids, duplicate: true)), false)
            }
            guard first == last + 1 else {
                state.errorsAnswered[.sequenceGap, default: 0] += 1
                return (.error(WireError(.sequenceGap, "expected \(last + 1)")), false)
            }
            if publish.messages.contains(where: { state.rejectedBodies.contains($0.body) }) {
                state.errorsAnswered[.queueFull, default: 0] += 1
                return (.error(WireError(.queueFull, "rejected body")), false)
            }
            var ids: [MessageID] = []
            for (offset, message) in publish.messages.enumerated() {
                let id = MessageID(state.nextMessageID)
                state.nextMessageID += 1
                state.messages.append(FakeCluster.StoredMessage(id: id, body: message.body))
                state.stored[key(first + UInt64(offset))] = id
                ids.append(id)
            }
            state.lastSequence["\(stamp.producerID)/\(target)"] = first + UInt64(publish.messages.count) - 1
            state.storedPublishes += 1
            let crash = state.crashLeaderAfterPublishes.map { state.storedPublishes >= $0 } ?? false
            let mute = state.muteAfterPublishes.map { state.storedPublishes > $0 } ?? false
            if crash {
                state.crashLeaderAfterPublishes = nil
                state.muteAfterPublishes = nil
            }
            return (mute ? nil : .published(PublishResult(messageIDs: ids)), crash)
        }
        if outcome.1 {
            // Stored (committed) but never answered: the client must retry and get the original result.
            dead.withLockedValue { $0 = true }
            Task { await cluster.crashLeader() }
            return nil
        }
        return outcome.0
    }

    private func subscribe(_ subscribe: SubscribeRequest, connection: any Channel) -> Response {
        let id = SubscriptionID(UInt64.random(in: 1...UInt64(UInt32.max)))
        cluster.state.withLockedValue { state in
            state.subscriptionsByConnection[ObjectIdentifier(connection), default: [:]][id] = subscribe.prefetch
        }
        scheduleDeliveries()
        return .subscribed(id)
    }

    /// Pushes ready messages to subscriptions on this node's live connections, within their credit, after the
    /// current response is written (as a real server would after the subscribe commits).
    func scheduleDeliveries() {
        MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(1)) { [self] in
            pushDeliveries()
        }
    }

    private static func holder(_ key: ObjectIdentifier, _ subscriptionID: SubscriptionID) -> UInt64 {
        UInt64(UInt(bitPattern: key.hashValue)) ^ subscriptionID.rawValue
    }

    private func pushDeliveries() {
        guard !dead.withLockedValue({ $0 }) else { return }
        let live = connections.withLockedValue { $0 }
        let pushes = cluster.state.withLockedValue { state -> [(any Channel, Delivery)] in
            var pushes: [(any Channel, Delivery)] = []
            for (key, subscriptions) in state.subscriptionsByConnection {
                guard let channel = live[key], channel.isActive else { continue }
                for (subscriptionID, prefetch) in subscriptions {
                    let holder = Self.holder(key, subscriptionID)
                    var leased = state.messages.filter { $0.leasedBy == holder && !$0.acked }.count
                    for index in state.messages.indices where leased < prefetch {
                        guard !state.messages[index].acked, state.messages[index].leasedBy == nil else { continue }
                        state.messages[index].leasedBy = holder
                        state.messages[index].deliveries += 1
                        leased += 1
                        let message = state.messages[index]
                        let delivery = Delivery(
                            subscriptionID: subscriptionID, queue: ObjectName(namespace: "default", name: "q"),
                            messageID: message.id, leaseToken: LeaseToken(1), deliveryCount: message.deliveries,
                            leaseExpiresAtMs: message.leaseExpiresAtMs, body: message.body)
                        pushes.append((channel, delivery))
                    }
                }
            }
            return pushes
        }
        guard cluster.state.withLockedValue({ $0.batchDeliveries }) else {
            for (channel, delivery) in pushes { channel.writeAndFlush(Push.delivery(delivery).frame, promise: nil) }
            return
        }
        var index = 0
        while index < pushes.count {
            let (channel, first) = pushes[index]
            var batch: [Delivery] = []
            while index < pushes.count, pushes[index].0 === channel,
                pushes[index].1.subscriptionID == first.subscriptionID
            {
                batch.append(pushes[index].1)
                index += 1
            }
            let push = Push.deliveries(
                DeliveryBatch(subscriptionID: first.subscriptionID, queue: first.queue, deliveries: batch))
            channel.writeAndFlush(push.frame, promise: nil)
        }
    }

    /// Releases the leases of a closed connection (what the real server does on disconnect).
    func connectionClosed(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        connections.withLockedValue { _ = $0.removeValue(forKey: key) }
        cluster.state.withLockedValue { state in
            guard let subscriptions = state.subscriptionsByConnection.removeValue(forKey: key) else { return }
            for subscriptionID in subscriptions.keys {
                let holder = Self.holder(key, subscriptionID)
                for index in state.messages.indices where state.messages[index].leasedBy == holder {
                    state.messages[index].leasedBy = nil
                }
            }
        }
    }

    /// Pushes a checkback to every connection of this node.
    func pushCheckback(_ checkback: Checkback) {
        for channel in connections.withLockedValue({ Array($0.values) }) {
            channel.writeAndFlush(Push.checkback(checkback).frame, promise: nil)
        }
    }
}

private final class FakeNodeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    let node: FakeNode

    init(node: FakeNode) { self.node = node }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let request = try Request(frame: frame)
            guard let response = node.handle(request, connection: context.channel) else { return }
            let delayMs = node.cluster.state.withLockedValue { $0.rejectionDelayMs }
            if case .error(let error) = response, error.code == .queueFull, delayMs > 0 {
                let channel = context.channel
                let reply = response.frame(id: frame.requestID)
                context.eventLoop.scheduleTask(in: .milliseconds(delayMs)) {
                    channel.writeAndFlush(reply, promise: nil)
                }
                return
            }
            context.writeAndFlush(wrapOutboundOut(response.frame(id: frame.requestID)), promise: nil)
        } catch {
            context.writeAndFlush(wrapOutboundOut(Response.error(WireError(error)).frame(id: .none)), promise: nil)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        node.connectionClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
