import ArgumentParser
import Foundation
import Glibc
import SkiffBroker
import SkiffStore

/// `skiff bench storage`: the durable log, LZ4, recovery and snapshot figures next to a raw write+fdatasync
/// baseline measured in the same run on the same disk.
struct BenchStorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Storage benchmark: group-commit appends, LZ4, recovery and snapshots against raw fdatasync.")

    @Option(help: "A directory on the disk to measure; a temporary folder inside it is removed afterwards.")
    var dir: String = NSTemporaryDirectory()

    @Option(
        name: .customLong("only"), parsing: .upToNextOption,
        help: "Run only these phases: \(StorageBenchmark.Phase.allCases.map(\.rawValue).joined(separator: ", ")).")
    var only: [String] = []

    func validate() throws {
        for name in only where StorageBenchmark.Phase(rawValue: name) == nil {
            throw ValidationError("unknown phase '\(name)'")
        }
    }

    func run() throws {
        let phases =
            only.isEmpty ? Set(StorageBenchmark.Phase.allCases) : Set(only.compactMap(StorageBenchmark.Phase.init))
        print(try StorageBenchmark.run(dir: dir, phases: phases))
    }
}

/// `skiff bench broker`: the state machine's apply rate on one core (thread CPU time) and its RAM per
/// queued message for a large backlog.
struct BenchBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Broker benchmark: apply rate per core and bytes of RAM per queued message.")

    @Option(help: "Messages in the backlog whose RAM per message is measured.")
    var backlog: Int = 10_000_000

    @Option(help: "Commands per measured run.")
    var commands: Int = 1_000

    func run() throws {
        let report = BrokerBenchmark.run(
            clock: ThreadCPUClock(), residentBytes: residentBytes, commandsPerRun: commands,
            backlogMessages: backlog)
        print(report)
    }
}

/// Resident set size of this process, from the second field of /proc/self/statm.
private func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A clock that reads this thread's CPU time, so a shared, noisy machine measures the work and not the
/// scheduler. It cannot sleep: the benchmark only reads it.
struct ThreadCPUClock: Clock {
    struct Instant: InstantProtocol {
        var nanoseconds: Int64
        func advanced(by duration: Duration) -> Instant {
            let (seconds, attoseconds) = duration.components
            return Instant(nanoseconds: nanoseconds + seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        func duration(to other: Instant) -> Duration { .nanoseconds(other.nanoseconds - nanoseconds) }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    }

    var now: Instant {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Instant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        preconditionFailure("ThreadCPUClock measures CPU time and cannot sleep")
    }
}
