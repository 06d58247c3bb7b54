/// Binary encodings of the broker's checkpoint rows (the `meta` blobs). Every blob starts with a version byte.
extension BrokerStateMachine {
    static let rowVersion: UInt8 = 1

    func encodeGlobal() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.rowVersion)
        for value in [
            appliedIndex, nextSeq, nextLease, UInt64(nextEntity), nextProducer, nextTransaction, nextHalf,
            nextMemberSerial,
        ] {
            w.varint(value)
        }
        w.int(now)
        w.count(finishedTransactions.count)
        for (id, committed) in finishedTransactions {
            w.varint(id)
            w.bool(committed)
        }
        return w.bytes
    }

    mutating func decodeGlobal(_ bytes: [UInt8]) throws(BrokerError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.rowVersion else { throw ByteReader.malformed("global row version") }
        appliedIndex = try r.varint()
        nextSeq = try r.varint()
        nextLease = try r.varint()
        nextEntity = try r.u32()
        nextProducer = try r.varint()
        nextTransaction = try r.varint()
        nextHalf = try r.varint()
        nextMemberSerial = try r.varint()
        now = try r.int()
        let count = try r.count(max: BrokerLimits.finishedTransactionsRemembered + 1)
        finishedTransactions = [:]
        for _ in 0..<count { finishedTransactions[try r.varint()] = try r.bool() }
        try r.expectEnd()
    }

    /// The blob of one entity, or nil if it no longer exists.
    func encodeEntity(_ key: EntityKey) -> [UInt8]? {
        var w = ByteWriter()
        w.u8(Self.rowVersion)
        switch key {
        case .namespace(let name):
            guard namespaces[name] != nil else { return nil }
        case .queue(let id):
            guard let queue = queues[id] else { return nil }
            Self.write(queue, to: &w)
        case .exchange(let id):
            guard let exchange = exchanges[id] else { return nil }
            Self.write(exchange, to: &w)
        case .topic(let id):
            guard let topic = topics[id] else { return nil }
            Self.write(topic, to: &w)
        case .group(let id):
            guard let group = groups[id] else { return nil }
            Self.write(group, to: &w)
        case .producer(let id):
            guard let producer = producers[id] else { return nil }
            Self.write(producer, to: &w)
        case .transaction(let id):
            guard let transaction = transactions[id] else { return nil }
            w.varint(transaction.producer)
            w.int(transaction.deadline)
            w.count(transaction.bytes)
            w.count(transaction.operations.count)
            for operation in transaction.operations { w.blob(operation.encoded()) }
        case .half(let id):
            guard let half = halves[id] else { return nil }
            half.prepare.write(to: &w)
            w.varint(UInt64(half.checks))
            w.int(half.nextCheckAt)
        }
        return w.bytes
    }

    private static func write(_ queue: QueueState, to w: inout ByteWriter) {
        w.varint(UInt64(queue.id))
        w.string(queue.namespace)
        w.string(queue.name)
        queue.arguments.write(to: &w)
        w.varint(queue.deadLettered)
        w.varint(queue.discarded)
        w.optionalString(queue.activeConsumer)
        w.varint(queue.published)
        w.varint(queue.delivered)
        w.varint(queue.acked)
    }

    private static func readQueue(_ r: inout ByteReader) throws(BrokerError) -> QueueState {
        let id = try r.u32()
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let name = try r.string(max: BrokerLimits.nameBytesMax)
        var queue = QueueState(id: id, namespace: namespace, name: name, arguments: try QueueArguments.read(from: &r))
        queue.deadLettered = try r.varint()
        queue.discarded = try r.varint()
        queue.activeConsumer = try r.optionalString(max: BrokerLimits.nameBytesMax)
        queue.published = try r.varint()
        queue.delivered = try r.varint()
        queue.acked = try r.varint()
        return queue
    }

    private static func write(_ exchange: ExchangeState, to w: inout ByteWriter) {
        w.varint(UInt64(exchange.id))
        w.string(exchange.namespace)
        w.string(exchange.name)
        w.u8(exchange.kind.rawValue)
        w.optionalString(exchange.alternate)
        w.count(exchange.bindings.count)
        for binding in exchange.bindings {
            w.varint(UInt64(binding.queue))
            w.string(binding.key)
            w.bool(binding.headers != nil)
            if let headers = binding.headers {
                w.bool(headers.matchAll)
                w.headers(headers.headers)
            }
        }
    }

    private static func readExchange(_ r: inout ByteReader) throws(BrokerError) -> ExchangeState {
        let id = try r.u32()
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let name = try r.string(max: BrokerLimits.nameBytesMax)
        guard let kind = ExchangeKind(rawValue: try r.u8()) else { throw ByteReader.malformed("exchange kind") }
        var exchange = ExchangeState(
            id: id, namespace: namespace, name: name, kind: kind,
            alternate: try r.optionalString(max: BrokerLimits.nameBytesMax))
        let count = try r.count(max: BrokerLimits.bindingsPerExchangeMax)
        for _ in 0..<count {
            let queue = try r.u32()
            let key = try r.string(max: BrokerLimits.routingKeyBytesMax)
            let headers: HeadersMatch? =
                try r.bool() ? HeadersMatch(matchAll: try r.bool(), headers: try r.headers()) : nil
            exchange.bindings.append(Binding(queue: queue, key: key, headers: headers))
        }
        return exchange
    }

    private static func write(_ topic: TopicState, to w: inout ByteWriter) {
        w.varint(UInt64(topic.id))
        w.string(topic.namespace)
        w.string(topic.name)
        topic.arguments.write(to: &w)
        w.varint(topic.roundRobin)
        for partition in topic.partitions {
            w.varint(partition.nextOffset)
            w.varint(partition.logStart)
        }
    }

    private static func readTopic(_ r: inout ByteReader) throws(BrokerError) -> TopicState {
        let id = try r.u32()
        let namespace = try r.string(max: BrokerLimits.nameBytesMax)
        let name = try r.string(max: BrokerLimits.nameBytesMax)
        let arguments = try TopicArguments.read(from: &r)
        guard arguments.partitions >= 1, arguments.partitions <= BrokerLimits.partitionsMax else {
            throw ByteReader.malformed("topic partitions \(arguments.partitions)")
        }
        let roundRobin = try r.varint()
        var partitions: [PartitionState] = []
        for _ in 0..<arguments.partitions {
            var partition = PartitionState()
            partition.nextOffset = try r.varint()
            partition.logStart = try r.varint()
            partitions.append(partition)
        }
        var topic = TopicState(id: id, namespace: namespace, name: name, arguments: arguments, partitions: partitions)
        topic.roundRobin = roundRobin
        return topic
    }

    private static func write(_ group: GroupState, to w: inout ByteWriter) {
        w.varint(UInt64(group.id))
        w.varint(UInt64(group.topic))
        w.string(group.name)
        w.varint(group.generation)
        w.count(group.members.count)
        for name in group.members.keys.sorted() {
            let member = group.members[name]!
            w.string(name)
            w.varint(member.serial)
            w.int(member.sessionTimeoutMs)
            w.int(member.lastSeen)
        }
        w.count(group.owners.count)
        for owner in group.owners { w.optionalString(owner) }
        for offset in group.committed { w.optionalVarint(offset) }
    }

    private static func readGroup(_ r: inout ByteReader) throws(BrokerError) -> GroupState {
        let id = try r.u32()
        let topic = try r.u32()
        let name = try r.string(max: BrokerLimits.nameBytesMax)
        let generation = try r.varint()
        var members: [String: MemberState] = [:]
        for _ in 0..<(try r.count(max: BrokerLimits.groupMembersMax)) {
            let member = try r.string(max: BrokerLimits.nameBytesMax)
            members[member] = MemberState(serial: try r.varint(), sessionTimeoutMs: try r.int(), lastSeen: try r.int())
        }
        let partitions = try r.count(max: BrokerLimits.partitionsMax)
        var group = GroupState(id: id, topic: topic, name: name, partitions: partitions)
        group.generation = generation
        group.members = members
        for index in 0..<partitions { group.owners[index] = try r.optionalString(max: BrokerLimits.nameBytesMax) }
        for index in 0..<partitions { group.committed[index] = try r.optionalVarint() }
        return group
    }

    private static func write(_ producer: ProducerState, to w: inout ByteWriter) {
        w.string(producer.group)
        w.int(producer.lastUsed)
        w.count(producer.targets.count)
        for target in producer.targets.keys.sorted() {
            let window = producer.targets[target]!
            w.string(target)
            w.varint(window.lastSequence)
            w.count(window.results.count)
            for stored in window.results {
                w.varint(stored.sequence)
                writeStoredValue(stored.result, to: &w)
            }
        }
    }

    private static func readProducer(_ r: inout ByteReader) throws(BrokerError) -> ProducerState {
        var producer = ProducerState(group: try r.string(max: BrokerLimits.nameBytesMax), lastUsed: try r.int())
        for _ in 0..<(try r.count(max: producerTargetsMax)) {
            let target = try r.string(max: 3 * BrokerLimits.nameBytesMax)
            var window = SequenceWindow(lastSequence: try r.varint(), results: [])
            for _ in 0..<(try r.count(max: BrokerLimits.producerResultWindow)) {
                window.results.append(StoredResult(sequence: try r.varint(), result: try readStoredValue(&r)))
            }
            producer.targets[target] = window
        }
        return producer
    }

    /// Remembered producer results are publish receipts or append positions.
    private static func writeStoredValue(_ result: CommandResult, to w: inout ByteWriter) {
        switch result {
        case .ok(.published(let receipt)):
            w.u8(1)
            w.count(receipt.sequences.count)
            for seq in receipt.sequences { w.varint(seq.rawValue) }
            w.count(receipt.routedQueues.count)
            for count in receipt.routedQueues { w.varint(UInt64(count)) }
        case .ok(.appended(let positions)):
            w.u8(2)
            w.count(positions.count)
            for position in positions {
                w.varint(UInt64(position.partition))
                w.varint(position.offset.rawValue)
            }
        default:
            w.u8(0)
        }
    }

    private static func readStoredValue(_ r: inout ByteReader) throws(BrokerError) -> CommandResult {
        let bound = BrokerLimits.messagesPerCommandMax * 1024
        switch try r.u8() {
        case 1:
            var sequences: [MessageSeq] = []
            for _ in 0..<(try r.count(max: bound)) { sequences.append(MessageSeq(try r.varint())) }
            var routed: [UInt32] = []
            for _ in 0..<(try r.count(max: bound)) { routed.append(try r.u32()) }
            return .ok(.published(PublishReceipt(sequences: sequences, routedQueues: routed)))
        case 2:
            var positions: [RecordPosition] = []
            for _ in 0..<(try r.count(max: bound)) {
                positions.append(RecordPosition(partition: try r.u32(), offset: Offset(try r.varint())))
            }
            return .ok(.appended(positions))
        default:
            return .ok(.none)
        }
    }

    /// Decodes one `broker_meta` row into the state.
    mutating func decodeEntity(key: String, _ bytes: [UInt8]) throws(BrokerError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.rowVersion else { throw ByteReader.malformed("row '\(key)' version") }
        guard let slash = key.firstIndex(of: "/") else { throw ByteReader.malformed("row key '\(key)'") }
        let kind = key[..<slash]
        let rest = String(key[key.index(after: slash)...])
        switch kind {
        case "n": namespaces[rest] = NamespaceState()
        case "q":
            let queue = try Self.readQueue(&r)
            queues[queue.id] = queue
        case "x":
            let exchange = try Self.readExchange(&r)
            exchanges[exchange.id] = exchange
        case "t":
            let topic = try Self.readTopic(&r)
            topics[topic.id] = topic
        case "g":
            let group = try Self.readGroup(&r)
            groups[group.id] = group
        case "p":
            guard let id = UInt64(rest) else { throw ByteReader.malformed("row key '\(key)'") }
            producers[id] = try Self.readProducer(&r)
        case "tx":
            guard let id = UInt64(rest) else { throw ByteReader.malformed("row key '\(key)'") }
            var transaction = TransactionState(producer: try r.varint(), deadline: try r.int())
            transaction.bytes = try r.count(max: BrokerLimits.transactionBytesMax)
            for _ in 0..<(try r.count(max: BrokerLimits.transactionOpsMax)) {
                transaction.operations.append(try Command.decode(try r.blob(max: BrokerLimits.transactionBytesMax)))
            }
            transactions[id] = transaction
        case "h":
            guard let id = UInt64(rest) else { throw ByteReader.malformed("row key '\(key)'") }
            var half = HalfState(prepare: try HalfPrepare.read(from: &r), nextCheckAt: 0)
            half.checks = try r.u32()
            half.nextCheckAt = try r.int()
            halves[id] = half
        default:
            throw ByteReader.malformed("unknown row key '\(key)'")
        }
        try r.expectEnd()
    }

    static func encodeMessageRow(_ message: QueuedMessage, _ place: MessagePlace) -> [UInt8] {
        var w = ByteWriter(capacity: 40)
        w.u8(rowVersion)
        w.int(message.expiresAt)
        w.varint(UInt64(message.size))
        w.varint(UInt64(message.originQueue))
        w.varint(UInt64(message.deliveries))
        w.u8(message.priority)
        w.u8(message.deadLetterHops)
        w.u8(message.deathReason)
        switch place {
        case .ready: w.u8(0)
        case .delayed(let visibleAt):
            w.u8(1)
            w.int(visibleAt)
        case .leased(let lease, let consumer, let deadline):
            w.u8(2)
            w.varint(lease)
            w.string(consumer)
            w.int(deadline)
        }
        return w.bytes
    }

    static func decodeMessageRow(seq: UInt64, _ bytes: [UInt8]) throws(BrokerError) -> (QueuedMessage, MessagePlace) {
        var r = ByteReader(bytes)
        guard try r.u8() == rowVersion else { throw ByteReader.malformed("message row version") }
        let expiresAt = try r.int()
        let size = try r.u32()
        let origin = try r.u32()
        let deliveries = try r.u16()
        let priority = try r.u8()
        guard priority <= BrokerLimits.priorityMax else { throw ByteReader.malformed("message priority \(priority)") }
        let message = QueuedMessage(
            seq: seq, expiresAt: expiresAt, size: size, originQueue: origin, deliveries: deliveries, priority: priority,
            deadLetterHops: try r.u8(), deathReason: try r.u8())
        let place: MessagePlace
        switch try r.u8() {
        case 0: place = .ready
        case 1: place = .delayed(visibleAt: try r.int())
        case 2:
            place = .leased(
                lease: try r.varint(), consumer: try r.string(max: BrokerLimits.nameBytesMax), deadline: try r.int())
        case let other: throw ByteReader.malformed("message place \(other)")
        }
        try r.expectEnd()
        return (message, place)
    }

    static func encodeRecordRow(_ meta: RecordMeta) -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.u8(rowVersion)
        w.int(meta.timestamp)
        w.varint(UInt64(meta.size))
        w.bool(meta.tombstone)
        w.optionalBlob(meta.key)
        return w.bytes
    }

    static func decodeRecordRow(seq: UInt64, offset: UInt64, _ bytes: [UInt8]) throws(BrokerError) -> RecordMeta {
        var r = ByteReader(bytes)
        guard try r.u8() == rowVersion else { throw ByteReader.malformed("record row version") }
        let meta = RecordMeta(
            offset: offset, seq: seq, timestamp: try r.int(), size: try r.u32(), tombstone: try r.bool(),
            key: try r.optionalBlob(max: BrokerLimits.keyBytesMax))
        try r.expectEnd()
        return meta
    }
}
