import SkiffWire

/// An open atomic transaction: everything staged becomes visible at `commit()`, or nothing does.
public struct Transaction: Sendable {
    public let id: TransactionID
    let client: SkiffClient

    /// Stages messages for a queue or exchange.
    public func publish(
        _ messages: [OutgoingMessage], to target: PublishTarget, namespace: String? = nil
    )
        async throws
    {
        let publish = PublishRequest(namespace: namespace ?? client.namespace, target: target, messages: messages)
        try await client.sendExpectingOK(.txnPublish(TxnPublishRequest(transactionID: id, publish: publish)))
    }

    /// Stages topic records.
    public func produce(_ records: [ProduceRecord], to topic: String, namespace: String? = nil) async throws {
        let name = ObjectName(namespace: namespace ?? client.namespace, name: topic)
        let produce = ProduceRequest(topic: name, records: records)
        try await client.sendExpectingOK(.txnProduce(TxnProduceRequest(transactionID: id, produce: produce)))
    }

    /// Stages a consumer-group offset commit (consume-transform-produce).
    public func commitOffsets(
        group: String, offsets: [PartitionOffset], memberID: String = "", generation: UInt64 = 0,
        namespace: String? = nil
    ) async throws {
        let commit = CommitOffsetsRequest(
            namespace: namespace ?? client.namespace, group: group, memberID: memberID, generation: generation,
            offsets: offsets)
        try await client.sendExpectingOK(.txnCommitOffsets(TxnCommitOffsetsRequest(transactionID: id, commit: commit)))
    }

    /// Applies everything staged, atomically.
    public func commit() async throws { try await client.sendExpectingOK(.txnCommit(id)) }

    /// Discards everything staged.
    public func abort() async throws { try await client.sendExpectingOK(.txnAbort(id)) }
}

extension SkiffClient {
    /// Opens a transaction that the broker aborts by itself after `timeoutMs` without a commit.
    public func beginTransaction(timeoutMs: UInt32 = 60_000) async throws -> Transaction {
        let producerID = try await producerID()
        let request = Request.txnBegin(TxnBeginRequest(timeoutMs: timeoutMs, producerID: producerID))
        let response = try await send(request)
        guard case .transaction(let id) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return Transaction(id: id, client: self)
    }

    /// Runs `body` in a transaction: commits when it returns, aborts when it throws.
    public func withTransaction<T: Sendable>(
        timeoutMs: UInt32 = 60_000, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        let transaction = try await beginTransaction(timeoutMs: timeoutMs)
        let result: T
        do {
            result = try await body(transaction)
        } catch {
            try? await transaction.abort()
            throw error
        }
        try await transaction.commit()
        return result
    }
}
