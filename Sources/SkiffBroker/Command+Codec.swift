/// The binary form of commands (what the Raft log stores).
///
/// Layout: one version byte (`Command.codecVersion`), then the command: a tag byte and its fields.
/// Integers are LEB128 varints (signed ones zigzag), strings and byte arrays are length-prefixed, optionals
/// carry a 0/1 presence byte. Decoding rejects unknown versions and tags, over-long fields, trailing bytes and
/// nesting deeper than `BrokerLimits.batchDepthMax`, and never traps.
extension Command {
    /// The current codec version. Decoders accept exactly this version.
    public static let codecVersion: UInt8 = 1

    /// The command's log bytes.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        encode(appendingTo: &bytes)
        return bytes
    }

    /// Appends the command's log bytes (exactly what `encoded()` returns) to `bytes`, with no intermediate
    /// buffer: a caller that reserved room for a proposal's header and command copies each body once.
    public func encode(appendingTo bytes: inout [UInt8]) {
        var writer = ByteWriter(capacity: 0)
        swap(&writer.bytes, &bytes)
        writer.u8(Self.codecVersion)
        write(to: &writer)
        swap(&writer.bytes, &bytes)
    }

    /// Decodes log bytes produced by `encoded()`. Throws `malformedCommand` for anything else.
    public static func decode(_ bytes: [UInt8]) throws(BrokerError) -> Command {
        try decode(bytes[...])
    }

    /// Decodes log bytes produced by `encoded()` from a slice (a command inside a larger entry), without copying
    /// the slice first. Throws `malformedCommand` for anything else.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(BrokerError) -> Command {
        var reader = ByteReader(bytes)
        let version = try reader.u8()
        guard version == codecVersion else { throw ByteReader.malformed("unknown command codec version \(version)") }
        let command = try read(from: &reader, depth: 0)
        try reader.expectEnd()
        return command
    }

    private enum Tag: UInt8 {
        case batch = 1, tick, createNamespace, deleteNamespace, declareQueue, deleteQueue, purgeQueue, publish
        case receive, ack, nack, extendLeases, releaseConsumer, declareExchange, deleteExchange, bind, unbind
        case createTopic, deleteTopic, append, joinGroup, leaveGroup, heartbeat, commitOffsets, resetOffsets
        case deleteGroup, initProducer, beginTransaction, transactionPublish, transactionAppend
        case transactionCommitOffsets, commitTransaction, abortTransaction, prepareHalfMessage, resolveHalfMessage
    }

    func write(to w: inout ByteWriter) {
        switch self {
        case .batch(let commands):
            w.u8(Tag.batch.rawValue)
            w.count(commands.count)
            for command in commands { command.write(to: &w) }
        case .tick: w.u8(Tag.tick.rawValue)
        case .createNamespace(let name):
            w.u8(Tag.createNamespace.rawValue)
            w.string(name)
        case .deleteNamespace(let name):
            w.u8(Tag.deleteNamespace.rawValue)
            w.string(name)
        case .declareQueue(let namespace, let queue, let arguments):
            w.u8(Tag.declareQueue.rawValue)
            w.string(namespace)
            w.string(queue)
            arguments.write(to: &w)
        case .deleteQueue(let namespace, let queue, let ifEmpty):
            w.u8(Tag.deleteQueue.rawValue)
            w.string(namespace)
            w.string(queue)
            w.bool(ifEmpty)
        case .purgeQueue(let namespace, let queue):
            w.u8(Tag.purgeQueue.rawValue)
            w.string(namespace)
            w.string(queue)
        case .publish(let request):
            w.u8(Tag.publish.rawValue)
            request.write(to: &w)
        case .receive(let namespace, let queue, let consumer, let maxMessages, let visibilityMs):
            w.u8(Tag.receive.rawValue)
            w.string(namespace)
            w.string(queue)
            w.string(consumer)
            w.varint(UInt64(maxMessages))
            w.int(visibilityMs)
        default:
            writeRest(to: &w)
        }
    }

    private func writeRest(to w: inout ByteWriter) {
        switch self {
        case .ack(let namespace, let queue, let leases):
            w.u8(Tag.ack.rawValue)
            writeLeases(namespace, queue, leases, to: &w)
        case .nack(let namespace, let queue, let leases, let requeue):
            w.u8(Tag.nack.rawValue)
            writeLeases(namespace, queue, leases, to: &w)
            w.bool(requeue)
        case .extendLeases(let namespace, let queue, let leases, let visibilityMs):
            w.u8(Tag.extendLeases.rawValue)
            writeLeases(namespace, queue, leases, to: &w)
            w.int(visibilityMs)
        case .releaseConsumer(let consumer):
            w.u8(Tag.releaseConsumer.rawValue)
            w.string(consumer)
        case .declareExchange(let namespace, let exchange, let kind, let alternate):
            w.u8(Tag.declareExchange.rawValue)
            w.string(namespace)
            w.string(exchange)
            w.u8(kind.rawValue)
            w.optionalString(alternate)
        case .deleteExchange(let namespace, let exchange):
            w.u8(Tag.deleteExchange.rawValue)
            w.string(namespace)
            w.string(exchange)
        case .bind(let namespace, let exchange, let queue, let key, let headers):
            w.u8(Tag.bind.rawValue)
            writeBinding(namespace, exchange, queue, key, headers, to: &w)
        case .unbind(let namespace, let exchange, let queue, let key, let headers):
            w.u8(Tag.unbind.rawValue)
            writeBinding(namespace, exchange, queue, key, headers, to: &w)
        case .createTopic(let namespace, let topic, let arguments):
            w.u8(Tag.createTopic.rawValue)
            w.string(namespace)
            w.string(topic)
            arguments.write(to: &w)
        case .deleteTopic(let namespace, let topic):
            w.u8(Tag.deleteTopic.rawValue)
            w.string(namespace)
            w.string(topic)
        case .append(let request):
            w.u8(Tag.append.rawValue)
            request.write(to: &w)
        default:
            writeGroupsAndTransactions(to: &w)
        }
    }

    private func writeGroupsAndTransactions(to w: inout ByteWriter) {
        switch self {
        case .joinGroup(let group, let member, let sessionTimeoutMs):
            w.u8(Tag.joinGroup.rawValue)
            group.write(to: &w)
            w.string(member)
            w.int(sessionTimeoutMs)
        case .leaveGroup(let group, let member):
            w.u8(Tag.leaveGroup.rawValue)
            group.write(to: &w)
            w.string(member)
        case .heartbeat(let group, let member, let generation):
            w.u8(Tag.heartbeat.rawValue)
            group.write(to: &w)
            w.string(member)
            w.varint(generation)
        case .commitOffsets(let commit):
            w.u8(Tag.commitOffsets.rawValue)
            commit.write(to: &w)
        case .resetOffsets(let group, let partition, let target):
            w.u8(Tag.resetOffsets.rawValue)
            group.write(to: &w)
            w.optionalVarint(partition.map { UInt64($0) })
            target.write(to: &w)
        case .deleteGroup(let group):
            w.u8(Tag.deleteGroup.rawValue)
            group.write(to: &w)
        case .initProducer(let producerGroup):
            w.u8(Tag.initProducer.rawValue)
            w.string(producerGroup)
        case .beginTransaction(let producer, let timeoutMs):
            w.u8(Tag.beginTransaction.rawValue)
            w.varint(producer.rawValue)
            w.int(timeoutMs)
        case .transactionPublish(let txn, let request):
            w.u8(Tag.transactionPublish.rawValue)
            w.varint(txn.rawValue)
            request.write(to: &w)
        case .transactionAppend(let txn, let request):
            w.u8(Tag.transactionAppend.rawValue)
            w.varint(txn.rawValue)
            request.write(to: &w)
        case .transactionCommitOffsets(let txn, let commit):
            w.u8(Tag.transactionCommitOffsets.rawValue)
            w.varint(txn.rawValue)
            commit.write(to: &w)
        case .commitTransaction(let txn):
            w.u8(Tag.commitTransaction.rawValue)
            w.varint(txn.rawValue)
        case .abortTransaction(let txn):
            w.u8(Tag.abortTransaction.rawValue)
            w.varint(txn.rawValue)
        case .prepareHalfMessage(let prepare):
            w.u8(Tag.prepareHalfMessage.rawValue)
            prepare.write(to: &w)
        case .resolveHalfMessage(let half, let resolution):
            w.u8(Tag.resolveHalfMessage.rawValue)
            w.varint(half.rawValue)
            w.u8(resolution.rawValue)
        default:
            preconditionFailure("Command.write: unhandled command \(self)")
        }
    }

    private func writeLeases(_ namespace: String, _ queue: String, _ leases: [LeaseID], to w: inout ByteWriter) {
        w.string(namespace)
        w.string(queue)
        w.count(leases.count)
        for lease in leases { w.varint(lease.rawValue) }
    }

    private func writeBinding(
        _ namespace: String, _ exchange: String, _ queue: String, _ key: String, _ headers: HeadersMatch?,
        to w: inout ByteWriter
    ) {
        w.string(namespace)
        w.string(exchange)
        w.string(queue)
        w.string(key)
        w.bool(headers != nil)
        if let headers {
            w.bool(headers.matchAll)
            w.headers(headers.headers)
        }
    }

    static func read(from r: inout ByteReader, depth: Int) throws(BrokerError) -> Command {
        let raw = try r.u8()
        guard let tag = Tag(rawValue: raw) else { throw ByteReader.malformed("unknown command tag \(raw)") }
        let name = BrokerLimits.nameBytesMax
        switch tag {
        case .batch:
            guard depth < BrokerLimits.batchDepthMax else { throw ByteReader.malformed("batch nested too deep") }
            let count = try r.count(max: BrokerLimits.batchCommandsMax)
            var commands: [Command] = []
            commands.reserveCapacity(count)
            for _ in 0..<count { commands.append(try read(from: &r, depth: depth + 1)) }
            return .batch(commands)
        case .tick: return .tick
        case .createNamespace: return .createNamespace(try r.string(max: name))
        case .deleteNamespace: return .deleteNamespace(try r.string(max: name))
        case .declareQueue:
            return .declareQueue(
                namespace: try r.string(max: name), queue: try r.string(max: name),
                arguments: try QueueArguments.read(from: &r))
        case .deleteQueue:
            return .deleteQueue(
                namespace: try r.string(max: name), queue: try r.string(max: name), ifEmpty: try r.bool())
        case .purgeQueue: return .purgeQueue(namespace: try r.string(max: name), queue: try r.string(max: name))
        case .publish: return .publish(try PublishRequest.read(from: &r))
        case .receive:
            return .receive(
                namespace: try r.string(max: name), queue: try r.string(max: name), consumer: try r.string(max: name),
                maxMessages: try r.u32(), visibilityMs: try r.int())
        default: return try readRest(tag, from: &r)
        }
    }

    private static func readRest(_ tag: Tag, from r: inout ByteReader) throws(BrokerError) -> Command {
        let name = BrokerLimits.nameBytesMax
        switch tag {
        case .ack:
            let (namespace, queue, leases) = try readLeases(from: &r)
            return .ack(namespace: namespace, queue: queue, leases: leases)
        case .nack:
            let (namespace, queue, leases) = try readLeases(from: &r)
            return .nack(namespace: namespace, queue: queue, leases: leases, requeue: try r.bool())
        case .extendLeases:
            let (namespace, queue, leases) = try readLeases(from: &r)
            return .extendLeases(namespace: namespace, queue: queue, leases: leases, visibilityMs: try r.int())
        case .releaseConsumer: return .releaseConsumer(try r.string(max: name))
        case .declareExchange:
            let namespace = try r.string(max: name)
            let exchange = try r.string(max: name)
            let raw = try r.u8()
            guard let kind = ExchangeKind(rawValue: raw) else { throw ByteReader.malformed("exchange kind \(raw)") }
            return .declareExchange(
                namespace: namespace, exchange: exchange, kind: kind, alternateExchange: try r.optionalString(max: name)
            )
        case .deleteExchange:
            return .deleteExchange(namespace: try r.string(max: name), exchange: try r.string(max: name))
        case .bind, .unbind:
            let namespace = try r.string(max: name)
            let exchange = try r.string(max: name)
            let queue = try r.string(max: name)
            let key = try r.string(max: BrokerLimits.routingKeyBytesMax)
            let headers: HeadersMatch? =
                try r.bool() ? HeadersMatch(matchAll: try r.bool(), headers: try r.headers()) : nil
            return tag == .bind
                ? .bind(namespace: namespace, exchange: exchange, queue: queue, bindingKey: key, headers: headers)
                : .unbind(namespace: namespace, exchange: exchange, queue: queue, bindingKey: key, headers: headers)
        case .createTopic:
            return .createTopic(
                namespace: try r.string(max: name), topic: try r.string(max: name),
                arguments: try TopicArguments.read(from: &r))
        case .deleteTopic: return .deleteTopic(namespace: try r.string(max: name), topic: try r.string(max: name))
        case .append: return .append(try AppendRequest.read(from: &r))
        default: return try readGroupsAndTransactions(tag, from: &r)
        }
    }

    private static func readGroupsAndTransactions(_ tag: Tag, from r: inout ByteReader) throws(BrokerError) -> Command {
        let name = BrokerLimits.nameBytesMax
        switch tag {
        case .joinGroup:
            return .joinGroup(
                try GroupRef.read(from: &r), member: try r.string(max: name), sessionTimeoutMs: try r.int())
        case .leaveGroup: return .leaveGroup(try GroupRef.read(from: &r), member: try r.string(max: name))
        case .heartbeat:
            return .heartbeat(try GroupRef.read(from: &r), member: try r.string(max: name), generation: try r.varint())
        case .commitOffsets: return .commitOffsets(try OffsetCommit.read(from: &r))
        case .resetOffsets:
            let group = try GroupRef.read(from: &r)
            let partition: UInt32? = try r.bool() ? try r.u32() : nil
            return .resetOffsets(group, partition: partition, to: try ResetTarget.read(from: &r))
        case .deleteGroup: return .deleteGroup(try GroupRef.read(from: &r))
        case .initProducer: return .initProducer(producerGroup: try r.string(max: name))
        case .beginTransaction: return .beginTransaction(producer: ProducerID(try r.varint()), timeoutMs: try r.int())
        case .transactionPublish:
            return .transactionPublish(TransactionID(try r.varint()), try PublishRequest.read(from: &r))
        case .transactionAppend:
            return .transactionAppend(TransactionID(try r.varint()), try AppendRequest.read(from: &r))
        case .transactionCommitOffsets:
            return .transactionCommitOffsets(TransactionID(try r.varint()), try OffsetCommit.read(from: &r))
        case .commitTransaction: return .commitTransaction(TransactionID(try r.varint()))
        case .abortTransaction: return .abortTransaction(TransactionID(try r.varint()))
        case .prepareHalfMessage: return .prepareHalfMessage(try HalfPrepare.read(from: &r))
        case .resolveHalfMessage:
            let half = HalfMessageID(try r.varint())
            let raw = try r.u8()
            guard let resolution = HalfResolution(rawValue: raw) else {
                throw ByteReader.malformed("resolution \(raw)")
            }
            return .resolveHalfMessage(half, resolution)
        default: throw ByteReader.malformed("unexpected tag \(tag.rawValue)")
        }
    }

    private static func readLeases(from r: inout ByteReader) throws(BrokerError) -> (String, String, [LeaseID]) {
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let queue = try r.string(max: BrokerLimits.nameBytesMax)
        let count = try r.count(max: BrokerLimits.leaseIDsPerCommandMax)
        var leases: [LeaseID] = []
        leases.reserveCapacity(count)
        for _ in 0..<count { leases.append(LeaseID(try r.varint())) }
        return (namespace, queue, leases)
    }
}

