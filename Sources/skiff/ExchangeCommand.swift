import ArgumentParser
import SkiffClient

extension ExchangeType: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "direct": self = .direct
        case "fanout": self = .fanout
        case "topic": self = .topic
        case "headers": self = .headers
        default: return nil
        }
    }

    /// The CLI spelling.
    var argumentName: String {
        switch self {
        case .direct: return "direct"
        case .fanout: return "fanout"
        case .topic: return "topic"
        case .headers: return "headers"
        }
    }

    public static var allValueStrings: [String] { ["direct", "fanout", "topic", "headers"] }
}

/// `skiff exchange create|list|delete`.
struct ExchangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange", abstract: "Manage exchanges.", subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare an exchange.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option(help: "direct (default), fanout, topic or headers.") var type: ExchangeType?
        @Option(name: .customLong("alternate-exchange"), help: "Where unroutable messages go.")
        var alternateExchange: String?

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.declaring(namespace: options.namespace) {
                try await client.declareExchange(name, type: type ?? .direct, alternateExchange: alternateExchange)
            }
            options.json ? Output.json(["created": name]) : print("exchange \(name) declared")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List exchanges.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let exchanges = try await client.listExchanges()
            if options.json {
                return Output.json([
                    "exchanges": exchanges.map { exchange -> [String: Any] in
                        var object: [String: Any] = [
                            "name": exchange.exchange.name, "type": exchange.type.argumentName,
                        ]
                        if let alternate = exchange.alternateExchange { object["alternateExchange"] = alternate }
                        return object
                    }
                ])
            }
            Output.table(
                ["NAME", "TYPE", "ALTERNATE"],
                exchanges.map { [$0.exchange.name, $0.type.argumentName, $0.alternateExchange ?? ""] })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an exchange and its bindings.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.deleteExchange(name)
            options.json ? Output.json(["deleted": name]) : print("exchange \(name) deleted")
        }
    }
}

/// The arguments shared by `bind` and `unbind`.
struct BindingArguments: ParsableArguments {
    @Argument(help: "The exchange.") var exchange: String
    @Argument(help: "The queue.") var queue: String
    @Option(help: "Binding key (topic patterns may use * and #).") var key: String = ""
    @Option(name: .customLong("match"), help: "Headers exchanges: a header key=value to match (repeatable).")
    var matches: [String] = []
    @Flag(help: "Headers exchanges: match any header instead of all.") var any = false

    func request(namespace: String) throws -> BindRequest {
        BindRequest(
            namespace: namespace, exchange: exchange, queue: queue, bindingKey: key, headers: try parseHeaders(matches),
            matchAll: !any)
    }
}

/// `skiff bind EXCHANGE QUEUE`.
struct BindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bind", abstract: "Bind a queue to an exchange.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var binding: BindingArguments

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        try await client.bind(try binding.request(namespace: options.namespace))
        options.json
            ? Output.json(["exchange": binding.exchange, "queue": binding.queue, "key": binding.key])
            : print("bound \(binding.queue) to \(binding.exchange)")
    }
}

/// `skiff unbind EXCHANGE QUEUE`.
struct UnbindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unbind", abstract: "Remove a binding.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var binding: BindingArguments

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        try await client.unbind(try binding.request(namespace: options.namespace))
        options.json
            ? Output.json(["exchange": binding.exchange, "queue": binding.queue, "key": binding.key])
            : print("unbound \(binding.queue) from \(binding.exchange)")
    }
}
