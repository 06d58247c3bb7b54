@testable import SkiffRaft

/// A synchronous in-memory cluster for unit tests: each node's Ready is persisted to its `MemoryStorage` at
/// once, and messages are queued until `deliverAll()`. Links can be cut to model partitions.
final class TestCluster {
    var nodes: [NodeID: RawNode] = [:]
    var storages: [NodeID: MemoryStorage] = [:]
    /// Snapshot bytes per node, keyed by snapshot index (the "file" the shell streams).
    var snapshotData: [NodeID: [LogIndex: [UInt8]]] = [:]
    var staging: [NodeID: [UInt8]] = [:]
    var applied: [NodeID: [Entry]] = [:]
    var readStates: [NodeID: [ReadState]] = [:]
    var queue: [Message] = []
    /// Every message delivered or dropped, for transcript output.
    var sent: [Message] = []
    var cut: Set<[NodeID]> = []
    var chunkBytes = 4

    init(voters: [UInt64], learners: [UInt64] = [], configure: (inout RaftConfig) -> Void = { _ in }) {
        for raw in voters + learners {
            let id = NodeID(raw)
            var config = RaftConfig(id: id)
            config.voters = voters.map { NodeID($0) }
            config.learners = learners.map { NodeID($0) }
            config.randomSeed = raw
            configure(&config)
            addNode(config)
        }
    }

    func addNode(_ config: RaftConfig, storage: MemoryStorage = MemoryStorage()) {
        storages[config.id] = storage
        nodes[config.id] = RawNode(config: config, storage: storage)
        applied[config.id] = []
        snapshotData[config.id] = [:]
    }

    subscript(_ raw: UInt64) -> RawNode { nodes[NodeID(raw)]! }

    func isolate(_ raw: UInt64) {
        for other in nodes.keys where other != NodeID(raw) {
            cut.insert([NodeID(raw), other])
            cut.insert([other, NodeID(raw)])
        }
    }

    func heal() { cut = [] }

    /// Processes every node's Ready once.
    func processReadies() {
        for id in nodes.keys.sorted() { process(id) }
    }

    func process(_ id: NodeID) {
        guard let node = nodes[id], node.hasReady() else { return }
        let ready = node.ready()
        let storage = storages[id]!
        queue += ready.messagesNow.map { fillSnapshot($0) }
        for chunk in ready.snapshotChunks {
            if chunk.offset == 0 { staging[id] = [] }
            staging[id, default: []] += chunk.data
        }
        if let snapshot = ready.snapshot {
            storage.applySnapshot(snapshot)
            snapshotData[id]![snapshot.index] = staging[id] ?? []
        }
        storage.append(ready.entries)
        if let hard = ready.hardState { storage.setHardState(hard) }
        if let conf = ready.confState { storage.setConfState(conf) }
        queue += ready.messagesAfterPersist
        applied[id]! += ready.committedEntries
        readStates[id, default: []] += ready.readStates
        node.advance(ready)
    }

    private func fillSnapshot(_ message: Message) -> Message {
        guard message.kind == .snapshot, let snapshot = message.snapshot,
            let data = snapshotData[message.from]?[snapshot.index]
        else { return message }
        let start = Int(message.snapshotOffset)
        let end = min(data.count, start + chunkBytes)
        return message.withSnapshotChunk(Array(data[start..<end]), done: end == data.count)
    }

    /// Delivers queued messages (and the messages they cause) until the network is quiet.
    func deliverAll(maxRounds: Int = 200) {
        for _ in 0..<maxRounds {
            processReadies()
            guard !queue.isEmpty else { return }
            let batch = queue
            queue = []
            for message in batch {
                sent.append(message)
                guard !cut.contains([message.from, message.to]), let target = nodes[message.to] else { continue }
                target.step(message)
            }
        }
    }

    /// Ticks every node `count` times, delivering after each tick.
    func tick(_ count: Int = 1) {
        for _ in 0..<count {
            for id in nodes.keys.sorted() { nodes[id]!.tick() }
            deliverAll()
        }
    }

    /// Elects `raw` by making it campaign.
    func elect(_ raw: UInt64) {
        self[raw].campaign()
        deliverAll()
    }

    /// Takes a snapshot of `raw` at its applied index and compacts its log through it.
    func compact(_ raw: UInt64, data: [UInt8]) {
        let id = NodeID(raw)
        let node = nodes[id]!
        storages[id]!.compact(through: node.appliedIndex, confState: node.confState)
        snapshotData[id]![node.appliedIndex] = data
    }
}