extension QueueArguments {
    func write(to w: inout ByteWriter) {
        w.optionalVarint(maxLength)
        w.optionalVarint(maxBytes)
        w.u8(overflow.rawValue)
        w.optionalInt(messageTTLMs)
        w.optionalString(deadLetterQueue)
        w.optionalVarint(maxDeliveries.map { UInt64($0) })
        w.bool(singleActiveConsumer)
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> QueueArguments {
        let maxLength = try r.optionalVarint()
        let maxBytes = try r.optionalVarint()
        let raw = try r.u8()
        guard let overflow = OverflowPolicy(rawValue: raw) else { throw ByteReader.malformed("overflow policy \(raw)") }
        let ttl = try r.optionalInt()
        let dlq = try r.optionalString(max: BrokerLimits.nameBytesMax)
        let maxDeliveries: UInt16? = try r.bool() ? try r.u16() : nil
        return QueueArguments(
            maxLength: maxLength, maxBytes: maxBytes, overflow: overflow, messageTTLMs: ttl, deadLetterQueue: dlq,
            maxDeliveries: maxDeliveries, singleActiveConsumer: try r.bool())
    }
}

extension TopicArguments {
    func write(to w: inout ByteWriter) {
        w.varint(UInt64(partitions))
        w.optionalInt(retentionMs)
        w.optionalVarint(retentionBytes)
        w.bool(compact)
        w.int(tombstoneRetentionMs)
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> TopicArguments {
        TopicArguments(
            partitions: try r.u32(), retentionMs: try r.optionalInt(), retentionBytes: try r.optionalVarint(),
            compact: try r.bool(), tombstoneRetentionMs: try r.int())
    }
}

extension PublishTarget {
    func write(to w: inout ByteWriter) {
        switch self {
        case .queue(let queue):
            w.u8(0)
            w.string(queue)
        case .exchange(let exchange, let routingKey):
            w.u8(1)
            w.string(exchange)
            w.string(routingKey)
        }
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> PublishTarget {
        switch try r.u8() {
        case 0: return .queue(try r.string(max: BrokerLimits.nameBytesMax))
        case 1:
            return .exchange(
                try r.string(max: BrokerLimits.nameBytesMax),
                routingKey: try r.string(max: BrokerLimits.routingKeyBytesMax))
        case let other: throw ByteReader.malformed("publish target kind \(other)")
        }
    }
}

extension OutgoingMessage {
    func write(to w: inout ByteWriter) {
        w.string(id)
        w.blob(body)
        w.headers(headers)
        w.u8(priority)
        w.optionalInt(ttlMs)
        switch deliveryTime {
        case .now: w.u8(0)
        case .delayMs(let ms):
            w.u8(1)
            w.int(ms)
        case .at(let time):
            w.u8(2)
            w.int(time)
        }
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> OutgoingMessage {
        let id = try r.string(max: BrokerLimits.clientIDBytesMax)
        let body = try r.blob(max: BrokerLimits.bodyBytesMax)
        let headers = try r.headers()
        let priority = try r.u8()
        let ttl = try r.optionalInt()
        let delivery: DeliveryTime
        switch try r.u8() {
        case 0: delivery = .now
        case 1: delivery = .delayMs(try r.int())
        case 2: delivery = .at(try r.int())
        case let other: throw ByteReader.malformed("delivery time kind \(other)")
        }
        return OutgoingMessage(
            id: id, body: body, headers: headers, priority: priority, ttlMs: ttl, deliveryTime: delivery)
    }
}

extension ProducerStamp {
    static func writeOptional(_ stamp: ProducerStamp?, to w: inout ByteWriter) {
        w.bool(stamp != nil)
        if let stamp {
            w.varint(stamp.producer.rawValue)
            w.varint(stamp.sequence)
        }
    }

