import SkiffBroker
import SkiffRaft

/// The Raft core's seeded SplitMix64, so every randomized test is reproducible from its seed.
typealias SplitMix64 = SeededRandom

extension SeededRandom {
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// An in-memory stand-in for the SQLite checkpoint tables: it executes exactly the statements the broker emits
/// (`INSERT OR REPLACE INTO t(...)` keyed by the first binding, `DELETE FROM t WHERE k = ?`) and answers the
/// restore SELECTs in key order. It is also the payload source.
final class FakeStore: PayloadSource, @unchecked Sendable {
    private(set) var tables: [String: [StoreValue: [StoreValue]]] = [:]
    private(set) var statementsExecuted = 0

    func execute(_ statements: [StoreStatement]) {
        for statement in statements {
            statementsExecuted += 1
            let words = statement.sql.split(separator: " ")
            if statement.sql.hasPrefix("INSERT OR REPLACE INTO ") {
                let table = String(words[4].prefix { $0 != "(" })
                tables[table, default: [:]][statement.bindings[0]] = statement.bindings
            } else if statement.sql.hasPrefix("DELETE FROM ") {
                let table = String(words[2])
                tables[table]?[statement.bindings[0]] = nil
            } else {
                preconditionFailure("unexpected statement \(statement.sql)")
            }
        }
    }

    func rows(_ table: String) -> Int { tables[table]?.count ?? 0 }

    func has(_ table: String, seq: UInt64) -> Bool { tables[table]?[.int(Int64(bitPattern: seq))] != nil }

    func query(_ sql: String) throws -> [[StoreValue]] {
        let table = String(sql.split(separator: " ")[sql.split(separator: " ").firstIndex(of: "FROM")! + 1])
        let rows = Array((tables[table] ?? [:]).values)
        return rows.sorted { lhs, rhs in
            switch (lhs[0], rhs[0]) {
            case (.int(let a), .int(let b)): return a < b
            case (.text(let a), .text(let b)): return a < b
            default: return false
            }
        }
    }

    func payload(for sequence: MessageSeq) -> Payload? {
        guard let row = tables["broker_payloads"]?[.int(Int64(bitPattern: sequence.rawValue))],
            case .blob(let bytes) = row[1]
        else { return nil }
        return try? Payload.decode(bytes)
    }
}

/// Drives a broker with increasing log indexes and explicit times.
struct Harness {
    var machine = BrokerStateMachine()
    var index: UInt64 = 0
    var time: Int64 = 1_000
    var events: [BrokerEvent] = []

    @discardableResult
    mutating func run(_ command: Command, at time: Int64? = nil) -> CommandResult {
        index += 1
        if let time { self.time = time }
        let (result, events) = machine.apply(command, index: index, time: self.time)
        self.events.append(contentsOf: events)
        return result
    }

    @discardableResult
    mutating func ok(_ command: Command, at time: Int64? = nil) -> ResultValue {
        switch run(command, at: time) {
        case .ok(let value): return value
        case .error(let error): preconditionFailure("\(command) failed: \(error)")
        }
    }

    mutating func code(_ command: Command, at time: Int64? = nil) -> BrokerError.Code? {
        run(command, at: time).error?.code
    }

    mutating func receive(
        _ queue: String, consumer: String = "c1", max: UInt32 = 10, visibilityMs: Int64 = 30_000,
        namespace: String = "ns",
        at time: Int64? = nil
    ) -> [DeliveredMessage] {
        guard
            case .delivered(let messages) = ok(
                .receive(
                    namespace: namespace, queue: queue, consumer: consumer, maxMessages: max, visibilityMs: visibilityMs
                ),
                at: time)
        else { preconditionFailure("receive returned something else") }
        return messages
    }

    mutating func publish(
        _ queue: String, _ bodies: [String], priority: UInt8 = 0, namespace: String = "ns"
    )
        -> [MessageSeq]
    {
        let messages = bodies.map { OutgoingMessage(id: $0, body: Array($0.utf8), priority: priority) }
        guard
            case .published(let receipt) = ok(
                .publish(PublishRequest(namespace: namespace, target: .queue(queue), messages: messages)))
        else { preconditionFailure("publish returned something else") }
        return receipt.sequences
    }

    func stats(_ queue: String, namespace: String = "ns") -> QueueStats {
        try! machine.queueStats(namespace: namespace, queue: queue)
    }
}

func text(_ message: DeliveredMessage) -> String { String(decoding: message.body, as: UTF8.self) }
