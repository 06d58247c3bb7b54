/// Atomic transactions and half (prepared) messages.

/// Opens a transaction. It aborts by itself when not committed within `timeoutMs` (leader time).
public struct TxnBeginRequest: WireCodable, Hashable {
    public var timeoutMs: UInt32
    /// The idempotent producer publishing inside the transaction, if any.
    public var producerID: ProducerID?

    /// Creates the request.
    public init(timeoutMs: UInt32, producerID: ProducerID? = nil) {
        self.timeoutMs = timeoutMs
        self.producerID = producerID
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(timeoutMs)
        writer.writeOptional(producerID) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        timeoutMs = try reader.readUInt32("txn.timeoutMs")
        producerID = try reader.readOptional("txn.producer") { r throws(FrameError) in try r.readID("txn.producer") }
    }
}

/// Stages a publish inside a transaction; nothing is visible before commit.
public struct TxnPublishRequest: WireCodable, Hashable {
    public var transactionID: TransactionID
    public var publish: PublishRequest

    /// Creates the request.
    public init(transactionID: TransactionID, publish: PublishRequest) {
        self.transactionID = transactionID
        self.publish = publish
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(transactionID)
        writer.write(publish)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        transactionID = try reader.readID("txn.id")
        publish = try reader.read()
    }
}

/// Stages a topic append inside a transaction.
public struct TxnProduceRequest: WireCodable, Hashable {
    public var transactionID: TransactionID
    public var produce: ProduceRequest

    /// Creates the request.
    public init(transactionID: TransactionID, produce: ProduceRequest) {
        self.transactionID = transactionID
        self.produce = produce
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(transactionID)
        writer.write(produce)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        transactionID = try reader.readID("txn.id")
        produce = try reader.read()
    }
}

/// Stages a consumer-group offset commit inside a transaction (consume-transform-produce).
public struct TxnCommitOffsetsRequest: WireCodable, Hashable {
    public var transactionID: TransactionID
    public var commit: CommitOffsetsRequest

    /// Creates the request.
    public init(transactionID: TransactionID, commit: CommitOffsetsRequest) {
        self.transactionID = transactionID
        self.commit = commit
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(transactionID)
        writer.write(commit)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        transactionID = try reader.readID("txn.id")
        commit = try reader.read()
    }
}

/// Stores a half message: durable but invisible until committed. `producerGroup` receives checkbacks.
public struct HalfPrepareRequest: WireCodable, Hashable {
    public var producerGroup: String
    /// Exactly one message.
    public var publish: PublishRequest

    /// Creates the request.
    public init(producerGroup: String, publish: PublishRequest) {
        self.producerGroup = producerGroup
        self.publish = publish
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(producerGroup)
        writer.write(publish)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        producerGroup = try reader.readString("half.group")
        publish = try reader.read()
    }
}

/// The answer to a half prepare.
public struct HalfPrepared: WireCodable, Hashable {
    public var halfID: HalfMessageID
    /// The id the message will have once committed.
    public var messageID: MessageID

    /// Creates the answer.
    public init(halfID: HalfMessageID, messageID: MessageID) {
        self.halfID = halfID
        self.messageID = messageID
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(halfID)
        writer.write(messageID)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        halfID = try reader.readID("half.id")
        messageID = try reader.readID("half.messageID")
    }
}

/// A local-transaction outcome for a half message.
public enum HalfOutcome: UInt8, Sendable, Hashable, CaseIterable {
    /// Make the message visible.
    case commit = 1
    /// Discard the message.
    case rollback = 2
    /// Not decided yet; the broker checks again later (and rolls back after its check limit).
    case unknown = 3
}

/// Resolves a half message: the producer's own commit/rollback, or its answer to a checkback.
public struct HalfResolveRequest: WireCodable, Hashable {
    public var halfID: HalfMessageID
    public var outcome: HalfOutcome

    /// Creates the request.
    public init(halfID: HalfMessageID, outcome: HalfOutcome) {
        self.halfID = halfID
        self.outcome = outcome
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(halfID)
        writer.write(outcome.rawValue)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        halfID = try reader.readID("resolve.halfID")
        outcome = try reader.readEnum("resolve.outcome")
    }
}

/// Pushed to one live connection of the producer group: "is this half message committed?". The client
/// answers with a `halfResolve` request.
public struct Checkback: WireCodable, Hashable {
    public var halfID: HalfMessageID
    public var producerGroup: String
    public var namespace: String
    public var target: PublishTarget
    public var message: OutgoingMessage
    /// 1 for the first check.
    public var attempt: UInt32

    /// Creates the checkback.
    public init(
        halfID: HalfMessageID, producerGroup: String, namespace: String, target: PublishTarget,
        message: OutgoingMessage, attempt: UInt32
    ) {
        self.halfID = halfID
        self.producerGroup = producerGroup
        self.namespace = namespace
        self.target = target
        self.message = message
        self.attempt = attempt
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(halfID)
        writer.write(producerGroup)
        writer.write(namespace)
        writer.write(target)
        writer.write(message)
        writer.write(attempt)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        halfID = try reader.readID("checkback.halfID")
        producerGroup = try reader.readString("checkback.group")
        namespace = try reader.readString("checkback.namespace")
        target = try reader.read()
        message = try reader.read()
        attempt = try reader.readUInt32("checkback.attempt")
    }
}
