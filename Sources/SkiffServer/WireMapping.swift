import SkiffBroker
import SkiffRaft
import SkiffWire

/// Translates between the client protocol (`SkiffWire`) and the replicated state machine (`SkiffBroker`).
///
/// The two modules name some types alike (`PublishRequest`, `ProducerID`, ...), so this file always
/// qualifies them. Identifiers map one to one: a wire `MessageID` is a broker `MessageSeq`, a wire
/// `LeaseToken` is a broker `LeaseID`.
enum WireMapping {
    /// The error a broker failure becomes on the wire.
    static func wireError(_ error: BrokerError) -> WireError {
        let code: ErrorCode
        switch error.code {
        case .namespaceNotFound: code = .unknownNamespace
        case .queueNotFound: code = .unknownQueue
        case .exchangeNotFound: code = .unknownExchange
        case .topicNotFound, .partitionNotFound: code = .unknownTopic
        case .groupNotFound, .memberNotFound, .staleGeneration, .notPartitionOwner: code = .unknownGroup
        case .transactionNotFound, .transactionAborted, .transactionCommitted, .halfMessageNotFound:
            code = .unknownTransaction
        case .leaseNotFound, .notActiveConsumer: code = .unknownLease
        case .namespaceExists, .queueExists, .exchangeExists, .topicExists: code = .alreadyExists
        case .queueFull: code = .queueFull
        case .unroutable: code = .unroutable
        case .producerNotFound: code = .unknownProducer
        case .sequenceGap: code = .sequenceGap
        case .staleSequence: code = .duplicate
        case .limitExceeded: code = .limitExceeded
        default: code = .badRequest
        }
        return WireError(code, error.message)
    }

    static func headers(_ map: [String: String]) -> [Header] {
        map.keys.sorted().map { Header($0, map[$0]!) }
    }

    static func headerMap(_ list: [Header]) -> [String: String] {
        var map: [String: String] = [:]
        for header in list { map[header.name] = header.value }
        return map
    }

    static func target(_ t: SkiffWire.PublishTarget) -> SkiffBroker.PublishTarget {
        switch t {
        case .queue(let name): return .queue(name)
        case .exchange(let name, let key): return .exchange(name, routingKey: key)
        }
    }

    static func wireTarget(_ t: SkiffBroker.PublishTarget) -> SkiffWire.PublishTarget {
        switch t {
        case .queue(let name): return .queue(name)
        case .exchange(let name, let key): return .exchange(name, routingKey: key)
        }
    }

    /// The checkback push for a broker checkback event: the half message's body, headers and priority go to the
    /// producer's checker, which needs them to find its local transaction (an empty message would leave it only
    /// the half id).
    static func checkback(_ check: HalfCheck) -> Checkback {
        let message = SkiffWire.OutgoingMessage(
            body: check.message.body, headers: headerMap(check.message.headers), priority: check.message.priority)
        return Checkback(
            halfID: HalfMessageID(check.half.rawValue), producerGroup: check.producerGroup,
            namespace: check.namespace, target: wireTarget(check.target), message: message, attempt: check.check)
    }

    static func message(_ m: SkiffWire.OutgoingMessage) -> SkiffBroker.OutgoingMessage {
        var delivery = SkiffBroker.DeliveryTime.now
        if let at = m.deliverAtMs {
            delivery = .at(Int64(clamping: at))
        } else if let delay = m.delayMs, delay > 0 {
            delivery = .delayMs(Int64(clamping: delay))
        }
        return SkiffBroker.OutgoingMessage(
            body: m.body, headers: headers(m.headers), priority: m.priority, ttlMs: m.ttlMs.map { Int64(clamping: $0) },
            deliveryTime: delivery)
    }

    /// The broker stamp for message `offset` of a stamped request.
    ///
    /// The two protocols count differently: on the wire a stamp names the first *message* and message *i* has
    /// `sequence + i`, starting at 1 (docs/protocol.md); the broker counts *commands* per (producer, target),
    /// starting at 0 (docs/broker.md). A stamped request of N messages therefore becomes N one-message broker
    /// commands with sequences `wire - 1 + i`, which keeps both contracts and makes every retry exact.
    static func stamp(_ s: SkiffWire.ProducerStamp?, offset: Int = 0) -> SkiffBroker.ProducerStamp? {
        guard let s, s.sequence.rawValue > 0 else { return nil }
        return SkiffBroker.ProducerStamp(
            producer: .init(s.producerID.rawValue), sequence: s.sequence.rawValue - 1 + UInt64(offset))
    }

