import ArgumentParser
import ChaosCheck
import Foundation

/// `skiff-chaos schedule`: prints the fault windows a seed produces, without running anything.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Print the nemesis schedule for a seed as JSON lines.")

    @Option(help: "Number of nodes (3 or 5).")
    var nodes: Int = 3

    @Option(help: "Seed of the schedule.")
    var seed: UInt64 = 1

    @Option(help: "Run length in seconds.")
    var duration: Int64 = 60

    @Option(help: "Comma-separated faults or groups (kill, pause, partition, net, disk, mixed).")
    var faults: String = "mixed"

    @Option(help: "Election timeout of the nodes, in milliseconds (pauses last at least twice this).")
    var electionTimeoutMs: Int64 = 1_000

    func run() throws {
        let kinds = try FaultKind.parse(faults)
        let steps = NemesisSchedule.make(
            seed: seed, nodes: nodes, faults: kinds, durationMs: duration * 1_000, electionTimeoutMs: electionTimeoutMs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for step in steps { print(String(decoding: try encoder.encode(step), as: UTF8.self)) }
    }
}
