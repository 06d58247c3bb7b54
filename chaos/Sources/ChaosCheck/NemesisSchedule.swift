import SkiffRaft

/// The nemesis schedule's generator: the same seeded SplitMix64 the Raft core uses, so a seed reproduces a
/// schedule exactly.
public typealias SeededGenerator = SeededRandom

/// One kind of fault the nemesis can inject.
public enum FaultKind: String, CaseIterable, Sendable, Codable {
    case killLeader = "kill-leader"
    case killRandom = "kill-random"
    case killMinority = "kill-minority"
    case pauseLeader = "pause-leader"
    case pauseFollower = "pause-follower"
    /// A random minority cut off from the majority, both directions.
    case partitionHalves = "partition-halves"
    case partitionLeader = "partition-leader"
    /// Two sides that cannot talk to each other, and one node that talks to both.
    case partitionBridge = "partition-bridge"
    /// The leader's outgoing traffic is dropped; it still hears the others.
    case partitionOneWay = "partition-oneway"
    case delay
    case loss
    case diskFull = "disk-full"

    /// Names accepted by `--faults`: a fault's own name or a group.
    public static let groups: [String: [FaultKind]] = [
        "kill": [.killLeader, .killRandom, .killMinority],
        "pause": [.pauseLeader, .pauseFollower],
        "partition": [.partitionHalves, .partitionLeader, .partitionBridge, .partitionOneWay],
        "net": [.delay, .loss],
        "disk": [.diskFull],
        "mixed": [
            .killLeader, .killRandom, .killMinority, .pauseLeader, .pauseFollower, .partitionHalves,
            .partitionLeader, .partitionBridge, .partitionOneWay, .delay, .loss,
        ],
    ]

    /// Expands a comma-separated `--faults` value into fault kinds, keeping first-seen order.
    public static func parse(_ text: String) throws(ScheduleError) -> [FaultKind] {
        var result: [FaultKind] = []
        for name in text.split(separator: ",").map({ String($0).lowercased() }) where !name.isEmpty {
            guard let kinds = groups[name] ?? FaultKind(rawValue: name).map({ [$0] }) else {
                throw ScheduleError(
                    "unknown fault '\(name)'; known: "
                        + (groups.keys.sorted() + allCases.map(\.rawValue)).joined(separator: ","))
            }
            for kind in kinds where !result.contains(kind) { result.append(kind) }
        }
        guard !result.isEmpty else { throw ScheduleError("no faults given") }
        return result
    }

    /// True when the fault's target depends on who leads at the moment it starts.
    public var needsLeader: Bool {
        switch self {
        case .killLeader, .pauseLeader, .pauseFollower, .partitionLeader, .partitionOneWay: true
        default: false
        }
    }
}

/// A schedule could not be built.
public struct ScheduleError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One fault window in a schedule.
public struct NemesisStep: Sendable, Codable, Equatable {
    public var id: Int
    public var fault: FaultKind
    /// When the fault starts, after the run began.
    public var startMs: Int64
    public var durationMs: Int64
    /// Nodes chosen by the seed for faults that do not depend on the leader (1-based node ids).
    public var nodes: [Int]
    /// A seeded value used to pick among followers, or to split nodes, once the leader is known.
    public var pick: UInt64
    /// Link delay for `delay`, extra retransmission delay for `loss`.
    public var delayMs: Int64
    /// Percent of packets (netns) or chunks (proxy) affected by `loss`.
    public var lossPercent: Int
}

/// Builds a seeded, bounded sequence of fault windows separated by quiet (healed) periods.
public struct NemesisSchedule: Sendable {
    /// Time before the first fault, so the workload reaches a steady state.
    public static let warmupMs: Int64 = 5_000
    /// Time after the last heal before the workload stops, in which availability is judged.
    /// Longer than the default unavailability bound, so a cluster that never recovers is caught.
    public static let finalQuietMs: Int64 = 20_000
    public static let faultMsMin: Int64 = 3_000
    public static let faultMsMax: Int64 = 10_000
    public static let quietMsMin: Int64 = 3_000
    public static let quietMsMax: Int64 = 8_000
    /// Upper bound on the number of fault windows in one run.
    public static let stepsMax = 1_000

    /// The schedule for a run. Pauses last at least twice the election timeout so a new leader is elected.
    public static func make(
        seed: UInt64, nodes: Int, faults: [FaultKind], durationMs: Int64, electionTimeoutMs: Int64
    ) -> [NemesisStep] {
        precondition(nodes >= 1 && !faults.isEmpty, "schedule needs nodes (\(nodes)) and faults (\(faults))")
        var rng = SeededGenerator(seed: seed)
        var steps: [NemesisStep] = []
        var now = warmupMs
        let lastHealMs = durationMs - finalQuietMs
        while steps.count < stepsMax {
            let fault = faults[Int(rng.next() % UInt64(faults.count))]
            var lengthMs = Int64.random(in: faultMsMin...faultMsMax, using: &rng)
            if fault == .pauseLeader || fault == .pauseFollower { lengthMs = max(lengthMs, 2 * electionTimeoutMs) }
            guard now + lengthMs <= lastHealMs else { break }
            let step = NemesisStep(
                id: steps.count + 1, fault: fault, startMs: now, durationMs: lengthMs,
                nodes: pickNodes(fault, nodes: nodes, rng: &rng), pick: rng.next(),
                delayMs: Int64.random(in: 50...400, using: &rng), lossPercent: Int.random(in: 5...30, using: &rng))
            steps.append(step)
            now += lengthMs + Int64.random(in: quietMsMin...quietMsMax, using: &rng)
        }
        return steps
    }

    static func pickNodes(_ fault: FaultKind, nodes: Int, rng: inout SeededGenerator) -> [Int] {
        var all = Array(1...nodes)
        all.shuffle(using: &rng)
        switch fault {
        case .killRandom, .diskFull: return [all[0]]
        case .killMinority, .partitionHalves: return Array(all.prefix((nodes - 1) / 2)).sorted()
        case .partitionBridge: return all
        default: return []
        }
    }
}
