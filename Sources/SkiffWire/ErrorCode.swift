import SkiffRaft

/// The typed error codes a server sends in an `error` response. Unknown codes read as `.unknown(raw)` so a
/// newer server cannot break an older client.
public enum ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// This node is not the leader; the error carries the leader's id and client address when known.
    case notLeader
    /// The named namespace does not exist.
    case unknownNamespace
    /// The named queue does not exist.
    case unknownQueue
    /// The named exchange does not exist.
    case unknownExchange
    /// The named topic does not exist, or the partition is out of range.
    case unknownTopic
    /// The consumer group or member is unknown, or the generation is stale.
    case unknownGroup
    /// The transaction is unknown, expired, or in a state that forbids the call.
    case unknownTransaction
    /// The lease (message id + token) is not held: it expired, or the message was settled.
    case unknownLease
    /// A declaration conflicts with an existing object of the same name.
    case alreadyExists
    /// A request is well formed but semantically invalid (bad name, bad argument, wrong state).
    case badRequest
    /// A frame exceeded the receiver's maximum frame size; the connection is closed.
    case frameTooLarge
    /// A frame could not be decoded; the connection is closed.
    case malformedFrame
    /// The handshake named no protocol version this node speaks; closed. (A bad magic is `malformedFrame`.)
    case unsupportedVersion
    /// A request arrived before the handshake completed; closed.
    case handshakeRequired
    /// The server could not complete the request in time (the outcome is unknown).
    case timeout
    /// The cluster cannot serve the request now (no quorum, no leader known, shutting down).
    case unavailable
    /// The (producer, target, sequence) was already stored; the response carries the original result where
    /// the server can give it, so most servers answer duplicates with success instead of this code.
    case duplicate
    /// The producer skipped sequence numbers for the target; the broker stored nothing.
    case sequenceGap
    /// The producer id is unknown or was fenced.
    case unknownProducer
    /// A publish to an exchange matched no queue and the exchange has no alternate exchange.
    case unroutable
    /// The queue is at its length or byte limit with the reject-publish overflow policy.
    case queueFull
    /// A limit was exceeded (batch size, too many subscriptions on one connection, ...).
    case limitExceeded
    /// An unexpected server-side failure; the message says more.
    case internalError
    /// A code this build does not know.
    case unknown(UInt16)

    /// The code's value on the wire.
    public var rawValue: UInt16 {
        switch self {
        case .notLeader: return 1
        case .unknownNamespace: return 2
        case .unknownQueue: return 3
        case .unknownExchange: return 4
        case .unknownTopic: return 5
        case .unknownGroup: return 6
        case .unknownTransaction: return 7
        case .unknownLease: return 8
        case .alreadyExists: return 9
        case .badRequest: return 10
        case .frameTooLarge: return 11
        case .malformedFrame: return 12
        case .unsupportedVersion: return 13
        case .handshakeRequired: return 14
        case .timeout: return 15
        case .unavailable: return 16
        case .duplicate: return 17
        case .sequenceGap: return 18
        case .unknownProducer: return 19
        case .unroutable: return 20
        case .queueFull: return 21
        case .limitExceeded: return 22
        case .internalError: return 23
        case .unknown(let raw): return raw
        }
    }

    /// Every code this build defines, in wire order.
    public static let known: [ErrorCode] = [
        .notLeader, .unknownNamespace, .unknownQueue, .unknownExchange, .unknownTopic, .unknownGroup,
        .unknownTransaction, .unknownLease, .alreadyExists, .badRequest, .frameTooLarge, .malformedFrame,
        .unsupportedVersion, .handshakeRequired, .timeout, .unavailable, .duplicate, .sequenceGap, .unknownProducer,
        .unroutable, .queueFull, .limitExceeded, .internalError,
    ]

    /// Maps a wire value to a code; values this build does not know become `.unknown`.
    public init(rawValue: UInt16) {
        if rawValue >= 1, Int(rawValue) <= ErrorCode.known.count {
            self = ErrorCode.known[Int(rawValue) - 1]
        } else {
            self = .unknown(rawValue)
        }
    }

    /// The upper-case name used in docs and logs, e.g. `NOT_LEADER`.
    public var name: String {
        switch self {
        case .notLeader: return "NOT_LEADER"
        case .unknownNamespace: return "UNKNOWN_NAMESPACE"
        case .unknownQueue: return "UNKNOWN_QUEUE"
        case .unknownExchange: return "UNKNOWN_EXCHANGE"
        case .unknownTopic: return "UNKNOWN_TOPIC"
        case .unknownGroup: return "UNKNOWN_GROUP"
        case .unknownTransaction: return "UNKNOWN_TRANSACTION"
        case .unknownLease: return "UNKNOWN_LEASE"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .badRequest: return "BAD_REQUEST"
        case .frameTooLarge: return "FRAME_TOO_LARGE"
        case .malformedFrame: return "MALFORMED_FRAME"
        case .unsupportedVersion: return "UNSUPPORTED_VERSION"
        case .handshakeRequired: return "HANDSHAKE_REQUIRED"
        case .timeout: return "TIMEOUT"
        case .unavailable: return "UNAVAILABLE"
        case .duplicate: return "DUPLICATE"
        case .sequenceGap: return "SEQUENCE_GAP"
        case .unknownProducer: return "UNKNOWN_PRODUCER"
        case .unroutable: return "UNROUTABLE"
        case .queueFull: return "QUEUE_FULL"
        case .limitExceeded: return "LIMIT_EXCEEDED"
        case .internalError: return "INTERNAL_ERROR"
        case .unknown(let raw): return "UNKNOWN_\(raw)"
        }
    }

    public var description: String { name }

    /// Whether a client may resend the same request (with the same producer id and sequence) elsewhere or
    /// later and expect a different outcome.
    public var isRetriable: Bool {
        switch self {
        case .notLeader, .timeout, .unavailable: return true
        default: return false
        }
    }
}

/// An error reported by a Skiff node: a code, a human-readable message and, for `NOT_LEADER`, where the
/// leader is.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible, WireCodable {
    /// What kind of failure.
    public var code: ErrorCode
    /// A human-readable explanation; never parsed.
    public var message: String
    /// The leader's node id, or `.none` when unknown or not applicable.
    public var leaderID: NodeID
    /// The leader's client address (`host:port`), empty when unknown or not applicable.
    public var leaderAddress: String

    /// Creates an error.
    public init(_ code: ErrorCode, _ message: String = "", leaderID: NodeID = .none, leaderAddress: String = "") {
        self.code = code
        self.message = message
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
    }

    /// Creates the error a receiver answers a decoding failure with.
    public init(_ error: FrameError) { self.init(error.code, error.description) }

    public var description: String {
        var text = message.isEmpty ? code.name : "\(code.name): \(message)"
        if code == .notLeader { text += " (leader \(leaderID) at \(leaderAddress.isEmpty ? "?" : leaderAddress))" }
        return text
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(code.rawValue)
        writer.write(message)
        writer.write(leaderID.rawValue)
        writer.write(leaderAddress)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        code = ErrorCode(rawValue: try reader.readUInt16("error.code"))
        message = try reader.readString("error.message")
        leaderID = NodeID(try reader.readUInt64("error.leaderID"))
        leaderAddress = try reader.readString("error.leaderAddress")
    }
}
