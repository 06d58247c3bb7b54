/// A value bound into a checkpoint statement or read back from one.
public enum StoreValue: Hashable, Sendable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQL statement of a checkpoint delta, with `?` placeholders bound in order.
public struct StoreStatement: Hashable, Sendable {
    public var sql: String
    public var bindings: [StoreValue]
    public init(sql: String, bindings: [StoreValue]) {
        self.sql = sql
        self.bindings = bindings
    }
}

/// A message or record payload (the bytes the broker does not need in RAM once checkpointed).
public struct Payload: Hashable, Sendable {
    /// The client message id (queue messages); empty for records.
    public var id: String
    public var body: [UInt8]
    public var headers: [Header]
    /// The record key (topic records); nil for queue messages.
    public var key: [UInt8]?
    public init(id: String, body: [UInt8], headers: [Header], key: [UInt8]?) {
        self.id = id
        self.body = body
        self.headers = headers
        self.key = key
    }
}

/// Reads payloads that were checkpointed and released from RAM.
///
/// The shell implements it over the checkpoint database:
/// `SELECT payload FROM broker_payloads WHERE seq = ?`, decoded with `Payload.decode(_:)`.
/// It MUST return the payload of every sequence written by a checkpoint and not yet deleted by a later one.
public protocol PayloadSource: Sendable {
    func payload(for sequence: MessageSeq) -> Payload?
}
