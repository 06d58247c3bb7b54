import SkiffBroker
import SkiffRaft

/// One simulated node: the real Raft core plus a shell made of a simulated disk, an in-memory view of the
/// durable log, and the application state machine.
final class SimNode {
    let id: NodeID
    let index: Int
    var raft: RawNode?
    var storage = MemoryStorage()
    var disk = SimDisk()
    var machine = SimStateMachine()
    /// The broker and its checkpoint tables, in broker mode.
    var broker: BrokerReplica?
    let runsBroker: Bool
    let brokerBug: BrokerBug?
    /// Why the last snapshot's broker tables could not be restored (reported by the simulation).
    var brokerRestoreError: String?
    /// The leader proposes its next `.tick` no earlier than this.
    var nextTickProposal: SimTime = 0
    /// The latest durable snapshot and its bytes (what the shell streams to followers).
    var snapshot: (metadata: SnapshotMetadata, data: [UInt8])?
    /// The incoming snapshot's bytes so far.
    var staging: [UInt8] = []
    /// A Ready whose fsync has not completed.
    var pendingReady: Ready?
    /// Bumped on every crash, so that events scheduled for the dead process are ignored.
    var incarnation = 0
    var paused = false
    var inbox: [Message] = []
    /// Microseconds an fsync takes on this node's disk right now.
    var fsyncMicros: ClosedRange<UInt64> = 50...2_000
    var wasLeaderInTerm: Term?
    /// Reads answered by the core, waiting until the machine has applied through their index.
    var pendingReads: [(id: UInt64, index: LogIndex)] = []

    init(id: NodeID, index: Int, broker: Bool, bug: BrokerBug?) {
        self.id = id
        self.index = index
        self.runsBroker = broker
        self.brokerBug = bug
        self.broker = broker ? BrokerReplica(bug: bug) : nil
    }

    var isUp: Bool { raft != nil }

    /// The process dies: volatile state is gone, and the disk keeps what the fsync contract allows.
    func crash(random: inout SimRandom) {
        raft = nil
        pendingReady = nil
        inbox = []
        staging = []
        pendingReads = []
        paused = false
        incarnation += 1
        disk.crash(random: &random)
    }

    /// The process starts again from what its disk holds.
    func restart(config: RaftConfig) {
        storage = MemoryStorage()
        machine = SimStateMachine()
        broker = runsBroker ? BrokerReplica(bug: brokerBug) : nil
        snapshot = nil
        var hardState = HardState()
        var confState: ConfState?
        for record in disk.recover() {
            switch record {
            case .entries(let entries): appendRecovered(entries)
            case .hardState(let state): hardState = state
            case .confState(let state): confState = state
            case .snapshot(let metadata, let data, let installed):
                applySnapshot(metadata, data: data, installed: installed)
                confState = metadata.confState
            }
        }
        if let confState { storage.setConfState(confState) }
        hardState.commit = min(max(hardState.commit, storage.firstIndex.previous), storage.lastIndex)
        storage.setHardState(hardState)
        var config = config
        config.applied = storage.firstIndex.previous
        raft = RawNode(config: config, storage: storage)
        wasLeaderInTerm = nil
    }

    private func appendRecovered(_ entries: [Entry]) {
        let fresh = entries.filter { $0.index > storage.firstIndex.previous }
        guard let first = fresh.first, first.index <= storage.lastIndex.next else { return }
        storage.append(fresh)
    }

    /// Installs (from a leader) or records (taken locally) a snapshot in the in-memory log and the machine.
    func applySnapshot(_ metadata: SnapshotMetadata, data: [UInt8], installed: Bool) {
        let canCompact =
            !installed && metadata.index <= storage.lastIndex && (try? storage.term(metadata.index)) == metadata.term
        if canCompact {
            storage.compact(through: metadata.index, confState: metadata.confState)
        } else {
            storage.applySnapshot(metadata)
        }
        snapshot = (metadata, data)
        guard installed || machine.appliedIndex < metadata.index else { return }
        guard runsBroker else {
            machine = SimStateMachine(snapshot: data) ?? SimStateMachine()
            return
        }
        // Broker mode: [counter snapshot length: 8][counter snapshot][broker tables].
        var reader = WordReader(bytes: data)
        guard let length = try? reader.word(), let counter = try? reader.bytes(Int(clamping: length)) else {
            brokerRestoreError = "snapshot \(metadata.index) of \(data.count) bytes has no counter part"
            return
        }
        machine = SimStateMachine(snapshot: counter) ?? SimStateMachine()
        do {
            broker = try BrokerReplica(snapshot: Array(data[(8 + counter.count)...]), bug: brokerBug)
        } catch {
            brokerRestoreError = "snapshot \(metadata.index): \(error)"
        }
    }
}
