import SkiffRaft
import Testing

@testable import SkiffSim

/// A short run, so that the tests stay fast in debug builds.
private func smallOptions(seed: UInt64, nodes: Int, bug: InjectedBug? = nil) -> SimOptions {
    var options = SimOptions(seed: seed, nodeCount: nodes, injectedBug: bug)
    options.faultTicks = 250
    options.livenessTicks = 250
    return options
}

/// Proves a seed replays bit for bit (same trace hash) and that different seeds give different runs.
@Test func sameSeedSameTrace() {
    let first = Simulation(options: smallOptions(seed: 42, nodes: 5)).run()
    let second = Simulation(options: smallOptions(seed: 42, nodes: 5)).run()
    let other = Simulation(options: smallOptions(seed: 43, nodes: 5)).run()
    #expect(first.traceHash == second.traceHash)
    #expect(first.events == second.events)
    #expect(first.traceHash != other.traceHash)
}

/// Proves the correct core passes every check on a handful of faulty 3- and 5-node runs, and that those runs
/// really exercised elections, crashes and acknowledged proposals.
@Test(arguments: [3, 5])
func correctCorePasses(nodes: Int) {
    var elections = 0
    var crashes = 0
    var acknowledged = 0
    for seed: UInt64 in 1...6 {
        let result = Simulation(options: smallOptions(seed: seed, nodes: nodes)).run()
        #expect(result.failure == nil, "seed \(seed): \(result.failure.map { "\($0)" } ?? "")")
        elections += result.leaderElections
        crashes += result.crashes
        acknowledged += result.proposalsAcknowledged
    }
    #expect(elections > 6)
    #expect(crashes > 0)
    #expect(acknowledged > 100)
}

/// The first seed, within `seedsMax`, on which the simulator reports a violation, and what it reported.
private func firstFailure(_ bug: InjectedBug, seedsMax: UInt64) -> (seed: UInt64, failure: SimFailure)? {
    for seed in 1...seedsMax {
        let nodes = seed % 2 == 1 ? 3 : 5
        if let failure = Simulation(options: smallOptions(seed: seed, nodes: nodes, bug: bug)).run().failure {
            return (seed, failure)
        }
    }
    return nil
}

/// Proves the checker can fail: every injectable bug is caught within a bounded number of small seeds.
@Test(arguments: InjectedBug.allCases)
func injectedBugIsCaught(bug: InjectedBug) {
    let caught = firstFailure(bug, seedsMax: 80)
    #expect(caught != nil, "\(bug.rawValue) survived 80 seeds")
}

/// Proves the simulated disk keeps synced records across a crash and loses or tears only unsynced bytes.
@Test func diskKeepsOnlySyncedData() {
    var random = SimRandom(seed: 7)
    var tornSomewhere = false
    for round in 0..<50 {
        var disk = SimDisk()
        disk.write(.hardState(HardState(term: Term(3), vote: NodeID(2), commit: LogIndex(1))))
        disk.sync()
        let entries = (1...5).map { Entry(term: Term(3), index: LogIndex(UInt64($0)), data: [UInt8(round)]) }
        disk.write(.entries(entries))
        disk.crash(random: &random)
        let records = disk.recover()
        #expect(records.first == .hardState(HardState(term: Term(3), vote: NodeID(2), commit: LogIndex(1))))
        #expect(records.count <= 2)
        if records.count == 2 { #expect(records[1] == .entries(entries)) } else { tornSomewhere = true }
    }
    #expect(tornSomewhere)
}

/// Proves a crash after sync loses nothing.
@Test func diskSyncedWritesSurvive() {
    var random = SimRandom(seed: 9)
    var disk = SimDisk()
    disk.write(.confState(ConfState(voters: [NodeID(1), NodeID(2)])))
    disk.write(.hardState(HardState(term: Term(1))))
    disk.sync()
    disk.crash(random: &random)
    #expect(disk.recover().count == 2)
}

/// Proves the state machine snapshot round-trips and applies each proposal id once.
@Test func stateMachineDeduplicatesAndSnapshots() {
    var machine = SimStateMachine()
    let payload = SimStateMachine.payload(id: 9, padding: 3)
    #expect(machine.apply(Entry(term: Term(1), index: LogIndex(1), data: payload)) == 9)
    #expect(machine.apply(Entry(term: Term(1), index: LogIndex(2), data: payload)) == nil)
    let restored = SimStateMachine(snapshot: machine.snapshot())
    #expect(restored?.order == [9])
    #expect(restored?.appliedIndex == LogIndex(2))
    #expect(SimStateMachine(snapshot: [1, 2, 3]) == nil)
}

/// A short broker-mode run.
private func brokerOptions(seed: UInt64, nodes: Int, bug: BrokerBug? = nil) -> SimOptions {
    var options = smallOptions(seed: seed, nodes: nodes)
    options.app = .broker
    options.brokerBug = bug
    return options
}

/// Proves the real broker runs as the simulated application under faults and passes every broker check, and
/// that the runs really published, delivered, expired leases and installed snapshots (restored checkpoints).
@Test func brokerApplicationPasses() {
    var summaries: [String] = []
    var snapshots = 0
    for seed: UInt64 in 1...4 {
        let result = Simulation(options: brokerOptions(seed: seed, nodes: seed % 2 == 1 ? 3 : 5)).run()
        #expect(result.failure == nil, "seed \(seed): \(result.failure.map { "\($0)" } ?? "")")
        summaries.append(result.brokerSummary ?? "")
        snapshots += result.snapshotsInstalled
    }
    let published = summaries.compactMap { summary in
        summary.split(separator: " ").first { $0.hasPrefix("published=") }.flatMap { Int($0.dropFirst(10)) }
    }
    #expect(published.reduce(0, +) > 20, "\(summaries)")
    #expect(summaries.contains { !$0.contains("expired=0 ") }, "\(summaries)")
    #expect(snapshots > 0)
}

/// Proves a broker-mode seed replays bit for bit.
@Test func brokerSeedReplays() {
    let first = Simulation(options: brokerOptions(seed: 8, nodes: 3)).run()
    let second = Simulation(options: brokerOptions(seed: 8, nodes: 3)).run()
    #expect(first.traceHash == second.traceHash)
    #expect(first.brokerSummary == second.brokerSummary)
}

/// Proves the broker checks can fail: a broker that ignores producer sequences (so a retried publish is stored
/// twice) is caught within a bounded number of short seeds, by the idempotent-publish invariant.
@Test(arguments: BrokerBug.allCases)
func brokerBugIsCaught(bug: BrokerBug) {
    var caught: SimFailure?
    for seed: UInt64 in 1...40 where caught == nil {
        caught = Simulation(options: brokerOptions(seed: seed, nodes: seed % 2 == 1 ? 3 : 5, bug: bug)).run().failure
    }
    #expect(caught?.invariant == "idempotent-publish", "\(bug.rawValue): \(caught.map { "\($0)" } ?? "not caught")")
}
