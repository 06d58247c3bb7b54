import ArgumentParser
import SkiffClient

/// `skiff namespace create|list|delete`.
struct NamespaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "namespace", abstract: "Manage namespaces.", subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a namespace.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.createNamespace(name)
            options.json ? Output.json(["created": name]) : print("namespace \(name) created")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List namespaces.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let names = try await client.listNamespaces()
            options.json ? Output.json(["namespaces": names]) : names.forEach { print($0) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a namespace and everything in it.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.deleteNamespace(name)
            options.json ? Output.json(["deleted": name]) : print("namespace \(name) deleted")
        }
    }
}
