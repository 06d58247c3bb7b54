import ArgumentParser
import SkiffClient

extension OverflowPolicy: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "drop-head": self = .dropHead
        case "reject", "reject-publish": self = .rejectPublish
        case "dead-letter": self = .deadLetter
        default: return nil
        }
    }

    /// The CLI spelling.
    var argumentName: String {
        switch self {
        case .dropHead: return "drop-head"
        case .rejectPublish: return "reject"
        case .deadLetter: return "dead-letter"
        }
    }

    public static var allValueStrings: [String] { ["drop-head", "reject", "dead-letter"] }
}

/// `skiff queue create|list|stats|purge|delete`.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Manage queues.",
        subcommands: [Create.self, List.self, Stats.self, Purge.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare a queue with its arguments.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option(name: .customLong("dead-letter"), help: "Queue receiving dead-lettered messages.")
        var deadLetter: String?
        @Option(name: .customLong("max-deliveries"), help: "Dead-letter after this many deliveries.")
        var maxDeliveries: UInt32?
        @Option(help: "Message time-to-live, e.g. 30s.", transform: DurationArgument.parse) var ttl: DurationArgument?
        @Option(name: .customLong("max-length"), help: "Maximum ready messages.") var maxLength: UInt64?
        @Option(name: .customLong("max-bytes"), help: "Maximum ready body bytes.") var maxBytes: UInt64?
        @Option(help: "What to do when full: drop-head (default), reject or dead-letter.")
        var overflow: OverflowPolicy?
        @Option(help: "Default delivery lease, e.g. 30s.", transform: DurationArgument.parse)
        var lease: DurationArgument?
        @Flag(help: "Single active consumer.") var exclusive = false

        /// The queue arguments the flags describe.
        var arguments: QueueArguments {
            QueueArguments(
                deadLetterQueue: deadLetter, maxDeliveries: maxDeliveries,
                messageTTLMs: ttl.map { UInt64($0.milliseconds) },
                maxLength: maxLength, maxBytes: maxBytes, overflow: overflow ?? .dropHead, exclusive: exclusive,
                leaseMs: lease.map { UInt32(clamping: $0.milliseconds) })
        }

        func run() async throws {
            let arguments = self.arguments
            let client = try options.makeClient()
            defer { client.close() }
            try await client.declaring(namespace: options.namespace) {
                try await client.declareQueue(name, arguments: arguments)
            }
            options.json ? Output.json(["created": name]) : print("queue \(name) declared")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List queues with their counters.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let queues = try await client.listQueues()
            if options.json { return Output.json(["queues": queues.map(statsObject)]) }
            Output.table(
                ["NAME", "READY", "LEASED", "DELAYED", "DEAD-LETTERED", "BYTES", "CONSUMERS"],
                queues.map { q in
                    [q.name] + [q.ready, q.leased, q.delayed, q.deadLettered, q.bytes].map(String.init)
                        + [String(q.consumers)]
                })
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one queue's counters and arguments.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let stats = try await client.queueStats(name)
            if options.json { return Output.json(statsObject(stats)) }
            for (key, value) in statsObject(stats).sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every ready message.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let count = try await client.purgeQueue(name)
            options.json ? Output.json(["purged": count]) : print("purged \(count) messages from \(name)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a queue and its messages.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            try await client.deleteQueue(name)
            options.json ? Output.json(["deleted": name]) : print("queue \(name) deleted")
        }
    }
}

/// A queue's counters and arguments as a JSON-ready dictionary.
func statsObject(_ stats: QueueStats) -> [String: Any] {
    var object: [String: Any] = [
        "name": stats.name, "ready": stats.ready, "leased": stats.leased, "delayed": stats.delayed,
        "deadLettered": stats.deadLettered, "bytes": stats.bytes, "consumers": stats.consumers,
        "published": stats.published, "delivered": stats.delivered, "acked": stats.acked,
        "discarded": stats.discarded,
        "overflow": stats.arguments.overflow.argumentName, "exclusive": stats.arguments.exclusive,
    ]
    if let value = stats.arguments.deadLetterQueue { object["deadLetter"] = value }
    if let value = stats.arguments.maxDeliveries { object["maxDeliveries"] = value }
    if let value = stats.arguments.messageTTLMs { object["ttlMs"] = value }
    if let value = stats.arguments.maxLength { object["maxLength"] = value }
    if let value = stats.arguments.maxBytes { object["maxBytes"] = value }
    if let value = stats.arguments.leaseMs { object["leaseMs"] = value }
    return object
}
