import ArgumentParser

/// The chaos harness: runs a real cluster under faults while clients work, then checks the history.
@main
struct SkiffChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff-chaos",
        abstract: "Jepsen-style chaos testing for Skiff: workload, nemesis, history checker.",
        subcommands: [RunCommand.self, CheckCommand.self, ScheduleCommand.self, ProxyCommand.self]
    )
}
