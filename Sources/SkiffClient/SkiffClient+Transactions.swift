import NIOConcurrencyHelpers
import SkiffWire

/// An open atomic transaction: everything staged becomes visible at `commit()`, or nothing does.
///
/// Every staged publish and produce carries the transaction's producer id and the next staging sequence
/// (1, 2, ...), so a resend after a lost reply (failover, timeout) is recognised by the broker and staged once.
/// Stage one operation at a time: a staging call must return before the next one starts.
public struct Transaction: Sendable {
    public let id: TransactionID
    let client: SkiffClient
    /// The producer the transaction was opened for; its id stamps the staged writes.
    let producerID: ProducerID
    /// The last staging sequence handed out (shared by the copies of this value).
    let lastSequence = NIOLockedValueBox<UInt64>(0)

    init(id: TransactionID, client: SkiffClient, producerID: ProducerID) {
        self.id = id
        self.client = client
        self.producerID = producerID
    }

    /// The stamp for the next staged write; a retry of the same request inside the client keeps it.
    private func nextStamp() -> ProducerStamp {
        let sequence = lastSequence.withLockedValue { value in
            value += 1
            return value
        }
        return ProducerStamp(producerID: producerID, sequence: SequenceNumber(rawValue: sequence))
    }

    /// Stages messages for a queue or exchange.
    public func publish(
        _ messages: [OutgoingMessage], to target: PublishTarget, namespace: String? = nil
    )
        async throws
    {
        let publish = PublishRequest(
            namespace: namespace ?? client.namespace, target: target, producer: nextStamp(), messages: messages)
        try await client.sendExpectingOK(.txnPublish(TxnPublishRequest(transactionID: id, publish: publish)))
    }

    /// Stages topic records.
    public func produce(_ records: [ProduceRecord], to topic: String, namespace: String? = nil) async throws {
        let name = ObjectName(namespace: namespace ?? client.namespace, name: topic)
        let produce = ProduceRequest(topic: name, producer: nextStamp(), records: records)
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
        return Transaction(id: id, client: self, producerID: producerID)
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