    /// The broker command for a wire publish (split per message when stamped; see `stamp`).
    static func publishCommand(_ p: SkiffWire.PublishRequest, dedup: Bool) -> Command {
        guard dedup, p.producer != nil, p.messages.count > 1 else { return .publish(publish(p, dedup: dedup)) }
        return .batch(
            p.messages.enumerated().map { i, m in
                .publish(
                    SkiffBroker.PublishRequest(
                        namespace: p.namespace, target: target(p.target), messages: [message(m)],
                        producer: stamp(p.producer, offset: i)))
            })
    }

    /// The broker command for a wire produce (split per record when stamped; see `stamp`).
    static func appendCommand(_ p: ProduceRequest, dedup: Bool) -> Command {
        guard dedup, p.producer != nil, p.records.count > 1 else { return .append(append(p, dedup: dedup)) }
        let all = records(p)
        return .batch(
            all.enumerated().map { i, r in
                .append(
                    AppendRequest(
                        namespace: p.topic.namespace, topic: p.topic.name, records: [r],
                        producer: stamp(p.producer, offset: i)))
            })
    }

    static func publish(_ p: SkiffWire.PublishRequest, dedup: Bool) -> SkiffBroker.PublishRequest {
        SkiffBroker.PublishRequest(
            namespace: p.namespace, target: target(p.target), messages: p.messages.map(message),
            producer: dedup ? stamp(p.producer) : nil)
    }

    static func queueArguments(_ a: SkiffWire.QueueArguments) -> SkiffBroker.QueueArguments {
        var result = SkiffBroker.QueueArguments()
        result.deadLetterQueue = a.deadLetterQueue
        result.maxDeliveries = a.maxDeliveries.map { UInt16(clamping: $0) }
        result.messageTTLMs = a.messageTTLMs.map { Int64(clamping: $0) }
        result.maxLength = a.maxLength
        result.maxBytes = a.maxBytes
        result.overflow = SkiffBroker.OverflowPolicy(rawValue: a.overflow.rawValue) ?? .dropHead
        result.singleActiveConsumer = a.exclusive
        return result
    }

    static func wireQueueArguments(_ a: SkiffBroker.QueueArguments) -> SkiffWire.QueueArguments {
        var result = SkiffWire.QueueArguments()
        result.deadLetterQueue = a.deadLetterQueue
        result.maxDeliveries = a.maxDeliveries.map { UInt32($0) }
        result.messageTTLMs = a.messageTTLMs.map { UInt64(clamping: $0) }
        result.maxLength = a.maxLength
        result.maxBytes = a.maxBytes
        result.overflow = SkiffWire.OverflowPolicy(rawValue: a.overflow.rawValue) ?? .dropHead
        result.exclusive = a.singleActiveConsumer
        return result
    }

    static func records(_ p: ProduceRequest) -> [OutgoingRecord] {
        p.records.map {
            OutgoingRecord(key: $0.key, value: $0.value, headers: headers($0.headers), partition: $0.partition)
        }
    }

    static func append(_ p: ProduceRequest, dedup: Bool) -> AppendRequest {
        AppendRequest(
            namespace: p.topic.namespace, topic: p.topic.name, records: records(p),
            producer: dedup ? stamp(p.producer) : nil)
    }

    static func offsetCommit(_ c: CommitOffsetsRequest) -> [OffsetCommit] {
        // The wire request may name several topics; the broker commits per (group, topic).
        var byTopic: [String: [SkiffBroker.PartitionOffset]] = [:]
        for o in c.offsets {
            byTopic[o.topic, default: []].append(.init(partition: o.partition, offset: .init(o.offset.rawValue)))
        }
        return byTopic.keys.sorted().map { topic in
            OffsetCommit(
                group: GroupRef(namespace: c.namespace, topic: topic, group: c.group), member: c.memberID,
                generation: c.generation, offsets: byTopic[topic]!)
        }
    }

