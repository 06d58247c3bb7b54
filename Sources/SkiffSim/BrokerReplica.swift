import SkiffBroker
import SkiffRaft

/// Which application the simulated nodes run.
public enum SimApp: String, Sendable, CaseIterable {
    /// The ordered list of applied proposal ids (`SimStateMachine`).
    case counter
    /// The real `SkiffBroker.BrokerStateMachine`, driven by a seeded producer/consumer workload.
    case broker
}

/// Deliberate broker-level bugs the simulator must catch (the shell distorts what the broker sees).
public enum BrokerBug: String, Sendable, CaseIterable {
    /// The broker ignores producer ids and sequence numbers, so a publish retried after a failover is stored twice.
    case brokerIgnoresProducerSequence = "broker-ignores-producer-sequence"
}

/// A simulator log entry carrying a broker command: `[proposal id: 8][leader time ms: 8][Command.encoded()]`.
/// The proposal id prefix keeps every Raft-level check (exactly once, one order, linearizable reads) working.
enum BrokerEntry {
    static func encode(id: UInt64, timeMs: Int64, command: Command) -> [UInt8] {
        var bytes: [UInt8] = []
        appendWord(&bytes, id)
        appendWord(&bytes, UInt64(bitPattern: timeMs))
        return bytes + command.encoded()
    }

    static func decode(_ data: [UInt8]) -> (id: UInt64, timeMs: Int64, command: Command)? {
        guard data.count > 16 else { return nil }
        var reader = WordReader(bytes: data)
        guard let id = try? reader.word(), let time = try? reader.word(),
            let command = try? Command.decode(Array(data[16...]))
        else { return nil }
        return (id, Int64(bitPattern: time), command)
    }
}

/// One node's broker: the state machine plus its in-memory checkpoint tables (its "SQLite").
struct BrokerReplica {
    private(set) var machine = BrokerStateMachine()
    private(set) var table = BrokerTable()
    let bug: BrokerBug?

    init(bug: BrokerBug?) { self.bug = bug }

    /// Applies a committed entry. Returns nil for entries that carry no broker command (no-ops, conf changes).
    mutating func apply(_ entry: Entry) -> (command: Command, result: CommandResult, events: [BrokerEvent])? {
        guard entry.kind == .normal, var decoded = BrokerEntry.decode(entry.data) else { return nil }
        if bug == .brokerIgnoresProducerSequence, case .publish(var request) = decoded.command {
            request.producer = nil
            decoded.command = .publish(request)
        }
        let (result, events) = machine.apply(decoded.command, index: entry.index.rawValue, time: decoded.timeMs)
        return (decoded.command, result, events)
    }

    /// Writes the checkpoint delta into the tables, then restores a second broker from them: its state hash
    /// must equal the live one. Returns a description of the mismatch, if any.
    mutating func checkpoint() -> String? {
        let delta = machine.takeCheckpointDelta()
        do {
            try table.execute(delta)
        } catch {
            return "checkpoint delta of \(delta.count) statements failed: \(error)"
        }
        machine.payloadSource = table.payloadSource
        return restoreMismatch()
    }

    /// nil when a broker restored from the tables hashes like the live one.
    func restoreMismatch() -> String? {
        do {
            let table = self.table
            let restored = try BrokerStateMachine.restore(query: { try table.query($0) })
            let live = machine.stateHash()
            let copy = restored.stateHash()
            guard live == copy else {
                return "restored hash \(copy) != live hash \(live) at index \(machine.lastAppliedIndex)"
            }
            return nil
        } catch {
            return "restore at index \(machine.lastAppliedIndex) failed: \(error)"
        }
    }

    /// The bytes carried in a Raft snapshot (the tables after `checkpoint()`).
    func snapshotBytes() -> [UInt8] { table.encoded() }

    /// Rebuilds from snapshot bytes (a crash restart or an installed snapshot). Throws on malformed bytes.
    init(snapshot bytes: [UInt8], bug: BrokerBug?) throws {
        self.bug = bug
        table = try BrokerTable(decoding: bytes)
        let table = self.table
        machine = try BrokerStateMachine.restore(query: { try table.query($0) })
        machine.payloadSource = table.payloadSource
    }
}
