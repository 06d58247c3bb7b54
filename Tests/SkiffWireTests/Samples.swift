@testable import SkiffWire

/// One value of every request, response and push, with optional fields both set and unset, so round-trip
/// and fuzz tests cover every opcode.
enum Samples {
    static let queue = ObjectName(namespace: "default", name: "orders")
    static let message = OutgoingMessage(
        body: Array("hello".utf8), headers: ["k": "v", "a": "ü"], priority: 9, ttlMs: 1_000, delayMs: nil,
        deliverAtMs: 42)
    static let stamp = ProducerStamp(producerID: ProducerID(7), sequence: SequenceNumber(3))
    static let publish = PublishRequest(
        namespace: "default", target: .exchange("x", routingKey: "a.b"), producer: stamp,
        messages: [message, OutgoingMessage(body: [])])
    static let produce = ProduceRequest(
        topic: ObjectName(namespace: "n", name: "t"), producer: nil,
        records: [ProduceRecord(partition: 2, key: [1], value: [2], headers: ["h": "1"]), ProduceRecord(value: [])])
    static let commit = CommitOffsetsRequest(
        namespace: "n", group: "g", memberID: "m", generation: 4,
        offsets: [PartitionOffset(topic: "t", partition: 1, offset: Offset(10))])
    static let lease = LeaseHandle(messageID: MessageID(5), leaseToken: LeaseToken(6))
    static let arguments = QueueArguments(
        deadLetterQueue: "dlq", maxDeliveries: 5, messageTTLMs: 3_000, maxLength: 100, maxBytes: nil,
        overflow: .deadLetter, exclusive: true, leaseMs: 30_000)
    static let member = MemberInfo(
        id: NodeID(1), role: .leader, term: Term(3), commit: LogIndex(10), applied: LogIndex(9),
        clientAddress: "127.0.0.1:7001", peerAddress: "127.0.0.1:7101")

    static let requests: [Request] = [
        .hello(Hello(role: .client, clientID: "c1")), .ping, .clusterInfo,
        .addNode(AddNodeRequest(id: NodeID(4), peerAddress: "h:1", clientAddress: "h:2")), .removeNode(NodeID(4)),
        .transferLeader(.none), .namespaceCreate("n"), .namespaceDelete("n"), .namespaceList,
        .queueDeclare(QueueDeclareRequest(queue: queue, arguments: arguments)),
        .queueDeclare(QueueDeclareRequest(queue: queue)), .queueDelete(queue), .queuePurge(queue),
        .queueStats(queue), .queueList("default"), .publish(publish),
        .publish(PublishRequest(namespace: "d", target: .queue("q"), messages: [message])),
        .allocateProducer(producerGroup: "g"),
        .subscribe(SubscribeRequest(queue: queue, prefetch: 10, leaseMs: 0)), .unsubscribe(SubscriptionID(3)),
        .setPrefetch(PrefetchRequest(subscriptionID: SubscriptionID(3), prefetch: 5)),
        .ack(SettleRequest(queue: queue, leases: [lease])), .nack(SettleRequest(queue: queue, leases: [lease, lease])),
        .reject(SettleRequest(queue: queue, leases: [lease])),
        .extendLease(ExtendLeaseRequest(queue: queue, leases: [lease], extendMs: 5_000)),
        .exchangeDeclare(ExchangeInfo(exchange: queue, type: .topic, alternateExchange: "ae")),
        .exchangeDelete(queue), .exchangeList("d"),
        .bind(BindRequest(namespace: "d", exchange: "x", queue: "q", bindingKey: "a.*", headers: ["x": "1"])),
        .unbind(BindRequest(namespace: "d", exchange: "x", queue: "q", matchAll: false)),
        .topicCreate(
            TopicInfo(
                topic: queue, config: TopicConfig(partitions: 3, retentionMs: 10, retentionBytes: nil, compacted: true))
        ),
        .topicDelete(queue), .topicList("d"), .produce(produce),
        .fetch(FetchRequest(topic: queue, partition: 1, offset: Offset(5))),
        .groupJoin(GroupJoinRequest(namespace: "n", group: "g", topic: "t", sessionTimeoutMs: 10_000)),
        .groupHeartbeat(GroupMemberRequest(namespace: "n", group: "g", memberID: "m", generation: 2)),
        .groupLeave(GroupMemberRequest(namespace: "n", group: "g", memberID: "m", generation: 2, topic: "t")),
        .commitOffsets(commit),
        .resetOffsets(ResetOffsetsRequest(namespace: "n", group: "g", topic: "t", position: .earliest)),
        .resetOffsets(ResetOffsetsRequest(namespace: "n", group: "g", topic: "t", partition: 1, position: .latest)),
        .resetOffsets(ResetOffsetsRequest(namespace: "n", group: "g", topic: "t", position: .timestamp(99))),
        .resetOffsets(ResetOffsetsRequest(namespace: "n", group: "g", topic: "t", position: .offset(Offset(3)))),
        .groupOffsets(GroupOffsetsRequest(namespace: "n", group: "g", topic: "t")),
        .txnBegin(TxnBeginRequest(timeoutMs: 1_000, producerID: ProducerID(1))),
        .txnPublish(TxnPublishRequest(transactionID: TransactionID(1), publish: publish)),
        .txnProduce(TxnProduceRequest(transactionID: TransactionID(1), produce: produce)),
        .txnCommitOffsets(TxnCommitOffsetsRequest(transactionID: TransactionID(1), commit: commit)),
        .txnCommit(TransactionID(1)), .txnAbort(TransactionID(2)),
        .halfPrepare(
            HalfPrepareRequest(
                producerGroup: "g", publish: PublishRequest(namespace: "d", target: .queue("q"), messages: [message]))),
        .halfResolve(HalfResolveRequest(halfID: HalfMessageID(9), outcome: .unknown)),
    ]