    static func readOptional(from r: inout ByteReader) throws(BrokerError) -> ProducerStamp? {
        guard try r.bool() else { return nil }
        return ProducerStamp(producer: ProducerID(try r.varint()), sequence: try r.varint())
    }
}

extension PublishRequest {
    func write(to w: inout ByteWriter) {
        w.string(namespace)
        target.write(to: &w)
        w.count(messages.count)
        for message in messages { message.write(to: &w) }
        ProducerStamp.writeOptional(producer, to: &w)
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> PublishRequest {
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let target = try PublishTarget.read(from: &r)
        let count = try r.count(max: BrokerLimits.messagesPerCommandMax)
        var messages: [OutgoingMessage] = []
        messages.reserveCapacity(count)
        for _ in 0..<count { messages.append(try OutgoingMessage.read(from: &r)) }
        return PublishRequest(
            namespace: namespace, target: target, messages: messages, producer: try ProducerStamp.readOptional(from: &r)
        )
    }
}

extension OutgoingRecord {
    func write(to w: inout ByteWriter) {
        w.optionalBlob(key)
        w.optionalBlob(value)
        w.headers(headers)
        w.optionalVarint(partition.map { UInt64($0) })
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> OutgoingRecord {
        let key = try r.optionalBlob(max: BrokerLimits.keyBytesMax)
        let value = try r.optionalBlob(max: BrokerLimits.bodyBytesMax)
        let headers = try r.headers()
        let partition: UInt32? = try r.bool() ? try r.u32() : nil
        return OutgoingRecord(key: key, value: value, headers: headers, partition: partition)
    }
}

extension AppendRequest {
    func write(to w: inout ByteWriter) {
        w.string(namespace)
        w.string(topic)
        w.count(records.count)
        for record in records { record.write(to: &w) }
        ProducerStamp.writeOptional(producer, to: &w)
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> AppendRequest {
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let topic = try r.string(max: BrokerLimits.nameBytesMax)
        let count = try r.count(max: BrokerLimits.messagesPerCommandMax)
        var records: [OutgoingRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count { records.append(try OutgoingRecord.read(from: &r)) }
        return AppendRequest(
            namespace: namespace, topic: topic, records: records, producer: try ProducerStamp.readOptional(from: &r))
    }
}

extension GroupRef {
    func write(to w: inout ByteWriter) {
        w.string(namespace)
        w.string(topic)
        w.string(group)
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> GroupRef {
        let name = BrokerLimits.nameBytesMax
        return GroupRef(
            namespace: try r.string(max: name), topic: try r.string(max: name), group: try r.string(max: name))
    }
}

extension OffsetCommit {
    func write(to w: inout ByteWriter) {
        group.write(to: &w)
        w.string(member)
        w.varint(generation)
        w.count(offsets.count)
        for entry in offsets {
            w.varint(UInt64(entry.partition))
            w.varint(entry.offset.rawValue)
        }
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> OffsetCommit {
        let group = try GroupRef.read(from: &r)
        let member = try r.string(max: BrokerLimits.nameBytesMax)
        let generation = try r.varint()
        let count = try r.count(max: BrokerLimits.partitionsMax)
        var offsets: [PartitionOffset] = []
        for _ in 0..<count { offsets.append(PartitionOffset(partition: try r.u32(), offset: Offset(try r.varint()))) }
        return OffsetCommit(group: group, member: member, generation: generation, offsets: offsets)
    }
}

extension ResetTarget {
    func write(to w: inout ByteWriter) {
        switch self {
        case .earliest: w.u8(0)
        case .latest: w.u8(1)
        case .timestamp(let time):
            w.u8(2)
            w.int(time)
        case .offset(let offset):
            w.u8(3)
            w.varint(offset.rawValue)
        }
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> ResetTarget {
        switch try r.u8() {
        case 0: return .earliest
        case 1: return .latest
        case 2: return .timestamp(try r.int())
        case 3: return .offset(Offset(try r.varint()))
        case let other: throw ByteReader.malformed("reset target kind \(other)")
        }
    }
}

extension HalfPrepare {
    func write(to w: inout ByteWriter) {
        w.string(namespace)
        target.write(to: &w)
        message.write(to: &w)
        w.string(producerGroup)
        w.int(checkIntervalMs)
        w.varint(UInt64(maxChecks))
    }

    static func read(from r: inout ByteReader) throws(BrokerError) -> HalfPrepare {
        HalfPrepare(
            namespace: try r.string(max: BrokerLimits.nameBytesMax), target: try PublishTarget.read(from: &r),
            message: try OutgoingMessage.read(from: &r), producerGroup: try r.string(max: BrokerLimits.nameBytesMax),
            checkIntervalMs: try r.int(), maxChecks: try r.u32())
    }
}

extension Payload {
    /// The payload's checkpoint bytes (the `payload` column of `broker_payloads`).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 32)
        w.u8(1)
        w.string(id)
        w.blob(body)
        w.headers(headers)
        w.optionalBlob(key)
        return w.bytes
    }

    /// Decodes `encoded()` bytes.
    public static func decode(_ bytes: [UInt8]) throws(BrokerError) -> Payload {
        var r = ByteReader(bytes)
        guard try r.u8() == 1 else { throw ByteReader.malformed("unknown payload version") }
        let payload = Payload(
            id: try r.string(max: BrokerLimits.clientIDBytesMax), body: try r.blob(max: BrokerLimits.bodyBytesMax),
            headers: try r.headers(), key: try r.optionalBlob(max: BrokerLimits.keyBytesMax))
        try r.expectEnd()
        return payload
    }
}
