import ArgumentParser
import Foundation
import SkiffClient

/// `skiff publish QUEUE [BODY]`.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Publish messages and print each confirmed message id.")

    /// Unconfirmed publishes allowed at once when `--count` is above 1.
    static let inflightMax = 1_000

    @OptionGroup var options: ClientOptions
    @Argument(help: "The queue (or, with --exchange, the exchange).") var target: String
    @Argument(help: "The body; read from standard input when omitted and --size is not given.") var body: String?
    @Flag(help: "Publish to the exchange named by the first argument.") var exchange = false
    @Option(help: "Routing key with --exchange; on a queue publish it is kept as the header 'key'.")
    var key: String?
    @Option(help: "How many messages to publish.") var count: Int = 1
    @Option(help: "Use a generated body of this many bytes.") var size: Int?
    @Option(help: "Priority 0-9.") var priority: UInt8 = 0
    @Option(help: "Delay before the message becomes visible, e.g. 5s.", transform: DurationArgument.parse)
    var delay: DurationArgument?
    @Option(help: "Message time-to-live, e.g. 1m.", transform: DurationArgument.parse) var ttl: DurationArgument?
    @Option(name: .customLong("header"), help: "A header key=value (repeatable).") var headers: [String] = []

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard priority <= 9 else { throw ValidationError("--priority must be 0-9") }
        if let size, size < 0 { throw ValidationError("--size must not be negative") }
    }

    func run() async throws {
        let message = OutgoingMessage(
            body: try resolveBody(), headers: try messageHeaders(), priority: priority,
            ttlMs: ttl.map { UInt64($0.milliseconds) }, delayMs: delay.map { UInt64($0.milliseconds) })
        let destination: PublishTarget = exchange ? .exchange(target, routingKey: key ?? "") : .queue(target)
        let client = try options.makeClient(role: .client)
        defer { client.close() }
        let json = options.json
        try await withThrowingTaskGroup(of: MessageID.self) { group in
            for started in 0..<count {
                if started >= Self.inflightMax, let id = try await group.next() { Self.report(id, json: json) }
                group.addTask { try await client.publish([message], to: destination)[0] }
            }
            for try await id in group { Self.report(id, json: json) }
        }
    }

    static func report(_ id: MessageID, json: Bool) {
        json ? Output.json(["id": id.rawValue]) : print(id.rawValue)
    }

    private func messageHeaders() throws -> [String: String] {
        var parsed = try parseHeaders(headers)
        if !exchange, let key { parsed["key"] = key }
        return parsed
    }

    private func resolveBody() throws -> [UInt8] {
        if let size { return (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) } }
        if let body { return Array(body.utf8) }
        return Array(FileHandle.standardInput.readDataToEndOfFile())
    }
}

/// Parses `key=value` pairs.
func parseHeaders(_ pairs: [String]) throws -> [String: String] {
    var headers: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "=") else { throw ValidationError("header '\(pair)' is not key=value") }
        headers[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return headers
}
