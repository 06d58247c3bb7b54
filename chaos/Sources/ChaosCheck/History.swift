import Foundation

/// What an event in a chaos history records.
///
/// Client operations are recorded Jepsen-style: an `invoke` when a client process starts an operation, then
/// exactly one completion with the same `opId`: `ok` (it happened), `fail` (it definitely did not happen) or
/// `unknown` (it may or may not have happened, e.g. a timeout during a failover). Observations that are not
/// requests (a pushed delivery, a topic record read, a consumer crash) are recorded as a lone `ok` without
/// `opId`. Fault injection is recorded as `nemesis` events, and the first line of a history is a `meta` event.
public enum EventType: String, Codable, Sendable, Equatable {
    case invoke, ok, fail, unknown, nemesis, meta
}

/// The operation an event belongs to.
public enum OpKind: String, Codable, Sendable, Equatable, CaseIterable {
    /// Queue publish through an idempotent producer (`queue`, `msg`, `producer`, `seq`, `priority`, `delayMs`).
    case publish
    /// A queue delivery observed by a consumer process (`queue`, `msg`, `serverId`, `deliveries`).
    case deliver
    /// Acknowledge / negatively acknowledge a delivery (`queue`, `msg`, `serverId`).
    case ack, nack
    /// A queue consumer process dropped its connection without acking what it held (simulated crash).
    case crash
    /// A consumer's connection was lost and it re-subscribed; its leases were released by the broker.
    case resubscribe
    /// The harness saw a new leader (`node`). Consumers connected to the old one lost their connection.
    case leader
    /// Topic produce (`topic`, `msg`, `producer`, `seq`; the `ok` carries `partition` and `offset`).
    case produce
    /// A topic record read by a consumer process (`topic`, `partition`, `offset`, `msg`, optional `group`).
    case consume
    /// A consumer process repositions its topic reader (`topic`, `partition`, `offset`): order restarts there.
    case seek
    /// Commit / read a consumer group's offset (`group`, `topic`, `partition`, `offset`).
    case commitOffset = "commit-offset"
    case readOffset = "read-offset"
    /// Atomic transaction publishing every message in `msgs`.
    case txn
    /// Half message: stored invisible (`tx`, `msg`), then committed or rolled back.
    case halfPublish = "half-publish"
    case halfCommit = "half-commit"
    case halfRollback = "half-rollback"
    /// The broker asked the producer's checker about an unresolved half message; `decision` is the answer.
    case halfCheck = "half-check"
    /// Final reads after healing: `ok` when the target (`queue` or `topic`) was read to its end.
    case drain
    /// Marks the end of the workload phase (before the drain); used by the availability check.
    case workloadEnd = "workload-end"
    /// Nemesis fault start / stop (`fault`, `nodes`, `detail`).
    case start, stop
    /// The header line.
    case header
}

/// Run parameters written as the first line of a history.
public struct HistoryMeta: Codable, Sendable, Equatable {
    /// Format version of the history file.
    public var version: Int
    public var seed: UInt64
    public var nodes: Int
    public var faults: [String]
    /// Queue delivery lease: a delivery not acked within it may be redelivered.
    public var leaseMs: Int64
    /// Tolerance when deciding whether a redelivery came after lease expiry (clock skew, network delay).
    public var leaseSlackMs: Int64
    /// Longest window without a successful operation that is acceptable once all faults are healed.
    public var unavailabilityBoundMs: Int64
    /// How long after a redelivery a consumer's re-subscription may be observed and still explain it.
    public var disconnectGraceMs: Int64?
    public var command: String?

    public static let disconnectGraceMsDefault: Int64 = 5_000

    public init(
        seed: UInt64, nodes: Int, faults: [String], leaseMs: Int64 = 5_000, leaseSlackMs: Int64 = 1_000,
        unavailabilityBoundMs: Int64 = 15_000, command: String? = nil
    ) {
        self.version = 1
        self.seed = seed
        self.nodes = nodes
        self.faults = faults
        self.leaseMs = leaseMs
        self.leaseSlackMs = leaseSlackMs
        self.unavailabilityBoundMs = unavailabilityBoundMs
        self.command = command
    }
}

/// One line of a history file. Fields that an operation does not use are absent from its JSON.
public struct HistoryEvent: Codable, Sendable, Equatable {
    public var type: EventType
    /// Monotonic time since the history started, in nanoseconds.
    public var t: Int64
    public var op: OpKind
    /// The client process (a sequential logical client); -1 for the nemesis.
    public var process: Int
    /// Pairs an `invoke` with its completion. Absent for observations.
    public var opId: Int64?
    /// Node the operation was sent to or answered by, when known.
    public var node: Int?
    public var queue: String?
    public var topic: String?
    public var partition: Int?
    public var offset: Int64?
    /// Client-chosen unique message id; the message body carries it, so the checker can follow it.
    public var msg: String?
    /// Members of an atomic transaction.
    public var msgs: [String]?
    /// Message id assigned by the broker.
    public var serverId: String?
    /// Delivery count reported by the broker (1 on first delivery).
    public var deliveries: Int?
    public var producer: String?
    public var seq: Int64?
    public var priority: Int?
    public var delayMs: Int64?
    public var key: String?
    public var group: String?
    public var tx: String?
    /// `commit` or `rollback` for half-message checks.
    public var decision: String?
    /// Nemesis fault name, e.g. `kill-leader`.
    public var fault: String?
    /// Nodes a fault was applied to.
    public var nodes: [Int]?
    public var detail: String?
    public var error: String?
    public var meta: HistoryMeta?

    public init(type: EventType, t: Int64, op: OpKind, process: Int, opId: Int64? = nil) {
        self.type = type
        self.t = t
        self.op = op
        self.process = process
        self.opId = opId
    }

    /// True for client operations that are requests (paired invoke/completion) rather than observations.
    public var isCompletion: Bool { type == .ok || type == .fail || type == .unknown }
}

/// A history could not be read.
public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public let line: Int
    public let reason: String
    public var description: String { "history line \(line): \(reason)" }
}

/// Reads and writes histories as JSON lines.
public enum HistoryCodec {
    /// Longest line accepted, so a corrupt file cannot make the reader allocate without bound.
    public static let lineBytesMax = 1 << 20

    /// Encodes one event as a single line (no trailing newline).
    public static func encode(_ event: HistoryEvent) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(event)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes a whole history; blank lines are skipped.
    public static func decode(_ text: String) throws(HistoryError) -> [HistoryEvent] {
        let decoder = JSONDecoder()
        var events: [HistoryEvent] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
            guard line.utf8.count <= lineBytesMax else {
                throw HistoryError(line: lineNumber, reason: "line longer than \(lineBytesMax) bytes")
            }
            do {
                events.append(try decoder.decode(HistoryEvent.self, from: Data(line.utf8)))
            } catch {
                throw HistoryError(line: lineNumber, reason: "\(error)")
            }
        }
        return events
    }
}