    static func resetTarget(_ p: ResetPosition) -> ResetTarget {
        switch p {
        case .earliest: return .earliest
        case .latest: return .latest
        case .timestamp(let t): return .timestamp(Int64(clamping: t))
        case .offset(let o): return .offset(.init(o.rawValue))
        }
    }

    static func leases(_ handles: [LeaseHandle]) -> [LeaseID] { handles.map { LeaseID($0.leaseToken.rawValue) } }

    /// Bytes of bodies and headers above which a delivery batch is cut, so a batch frame is never much larger
    /// than the largest single delivery and a client's decode of one frame stays short.
    static let deliveryBatchBytesSoftMax = 1 << 20

    /// Splits one receive's deliveries into push batches, in order: each holds at most
    /// `WireProtocol.deliveriesPerBatchMax` deliveries and is cut before a delivery that would take its body and
    /// header bytes past `bytesSoftMax`, so a batch is bigger than that only when it holds a single delivery.
    static func deliveryBatches(
        _ messages: [DeliveredMessage], subscription: SubscriptionID, queue: ObjectName,
        bytesSoftMax: Int = deliveryBatchBytesSoftMax
    ) -> [DeliveryBatch] {
        var batches: [DeliveryBatch] = []
        var batch: [Delivery] = []
        batch.reserveCapacity(min(messages.count, WireProtocol.deliveriesPerBatchMax))
        var bytes = 0
        for message in messages {
            let size = deliveryBytes(message)
            if !batch.isEmpty, batch.count == WireProtocol.deliveriesPerBatchMax || bytes + size > bytesSoftMax {
                batches.append(DeliveryBatch(subscriptionID: subscription, queue: queue, deliveries: batch))
                batch.removeAll(keepingCapacity: true)
                bytes = 0
            }
            batch.append(delivery(message, subscription: subscription, queue: queue))
            bytes += size
        }
        if !batch.isEmpty {
            batches.append(DeliveryBatch(subscriptionID: subscription, queue: queue, deliveries: batch))
        }
        return batches
    }

    /// The body and header bytes of a delivery (what bounds a delivery batch).
    static func deliveryBytes(_ m: DeliveredMessage) -> Int {
        m.headers.reduce(m.body.count) { $0 + $1.name.utf8.count + $1.value.utf8.count + 8 }
    }

    static func delivery(
        _ m: DeliveredMessage, subscription: SubscriptionID, queue: ObjectName
    ) -> Delivery {
        Delivery(
            subscriptionID: subscription, queue: queue, messageID: MessageID(m.sequence.rawValue),
            leaseToken: LeaseToken(m.lease.rawValue), deliveryCount: UInt32(m.deliveryCount), priority: m.priority,
            publishedAtMs: 0, leaseExpiresAtMs: UInt64(clamping: m.leaseDeadline), headers: headerMap(m.headers),
            body: m.body)
    }
}

extension WireMapping {
    static func queueStats(_ s: SkiffBroker.QueueStats) -> SkiffWire.QueueStats {
        SkiffWire.QueueStats(
            name: s.queue, ready: s.ready, leased: s.leased, delayed: s.delayed, deadLettered: s.deadLettered,
            bytes: s.bytes, consumers: s.activeConsumer == nil ? 0 : 1, arguments: wireQueueArguments(s.arguments),
            published: s.published, delivered: s.delivered, acked: s.acked, discarded: s.discarded)
    }

    static func exchangeInfo(_ e: SkiffBroker.ExchangeInfo) -> SkiffWire.ExchangeInfo {
        SkiffWire.ExchangeInfo(
            exchange: ObjectName(namespace: e.namespace, name: e.exchange),
            type: ExchangeType(rawValue: e.kind.rawValue) ?? .direct, alternateExchange: e.alternateExchange)
    }

    static func topicInfo(_ t: SkiffBroker.TopicInfo) -> SkiffWire.TopicInfo {
        SkiffWire.TopicInfo(
            topic: ObjectName(namespace: t.namespace, name: t.topic),
            config: TopicConfig(
                partitions: t.arguments.partitions, retentionMs: t.arguments.retentionMs.map { UInt64(clamping: $0) },
                retentionBytes: t.arguments.retentionBytes, compacted: t.arguments.compact))
    }

