import ArgumentParser

/// The `skiff` command-line tool: runs a node and talks to a cluster.
@main
struct Skiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Skiff: a Raft-replicated message-queue cluster.",
        subcommands: [
            ServeCommand.self, NodeCommand.self,
            ClusterCommand.self, NamespaceCommand.self, QueueCommand.self, PublishCommand.self, ConsumeCommand.self,
            ExchangeCommand.self, BindCommand.self, UnbindCommand.self, TopicCommand.self, BenchCommand.self,
        ]
    )
}
