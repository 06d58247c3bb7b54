import SkiffWire

extension SkiffClient {
    /// Publishes one message to a queue and returns its id once the cluster has committed it.
    @discardableResult
    public func publish(
        _ body: [UInt8], to queue: String, namespace: String? = nil, headers: [String: String] = [:],
        priority: UInt8 = 0, ttlMs: UInt64? = nil, delayMs: UInt64? = nil
    ) async throws -> MessageID {
        let message = OutgoingMessage(body: body, headers: headers, priority: priority, ttlMs: ttlMs, delayMs: delayMs)
        return try await publish([message], to: .queue(queue), namespace: namespace)[0]
    }

    /// Publishes messages as one atomic batch to a queue or an exchange; returns one id per message.
    ///
    /// The batch carries this client's producer id and the next sequence numbers for the target, so a
    /// resend after a failover is acknowledged with the original ids instead of being stored again. When the
    /// broker no longer remembers the original result of such a resend (it keeps a short window per target),
    /// the publish still succeeds, stored once, and its ids read as `MessageID(0)`.
    public func publish(
        _ messages: [OutgoingMessage], to target: PublishTarget, namespace: String? = nil
    ) async throws -> [MessageID] {
        let namespace = namespace ?? self.namespace
        try Self.checkBatch(messages)
        let producerID = try await producerID()
        let response = try await core.call { state in
            Self.stampedPublish(messages, to: target, namespace: namespace, producerID: producerID, state: &state)
        }
        return try Self.messageIDs(in: response, count: messages.count)
    }

    /// Publishes messages as one atomic batch without waiting for the confirm: returns as soon as the batch is in
    /// the client's ledger, and `onConfirm` runs exactly once, on a client thread, with one id per message after
    /// the cluster committed the batch, or with the error. Same guarantees as `publish(_:to:namespace:)`: the
    /// batch is stamped with this client's producer id and the next sequence numbers for the target, resent after
    /// a failover, and stored once. Batches reach the leader in call order.
    ///
    /// This is the pipelined path: no task and no continuation per batch. The caller bounds how many batches it
    /// leaves unconfirmed (the ledger refuses calls beyond `Configuration.pendingCallsMax`, through `onConfirm`).
    /// `onConfirm` must not block; it may call this method again.
    ///
    /// Throws only what can be known at once: an empty batch, a bad priority, or no producer id obtainable.
    public func publish(
        _ messages: [OutgoingMessage], to target: PublishTarget, namespace: String? = nil,
        onConfirm: @escaping @Sendable (Result<[MessageID], any Error>) -> Void
    ) async throws {
        let namespace = namespace ?? self.namespace
        try Self.checkBatch(messages)
        let producerID = try await producerID()
        let count = messages.count
        core.submit(
            { state in
                Self.stampedPublish(messages, to: target, namespace: namespace, producerID: producerID, state: &state)
            },
            completion: { result in
                onConfirm(result.flatMap { response in Result { try Self.messageIDs(in: response, count: count) } })
            })
    }

    private static func checkBatch(_ messages: [OutgoingMessage]) throws(SkiffClientError) {
        guard !messages.isEmpty else { throw SkiffClientError(.invalidArgument("empty batch")) }
        for message in messages where message.priority > 9 {
            throw SkiffClientError(.invalidArgument("priority \(message.priority) is above 9"))
        }
    }

    /// The publish request with the target's next sequence numbers, taken under the ledger lock.
    private static func stampedPublish(
        _ messages: [OutgoingMessage], to target: PublishTarget, namespace: String, producerID: ProducerID,
        state: inout CoreState
    ) -> Request {
        let sequence = state.takeSequences(PublishRequest.sequenceKey(namespace, target), count: messages.count)
        let stamp = ProducerStamp(producerID: producerID, sequence: sequence)
        return .publish(PublishRequest(namespace: namespace, target: target, producer: stamp, messages: messages))
    }

    private static func messageIDs(in response: Response, count: Int) throws(SkiffClientError) -> [MessageID] {
        guard case .published(let result) = response, result.messageIDs.count == count else {
            throw SkiffClientError(.protocolViolation("unexpected \(response.opcode) answer to publish"))
        }
        return result.messageIDs
    }

    /// This client's idempotent producer id, allocated by the cluster on first use.
    public func producerID() async throws -> ProducerID {
        if let id = core.state.withLockedValue({ $0.producerID }) { return id }
        let response = try await send(.allocateProducer(producerGroup: ""))
        guard case .producer(let allocated) = response else {
            throw SkiffClientError.unexpected(response, for: .allocateProducer(producerGroup: ""))
        }
        // Two first publishes may race; the first allocation wins so that sequences stay on one id.
        return core.state.withLockedValue { state in
            if state.producerID == nil { state.producerID = allocated }
            return state.producerID!
        }
    }

    // MARK: Half messages

    /// A prepared (half) message: stored but invisible until `commit()`.
    public struct HalfMessage: Sendable {
        public let halfID: HalfMessageID
        public let messageID: MessageID
        let client: SkiffClient

        /// Makes the message visible.
        public func commit() async throws { try await resolve(.commit) }

        /// Discards the message.
        public func rollback() async throws { try await resolve(.rollback) }

        private func resolve(_ outcome: HalfOutcome) async throws {
            try await client.sendExpectingOK(.halfResolve(HalfResolveRequest(halfID: halfID, outcome: outcome)))
        }
    }

    /// Registers the checker the broker consults (through a checkback) when a half message of
    /// `producerGroup` stays unresolved past its check interval. Survives reconnects.
    public func registerHalfChecker(
        producerGroup: String, _ checker: @escaping @Sendable (Checkback) async -> HalfOutcome
    ) {
        core.registerChecker(group: producerGroup, checker: checker)
    }

    /// Stores a half message for `producerGroup`.
    ///
    /// The request carries this client's producer id and a random prepare number, so a resend after a lost
    /// reply gets the half message already prepared instead of storing a second one.
    public func prepareHalf(
        _ message: OutgoingMessage, to target: PublishTarget, producerGroup: String, namespace: String? = nil
    ) async throws -> HalfMessage {
        let stamp = ProducerStamp(
            producerID: try await producerID(), sequence: SequenceNumber(rawValue: UInt64.random(in: 1...UInt64.max)))
        let publish = PublishRequest(
            namespace: namespace ?? self.namespace, target: target, producer: stamp, messages: [message])
        let request = Request.halfPrepare(HalfPrepareRequest(producerGroup: producerGroup, publish: publish))
        let response = try await send(request)
        guard case .halfPrepared(let prepared) = response else {
            throw SkiffClientError.unexpected(response, for: request)
        }
        return HalfMessage(halfID: prepared.halfID, messageID: prepared.messageID, client: self)
    }
}