    static let stats = QueueStats(
        name: "q", ready: 1, leased: 2, delayed: 3, deadLettered: 4, bytes: 5, consumers: 6, arguments: arguments,
        published: 7, delivered: 8, acked: 9, discarded: 10)

    static let responses: [Response] = [
        .ok, .error(WireError(.notLeader, "no", leaderID: NodeID(2), leaderAddress: "h:1")),
        .error(WireError(.unknown(999))),
        .helloOK(HelloOK(version: 1, nodeID: NodeID(1), leaderID: NodeID(2), leaderAddress: "h:1", frameBytesMax: 100)),
        .cluster(
            ClusterInfo(respondingNode: NodeID(1), leaderID: NodeID(1), term: Term(3), members: [member, member])),
        .names(["a", "b"]), .count(7), .queueStats(stats), .queueList([stats, stats]),
        .exchangeList([ExchangeInfo(exchange: queue, type: .headers)]),
        .topicList([TopicInfo(topic: queue, config: TopicConfig(partitions: 1))]),
        .published(PublishResult(messageIDs: [MessageID(1), MessageID(2)], duplicate: true)),
        .producer(ProducerID(4)), .subscribed(SubscriptionID(8)),
        .produced(ProduceResult(positions: [RecordPosition(partition: 1, offset: Offset(2))])),
        .fetched(
            FetchResult(
                partition: 1,
                records: [
                    TopicRecord(offset: Offset(3), timestampMs: 4, key: nil, value: [5]),
                    TopicRecord(offset: Offset(4), timestampMs: 5, key: [1], value: [], headers: ["a": "b"]),
                ], logStartOffset: Offset(0), highWatermark: Offset(5))),
        .assignment(GroupAssignment(memberID: "m", generation: 3, topic: "t", partitions: [0, 2])),
        .groupOffsets(
            GroupOffsets(
                group: "g", topic: "t",
                partitions: [
                    PartitionLag(partition: 0, committed: nil, logStartOffset: Offset(0), highWatermark: Offset(9)),
                    PartitionLag(
                        partition: 1, committed: Offset(3), logStartOffset: Offset(1), highWatermark: Offset(3)),
                ])),
        .transaction(TransactionID(5)), .halfPrepared(HalfPrepared(halfID: HalfMessageID(1), messageID: MessageID(2))),
    ]

    static let pushes: [Push] = [
        .delivery(
            Delivery(
                subscriptionID: SubscriptionID(1), queue: queue, messageID: MessageID(2), leaseToken: LeaseToken(3),
                deliveryCount: 2, priority: 4, publishedAtMs: 5, leaseExpiresAtMs: 6, headers: ["x-death": "1"],
                body: [1, 2, 3])),
        .checkback(
            Checkback(
                halfID: HalfMessageID(1), producerGroup: "g", namespace: "d", target: .queue("q"), message: message,
                attempt: 2)),
        .subscriptionEnded(SubscriptionEnded(subscriptionID: SubscriptionID(1), error: WireError(.unknownQueue))),
        .deliveries(
            DeliveryBatch(
                subscriptionID: SubscriptionID(7), queue: queue,
                deliveries: [
                    Delivery(
                        subscriptionID: SubscriptionID(7), queue: queue, messageID: MessageID(2),
                        leaseToken: LeaseToken(3), deliveryCount: 1, priority: 0, publishedAtMs: 0,
                        leaseExpiresAtMs: 6, headers: [:], body: [1, 2, 3]),
                    Delivery(
                        subscriptionID: SubscriptionID(7), queue: queue, messageID: MessageID(4),
                        leaseToken: LeaseToken(5), deliveryCount: 3, priority: 9, publishedAtMs: 1,
                        leaseExpiresAtMs: 8, headers: ["x-death-reason": "expired", "k": "v"], body: []),
                ])),
    ]

    /// Every sample as a frame, with distinct request ids.
    static var frames: [Frame] {
        var frames: [Frame] = []
        for (index, request) in requests.enumerated() { frames.append(request.frame(id: RequestID(UInt64(index + 1)))) }
        for (index, response) in responses.enumerated() {
            frames.append(response.frame(id: RequestID(UInt64(index + 1))))
        }
        frames.append(contentsOf: pushes.map(\.frame))
        return frames
    }
}
