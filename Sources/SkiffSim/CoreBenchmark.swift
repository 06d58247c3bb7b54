import SkiffRaft

/// Throughput of the pure core: a fault-free 3-node cluster with instant network and disk, 1 KiB entries
/// proposed in batches. Measures what Raft itself costs, so that it is never the bottleneck.
public enum CoreBenchmark {
    public struct Figure: Sendable {
        public var entries: Int
        public var seconds: Double
        public var report: String {
            let rate = Double(entries) / seconds
            return "core benchmark: \(entries) entries of 1 KiB committed and applied on 3 nodes in "
                + "\(Int(seconds * 1_000)) ms = \(Int(rate)) entries/s"
        }
    }

    /// Commits `totalEntries` entries proposed `batchEntries` at a time. The benchmark is the only code in
    /// SkiffSim that reads a real clock.
    public static func run(totalEntries: Int = 2_000_000, batchEntries: Int = 1_000) -> Figure {
        let cluster = BenchCluster()
        let payload = [UInt8](repeating: 0x5A, count: 1_024)
        let batch = [[UInt8]](repeating: payload, count: batchEntries)
        let started = ContinuousClock.now
        var proposed = 0
        while proposed < totalEntries {
            _ = try? cluster.leader.propose(batch: batch)
            proposed += batchEntries
            cluster.settle()
        }
        let elapsed = started.duration(to: ContinuousClock.now).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        precondition(cluster.appliedOnAll >= totalEntries, "benchmark lost entries: \(cluster.appliedOnAll)")
        return Figure(entries: totalEntries, seconds: seconds)
    }
}

/// Three nodes wired back to back: every Ready is persisted and delivered at once.
private final class BenchCluster {
    var nodes: [RawNode] = []
    var storages: [MemoryStorage] = []
    var applied = [0, 0, 0]
    var inbox: [[Message]] = [[], [], []]

    init() {
        for raw in 1...3 {
            var config = RaftConfig(id: NodeID(UInt64(raw)))
            config.voters = [NodeID(1), NodeID(2), NodeID(3)]
            config.maxSizePerMsg = 4 << 20
            config.maxInflightBytes = 256 << 20
            config.compactionHintEntries = 100_000
            let storage = MemoryStorage()
            storages.append(storage)
            nodes.append(RawNode(config: config, storage: storage))
        }
        nodes[0].campaign()
        settle()
        precondition(nodes[0].role == .leader, "benchmark leader not elected: \(nodes[0].status)")
    }

    var leader: RawNode { nodes[0] }
    var appliedOnAll: Int { applied.min() ?? 0 }

    func settle() {
        var busy = true
        while busy {
            busy = false
            for index in 0..<3 {
                for message in inbox[index] { nodes[index].step(message) }
                inbox[index] = []
                guard nodes[index].hasReady() else { continue }
                busy = true
                handle(index, nodes[index].ready())
            }
        }
    }

    private func handle(_ index: Int, _ ready: Ready) {
        for message in ready.messagesNow { inbox[Int(message.to.rawValue) - 1].append(message) }
        storages[index].append(ready.entries)
        if let hardState = ready.hardState { storages[index].setHardState(hardState) }
        for message in ready.messagesAfterPersist { inbox[Int(message.to.rawValue) - 1].append(message) }
        applied[index] += ready.committedEntries.lazy.filter { $0.kind == .normal }.count
        nodes[index].advance(ready)
        if let hint = ready.compactionHint {
            storages[index].compact(through: hint, confState: nodes[index].confState)
        }
    }
}
