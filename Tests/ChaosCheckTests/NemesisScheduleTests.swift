import Testing

@testable import ChaosCheck

@Suite("Nemesis schedule")
struct NemesisScheduleTests {
    /// The same seed gives the same schedule, and a different seed a different one.
    @Test func seedReproducesSchedule() {
        let faults = FaultKind.groups["mixed"] ?? []
        let a = NemesisSchedule.make(seed: 42, nodes: 5, faults: faults, durationMs: 300_000, electionTimeoutMs: 1_000)
        let b = NemesisSchedule.make(seed: 42, nodes: 5, faults: faults, durationMs: 300_000, electionTimeoutMs: 1_000)
        let c = NemesisSchedule.make(seed: 43, nodes: 5, faults: faults, durationMs: 300_000, electionTimeoutMs: 1_000)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count > 10)
    }

    /// Fault windows never overlap, start after warm-up, heal before the final quiet period, and pauses
    /// outlast two election timeouts.
    @Test func windowsAreBounded() {
        for seed in UInt64(1)...50 {
            let steps = NemesisSchedule.make(
                seed: seed, nodes: 3, faults: [.pauseFollower, .killLeader], durationMs: 60_000,
                electionTimeoutMs: 2_500)
            var previousEnd = NemesisSchedule.warmupMs
            for step in steps {
                #expect(step.startMs >= previousEnd)
                previousEnd = step.startMs + step.durationMs
                #expect(previousEnd <= 60_000 - NemesisSchedule.finalQuietMs)
                if step.fault == .pauseFollower { #expect(step.durationMs >= 5_000) }
            }
            #expect(!steps.isEmpty)
        }
    }

    /// `--faults` accepts groups and single names, and rejects unknown names.
    @Test func parseFaults() throws {
        #expect(try FaultKind.parse("kill-leader") == [.killLeader])
        #expect(try FaultKind.parse("pause,kill-leader,pause-leader") == [.pauseLeader, .pauseFollower, .killLeader])
        #expect(throws: ScheduleError.self) { try FaultKind.parse("meteor") }
        #expect(throws: ScheduleError.self) { try FaultKind.parse(",") }
    }

    /// A halves partition separates a minority from the majority in both directions, and nothing else.
    @Test func halvesCutMinority() {
        let step = step(.partitionHalves, nodes: [2, 4])
        let cuts = Set(FaultTargets.cuts(step, nodes: 5, leader: 1))
        #expect(cuts.count == 12)
        #expect(cuts.contains(Link(from: 2, to: 1)) && cuts.contains(Link(from: 1, to: 2)))
        #expect(!cuts.contains(Link(from: 2, to: 4)))
        #expect(!cuts.contains(Link(from: 1, to: 3)))
    }

    /// A bridge partition leaves the bridge node connected to everybody, and cuts the two sides apart.
    @Test func bridgeKeepsBridgeConnected() {
        let step = step(.partitionBridge, nodes: [3, 1, 5, 2, 4])
        let cuts = FaultTargets.cuts(step, nodes: 5, leader: 1)
        #expect(!cuts.contains { $0.from == 3 || $0.to == 3 })
        #expect(Set(cuts).count == 8)
        #expect(cuts.contains(Link(from: 1, to: 2)))
        #expect(!cuts.contains(Link(from: 1, to: 5)))
    }

    /// A one-way partition cuts only the leader's outgoing links; isolating the leader cuts both ways.
    @Test func leaderPartitions() {
        let oneWay = FaultTargets.cuts(step(.partitionOneWay, nodes: []), nodes: 3, leader: 2)
        #expect(Set(oneWay) == [Link(from: 2, to: 1), Link(from: 2, to: 3)])
        let isolated = FaultTargets.cuts(step(.partitionLeader, nodes: []), nodes: 3, leader: 2)
        #expect(isolated.count == 4)
        #expect(isolated.contains(Link(from: 3, to: 2)))
    }

    /// Process faults hit the leader, a follower (never the leader), or the seeded nodes.
    @Test func victims() {
        #expect(FaultTargets.victims(step(.killLeader, nodes: []), nodes: 3, leader: 3) == [3])
        for pick in UInt64(0)..<10 {
            var follower = step(.pauseFollower, nodes: [])
            follower.pick = pick
            let hit = FaultTargets.victims(follower, nodes: 5, leader: 4)
            #expect(hit.count == 1 && hit[0] != 4)
        }
        #expect(FaultTargets.victims(step(.killMinority, nodes: [1, 5]), nodes: 5, leader: 1) == [1, 5])
    }

    private func step(_ fault: FaultKind, nodes: [Int]) -> NemesisStep {
        NemesisStep(id: 1, fault: fault, startMs: 0, durationMs: 1, nodes: nodes, pick: 0, delayMs: 0, lossPercent: 0)
    }
}
