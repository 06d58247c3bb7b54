import ArgumentParser
import Foundation
import SkiffClient

/// `skiff cluster status|add-node|remove-node|transfer-leader`.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Inspect and change cluster membership.",
        subcommands: [Status.self, AddNode.self, RemoveNode.self, TransferLeader.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the leader and every member, each as it reports itself (role, term, commit, applied).")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let info = try await client.clusterStatus()
            if options.json { return Output.json(Self.jsonObject(info)) }
            print(
                "leader: \(info.leaderID == .none ? "none" : String(info.leaderID.rawValue))  term: \(info.term.rawValue)"
            )
            Output.table(
                ["ID", "ROLE", "TERM", "COMMIT", "APPLIED", "CLIENT", "PEER", "REACHABLE"],
                info.members.map { member in
                    [
                        String(member.id.rawValue), member.role.description + (member.voter ? "" : " (non-voter)"),
                        String(member.term.rawValue), String(member.commit.rawValue),
                        String(member.applied.rawValue), member.clientAddress, member.peerAddress,
                        member.reachable ? "yes" : "no",
                    ]
                })
        }

        static func jsonObject(_ info: ClusterInfo) -> [String: Any] {
            [
                "leader": info.leaderID == .none ? NSNull() : info.leaderID.rawValue,
                "term": info.term.rawValue,
                "respondingNode": info.respondingNode.rawValue,
                "nodes": info.members.map { member -> [String: Any] in
                    [
                        "id": member.id.rawValue, "role": member.role.description, "term": member.term.rawValue,
                        "commit": member.commit.rawValue, "applied": member.applied.rawValue,
                        "clientAddress": member.clientAddress, "peerAddress": member.peerAddress,
                        "voter": member.voter, "reachable": member.reachable,
                    ]
                },
            ]
        }
    }

    struct AddNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-node", abstract: "Add a node; it catches up as a learner, then votes.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The new node's id.") var id: UInt64
        @Option(help: "The new node's peer address host:port.") var peer: String
        @Option(help: "The new node's client address host:port.") var client: String

        func run() async throws {
            let skiff = try options.makeClient()
            defer { skiff.close() }
            try await skiff.addNode(id: NodeID(id), peerAddress: peer, clientAddress: client)
            options.json ? Output.json(["added": id]) : print("node \(id) added")
        }
    }

    struct RemoveNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-node", abstract: "Remove a node.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The node's id.") var id: UInt64

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.removeNode(id: NodeID(id))
            options.json ? Output.json(["removed": id]) : print("node \(id) removed")
        }
    }

    struct TransferLeader: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer-leader", abstract: "Move leadership to a node (or the best follower).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Target node id; omit for the most up-to-date follower.") var id: UInt64?

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.transferLeader(to: NodeID(id ?? 0))
            let info = try await client.clusterStatus()
            if options.json {
                Output.json(["leader": info.leaderID.rawValue])
            } else {
                print("leader is now node \(info.leaderID.rawValue)")
            }
        }
    }
}