    /// One message id per published message: the sequence of its first stored copy.
    static func publishResult(_ receipt: PublishReceipt) -> PublishResult {
        guard receipt.routedQueues.count != receipt.sequences.count else {
            return PublishResult(messageIDs: receipt.sequences.map { MessageID($0.rawValue) })
        }
        var ids: [MessageID] = []
        var position = 0
        for copies in receipt.routedQueues {
            ids.append(
                position < receipt.sequences.count ? MessageID(receipt.sequences[position].rawValue) : MessageID(0))
            position += Int(copies)
        }
        return PublishResult(messageIDs: ids)
    }

    /// A stamped publish or produce the broker already stored, but whose original result fell out of its
    /// remembered window: acknowledged as a duplicate (docs/protocol.md: DUPLICATE is success). The ids are
    /// unknown and reported as 0.
    static func staleDuplicate(for request: Request) -> Response? {
        switch request {
        case .publish(let p):
            return .published(PublishResult(messageIDs: p.messages.map { _ in MessageID(0) }, duplicate: true))
        case .produce(let p):
            return .produced(
                ProduceResult(positions: p.records.map { _ in .init(partition: 0, offset: .init(0)) }, duplicate: true))
        default: return nil
        }
    }

    /// The wire response for a split publish or produce: the first failure, or every message's result.
    static func combined(_ results: [CommandResult], for request: Request) -> Response {
        var ids: [MessageID] = []
        var positions: [SkiffWire.RecordPosition] = []
        var duplicate = false
        for result in results {
            switch result {
            case .error(let error) where error.code == .staleSequence:
                duplicate = true
                ids.append(MessageID(0))
                positions.append(.init(partition: 0, offset: .init(0)))
            case .error(let error): return .error(wireError(error))
            case .ok(.published(let receipt)): ids += publishResult(receipt).messageIDs
            case .ok(.appended(let p)):
                positions += p.map { .init(partition: $0.partition, offset: .init($0.offset.rawValue)) }
            case .ok: break
            }
        }
        if case .produce = request { return .produced(ProduceResult(positions: positions, duplicate: duplicate)) }
        return .published(PublishResult(messageIDs: ids, duplicate: duplicate))
    }

    /// The wire response for a write whose broker command succeeded with `value`.
    static func response(for request: Request, value: ResultValue) -> Response {
        switch request {
        case .ack, .nack, .reject, .extendLease, .namespaceCreate, .namespaceDelete, .queueDeclare, .queueDelete,
            .exchangeDeclare, .exchangeDelete, .bind, .unbind, .topicCreate, .topicDelete, .groupLeave, .resetOffsets,
            .txnPublish, .txnProduce, .txnCommitOffsets, .txnCommit, .txnAbort, .halfResolve:
            return .ok
        case .commitOffsets:
            if case .batch(let results) = value, let error = results.compactMap(\.error).first {
                return .error(wireError(error))
            }
            return .ok
        default: break
        }
        switch value {
        case .batch(let results):
            switch request {
            case .publish, .produce: return combined(results, for: request)
            case .commitOffsets:
                if let error = results.compactMap(\.error).first { return .error(wireError(error)) }
                return .ok
            default: return .ok
            }
        case .none: return .ok
        case .published(let receipt):
            if case .halfPrepare = request { return .ok }
            return .published(publishResult(receipt))
        case .appended(let positions):
            return .produced(
                ProduceResult(
                    positions: positions.map { .init(partition: $0.partition, offset: .init($0.offset.rawValue)) }))
        case .delivered: return .ok
        case .count(let n): return .count(n)
        case .producer(let id): return .producer(.init(id.rawValue))
        case .transaction(let id): return .transaction(.init(id.rawValue))
        case .halfMessage(let id):
            return .halfPrepared(HalfPrepared(halfID: .init(id.rawValue), messageID: .init(id.rawValue)))
        case .assignment(let a):
            var member = ""
            var topic = ""
            if case .groupJoin(let j) = request {
                member = j.memberID
                topic = j.topic
            } else if case .groupHeartbeat(let m) = request {
                member = m.memberID
            }
            return .assignment(
                SkiffWire.GroupAssignment(
                    memberID: member, generation: a.generation, topic: topic, partitions: a.partitions))
        }
    }
}
