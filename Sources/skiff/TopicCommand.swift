import ArgumentParser
import Foundation
import SkiffClient

/// `skiff topic create|list|produce|consume|offsets|reset`.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic", abstract: "Manage and use topics (partitioned streams).",
        subcommands: [Create.self, List.self, Produce.self, Consume.self, Offsets.self, Reset.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option(help: "Number of partitions.") var partitions: UInt32 = 1
        @Option(help: "Delete records older than this, e.g. 168h.", transform: DurationArgument.parse)
        var retention: DurationArgument?
        @Option(name: .customLong("retention-bytes"), help: "Trim each partition to this many bytes.")
        var retentionBytes: UInt64?
        @Flag(help: "Keep only the latest record per key.") var compact = false

        func run() async throws {
            guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
            let config = TopicConfig(
                partitions: partitions, retentionMs: retention.map { UInt64($0.milliseconds) },
                retentionBytes: retentionBytes, compacted: compact)
            let client = try options.makeClient()
            defer { client.close() }
            try await client.declaring(namespace: options.namespace) {
                try await client.createTopic(name, config: config)
            }
            options.json ? Output.json(["created": name]) : print("topic \(name) created")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let topics = try await client.listTopics()
            if options.json {
                return Output.json([
                    "topics": topics.map {
                        ["name": $0.topic.name, "partitions": $0.config.partitions, "compacted": $0.config.compacted]
                    }
                ])
            }
            Output.table(
                ["NAME", "PARTITIONS", "COMPACTED"],
                topics.map { [$0.topic.name, String($0.config.partitions), $0.config.compacted ? "yes" : "no"] })
        }
    }

    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Append records; prints partition and offset.")
        @OptionGroup var options: ClientOptions
        @Argument var topic: String
        @Argument(help: "The value; read from standard input when omitted.") var value: String?
        @Option(help: "Record key (selects the partition by hash).") var key: String?
        @Option(help: "Explicit partition.") var partition: UInt32?
        @Option(help: "How many records.") var count: Int = 1
        @Option(name: .customLong("header"), help: "A header key=value (repeatable).") var headers: [String] = []

        func run() async throws {
            let body = value.map { Array($0.utf8) } ?? Array(FileHandle.standardInput.readDataToEndOfFile())
            let record = ProduceRecord(
                partition: partition, key: key.map { Array($0.utf8) }, value: body, headers: try parseHeaders(headers))
            let client = try options.makeClient(role: .client)
            defer { client.close() }
            for _ in 0..<max(count, 1) {
                let position = try await client.produce([record], to: topic)[0]
                options.json
                    ? Output.json(["partition": position.partition, "offset": position.offset.rawValue])
                    : print("partition=\(position.partition) offset=\(position.offset.rawValue)")
            }
        }
    }

    struct Consume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume a topic as a member of a group.")
        @OptionGroup var options: ClientOptions
        @Argument var topic: String
        @Option(help: "Consumer group.") var group: String
        @Option(help: "Stop after this many records.") var count: Int?
        @Flag(help: "Keep waiting instead of stopping when the topic is idle.") var follow = false
        @Flag(name: .customLong("no-commit"), help: "Do not commit offsets.") var noCommit = false
        @Option(help: "Without --follow, stop after this long without a record.", transform: DurationArgument.parse)
        var idle: DurationArgument = DurationArgument(milliseconds: 1_000)

        func run() async throws {
            let client = try options.makeClient(role: .client)
            defer { client.close() }
            let consumer = client.groupConsumer(topic: topic, group: group, autoCommit: !noCommit)
            let clock = ProgressClock()
            let limit = count ?? Int.max
            let json = options.json
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    var received = 0
                    for try await item in consumer {
                        clock.tick()
                        Self.print(item, json: json)
                        received += 1
                        if received >= limit { break }
                    }
                }
                if !follow { tasks.addTask { try await clock.waitIdle(milliseconds: idle.milliseconds) } }
                _ = try await tasks.next()
                tasks.cancelAll()
            }
            if !noCommit { try await consumer.commit() }
            try? await consumer.leave()
        }

        static func print(_ item: TopicGroupRecord, json: Bool) {
            let key = item.record.key.map(Output.bodyText)
            if json {
                var object: [String: Any] = [
                    "partition": item.partition, "offset": item.record.offset.rawValue,
                    "timestampMs": item.record.timestampMs, "value": Output.bodyText(item.record.value),
                    "headers": item.record.headers,
                ]
                if let key { object["key"] = key }
                Output.json(object)
            } else {
                Swift.print(
                    "partition=\(item.partition) offset=\(item.record.offset.rawValue) key=\(key ?? "-") "
                        + Output.bodyText(item.record.value))
            }
        }
    }

    struct Offsets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a group's committed offsets and lag.")
        @OptionGroup var options: ClientOptions
        @Argument var topic: String
        @Option(help: "Consumer group.") var group: String

        func run() async throws {
            let client = try options.makeClient()
            defer { client.close() }
            let offsets = try await client.groupOffsets(group: group, topic: topic)
            if options.json {
                return Output.json([
                    "group": group, "topic": topic,
                    "partitions": offsets.partitions.map { lag -> [String: Any] in
                        [
                            "partition": lag.partition,
                            "committed": lag.committed.map { $0.rawValue as Any } ?? NSNull(),
                            "logStart": lag.logStartOffset.rawValue, "highWatermark": lag.highWatermark.rawValue,
                            "lag": lag.lag,
                        ]
                    },
                ])
            }
            Output.table(
                ["PARTITION", "COMMITTED", "LOG-START", "HIGH-WATERMARK", "LAG"],
                offsets.partitions.map { lag in
                    [
                        String(lag.partition), lag.committed.map { String($0.rawValue) } ?? "-",
                        String(lag.logStartOffset.rawValue), String(lag.highWatermark.rawValue), String(lag.lag),
                    ]
                })
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewind a group: --to earliest|latest, --to-timestamp MS or --to-offset N.")
        @OptionGroup var options: ClientOptions
        @Argument var topic: String
        @Option(help: "Consumer group.") var group: String
        @Option(help: "earliest or latest.") var to: String?
        @Option(name: .customLong("to-timestamp"), help: "Milliseconds since the Unix epoch.") var timestamp: UInt64?
        @Option(name: .customLong("to-offset"), help: "An explicit offset.") var offset: UInt64?
        @Option(help: "Only this partition.") var partition: UInt32?

        func position() throws -> ResetPosition {
            switch (to, timestamp, offset) {
            case ("earliest", nil, nil): return .earliest
            case ("latest", nil, nil): return .latest
            case (nil, let ms?, nil): return .timestamp(ms)
            case (nil, nil, let value?): return .offset(Offset(value))
            default: throw ValidationError("give exactly one of --to earliest|latest, --to-timestamp, --to-offset")
            }
        }

        func run() async throws {
            let position = try position()
            let client = try options.makeClient()
            defer { client.close() }
            try await client.resetOffsets(group: group, topic: topic, to: position, partition: partition)
            options.json ? Output.json(["group": group, "topic": topic, "reset": true]) : print("group \(group) reset")
        }
    }
}
