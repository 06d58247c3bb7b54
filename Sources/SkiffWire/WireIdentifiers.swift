/// Strongly typed identifiers that cross the wire. They are independent of the broker's own types: the
/// server maps between them.

/// A 64-bit identifier carried on the wire as a big-endian `UInt64`.
public protocol WireIdentifier: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible
where RawValue == UInt64 {
    /// Creates the identifier from its wire value.
    init(rawValue: UInt64)
}

extension WireIdentifier {
    /// Creates the identifier from its wire value.
    public init(_ value: UInt64) { self.init(rawValue: value) }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// Correlates a response with its request on one connection. Zero is reserved for server pushes and for
/// errors that cannot be attributed to a request.
public struct RequestID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The id of frames that answer no request.
    public static let none = RequestID(0)
}

/// A cluster-assigned idempotent producer identity (see `Request.allocateProducer`).
public struct ProducerID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A producer's sequence number for one target (namespace + queue, exchange or topic).
public struct SequenceNumber: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The sequence number `n` steps after this one.
    public func advanced(by n: UInt64) -> SequenceNumber { SequenceNumber(rawValue &+ n) }
}

/// The broker-assigned identity of a queued message.
public struct MessageID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A position in one topic partition.
public struct Offset: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A consumer subscription on one connection, assigned by the server.
public struct SubscriptionID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// An open atomic transaction.
public struct TransactionID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A prepared (half) message awaiting commit or rollback.
public struct HalfMessageID: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// Identifies one lease of one message; acks and lease extensions name it so a stale consumer cannot settle
/// a message that was redelivered to someone else.
public struct LeaseToken: WireIdentifier {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}
