import SkiffWire

extension SkiffClient {
    /// Creates a topic.
    public func createTopic(_ name: String, config: TopicConfig, namespace: String? = nil) async throws {
        let topic = ObjectName(namespace: namespace ?? self.namespace, name: name)
        try await sendExpectingOK(.topicCreate(TopicInfo(topic: topic, config: config)))
    }

    /// Deletes a topic.
    public func deleteTopic(_ name: String, namespace: String? = nil) async throws {
        try await sendExpectingOK(.topicDelete(ObjectName(namespace: namespace ?? self.namespace, name: name)))
    }

    /// Every topic of a namespace.
    public func listTopics(namespace: String? = nil) async throws -> [TopicInfo] {
        let request = Request.topicList(namespace ?? self.namespace)
        let response = try await send(request)
        guard case .topicList(let list) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return list
    }

    /// Appends one record; records with equal keys land in one partition, in order.
    @discardableResult
    public func produce(
        _ value: [UInt8], to topic: String, key: [UInt8]? = nil, partition: UInt32? = nil,
        headers: [String: String] = [:], namespace: String? = nil
    ) async throws -> RecordPosition {
        let record = ProduceRecord(partition: partition, key: key, value: value, headers: headers)
        return try await produce([record], to: topic, namespace: namespace)[0]
    }

    /// Appends records atomically, idempotently (producer id + per-topic sequence numbers).
    public func produce(
        _ records: [ProduceRecord], to topic: String, namespace: String? = nil
    ) async throws
        -> [RecordPosition]
    {
        guard !records.isEmpty else { throw SkiffClientError(.invalidArgument("empty batch")) }
        let name = ObjectName(namespace: namespace ?? self.namespace, name: topic)
        let producerID = try await producerID()
        let key = "t\u{0}\(name.namespace)\u{0}\(name.name)"
        let response = try await core.call { state in
            let stamp = ProducerStamp(producerID: producerID, sequence: state.takeSequences(key, count: records.count))
            return .produce(ProduceRequest(topic: name, producer: stamp, records: records))
        }
        guard case .produced(let result) = response, result.positions.count == records.count else {
            throw SkiffClientError(.protocolViolation("unexpected \(response.opcode) answer to produce"))
        }
        return result.positions
    }

    /// Reads committed records of one partition from `offset`.
    public func fetch(
        topic: String, partition: UInt32, offset: Offset, maxRecords: UInt32 = 500, maxBytes: UInt32 = 1 << 20,
        namespace: String? = nil
    ) async throws -> FetchResult {
        let name = ObjectName(namespace: namespace ?? self.namespace, name: topic)
        let request = Request.fetch(
            FetchRequest(topic: name, partition: partition, offset: offset, maxRecords: maxRecords, maxBytes: maxBytes))
        let response = try await send(request)
        guard case .fetched(let result) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return result
    }

    /// A group's committed offsets and lag on a topic.
    public func groupOffsets(group: String, topic: String, namespace: String? = nil) async throws -> GroupOffsets {
        let request = Request.groupOffsets(
            GroupOffsetsRequest(namespace: namespace ?? self.namespace, group: group, topic: topic))
        let response = try await send(request)
        guard case .groupOffsets(let offsets) = response else {
            throw SkiffClientError.unexpected(response, for: request)
        }
        return offsets
    }

    /// Rewinds (or fast-forwards) a group on a topic.
    public func resetOffsets(
        group: String, topic: String, to position: ResetPosition, partition: UInt32? = nil, namespace: String? = nil
    ) async throws {
        try await sendExpectingOK(
            .resetOffsets(
                ResetOffsetsRequest(
                    namespace: namespace ?? self.namespace, group: group, topic: topic, partition: partition,
                    position: position)))
    }

    /// Commits offsets (the next offset to read per partition) for a group.
    public func commitOffsets(
        group: String, offsets: [PartitionOffset], memberID: String = "", generation: UInt64 = 0,
        namespace: String? = nil
    ) async throws {
        try await sendExpectingOK(
            .commitOffsets(
                CommitOffsetsRequest(
                    namespace: namespace ?? self.namespace, group: group, memberID: memberID, generation: generation,
                    offsets: offsets)))
    }

    /// Consumes a topic as a member of `group`. With `autoCommit`, the offset after each record is committed
    /// once the next record is requested (at-least-once); otherwise call `TopicGroupConsumer.commit()`.
    public func groupConsumer(
        topic: String, group: String, namespace: String? = nil, autoCommit: Bool = true,
        sessionTimeoutMs: UInt32 = 10_000
    ) -> TopicGroupConsumer {
        TopicGroupConsumer(
            client: self, namespace: namespace ?? self.namespace, topic: topic, group: group, autoCommit: autoCommit,
            sessionTimeoutMs: sessionTimeoutMs)
    }
}
