import ArgumentParser
import SkiffServer

/// `skiff node ...`: offline maintenance of one node's data directory.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Offline maintenance of a node's data directory.",
        subcommands: [NodeRepairCommand.self])
}

/// `skiff node repair --data-dir DIR`: wipe a log that recovery refused to trust.
///
/// The node MUST be stopped. The Raft log, the checkpoint database and local snapshots are removed; the hard
/// state (term and vote) is kept so the node can never vote twice in one term. On its next start the node
/// refuses to vote or lead until it has caught up from the leader (through the log or a snapshot).
struct NodeRepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Wipe a corrupted log so the node re-syncs from the leader (the node must be stopped).")

    @Option(help: "The node's data directory.") var dataDir: String
    @Flag(help: "Print the report as JSON.") var json = false

    func run() async throws {
        let report = try NodeRepair.run(dataDirectory: dataDir)
        if json {
            print(report.json)
        } else {
            print(report.text)
        }
    }
}
