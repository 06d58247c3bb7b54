/// Apply-rate and memory benchmark of the broker state machine (`skiff bench broker`).
///
/// The core never reads a clock: the caller passes one (`ContinuousClock()` in the CLI), and optionally a
/// function returning the process's resident set size in bytes (from `/proc/self/statm`), which is needed to
/// report real bytes per queued message. Results are figures, never pass/fail.
public enum BrokerBenchmark {
    /// Messages per publish, ack and append command.
    public static let batchSize = 100
    /// Body size of the throughput runs.
    public static let bodyBytes = 1_024
    /// Body size of the backlog (memory) run: payloads live in SQLite, so only metadata should stay in RAM.
    public static let backlogBodyBytes = 16
    /// The backlog is checkpointed (payloads released) after every this many messages.
    public static let backlogCheckpointEvery = 100_000

    /// Runs every measurement and returns a human-readable report.
    public static func run<C: Clock>(
        clock: C, residentBytes: (() -> Int?)? = nil, commandsPerRun: Int = 1_000, backlogMessages: Int = 10_000_000
    ) -> String where C.Duration == Duration {
        var lines = ["broker apply benchmark (one core, \(batchSize) x \(bodyBytes) B per command)"]
        // The backlog runs first, so freed memory of the other runs cannot hide its growth.
        let backlogLine = backlog(messages: backlogMessages, residentBytes: residentBytes, clock: clock)
        var bench = Runner(commands: commandsPerRun)
        lines.append(
            bench.measure("publish batches", clock: clock, messagesPerCommand: batchSize) { $0.publishCommands() })
        lines.append(
            bench.measure("receive (lease) batches", clock: clock, messagesPerCommand: batchSize) {
                $0.receiveCommands()
            })
        lines.append(bench.measure("ack batches", clock: clock, messagesPerCommand: batchSize) { $0.ackCommands() })
        lines.append(
            bench.measure("topic append batches", clock: clock, messagesPerCommand: batchSize) { $0.appendCommands() })
        lines.append(
            bench.measure("group-commit batch of 100 single publishes", clock: clock, messagesPerCommand: 100) {
                $0.groupCommitCommands()
            })
        lines.append(bench.measureCheckpoint(clock: clock))
        lines.append(backlogLine)
        return lines.joined(separator: "\n")
    }

    /// Publishes a backlog with small bodies, checkpointing as it goes, and reports RAM per queued message.
    static func backlog<C: Clock>(messages: Int, residentBytes: (() -> Int?)?, clock: C) -> String
    where C.Duration == Duration {
        let before = residentBytes?()
        var machine = Runner.freshMachine()
        var index: UInt64 = 10
        let body = [UInt8](repeating: 7, count: backlogBodyBytes)
        let perCommand = 1_000
        let command = Command.publish(
            PublishRequest(
                namespace: "bench", target: .queue("backlog"),
                messages: Array(repeating: OutgoingMessage(body: body), count: perCommand)))
        let start = clock.now
        var published = 0
        while published < messages {
            index += 1
            let (result, _) = machine.apply(command, index: index, time: 1_000)
            precondition(result.error == nil, "backlog publish failed: \(result)")
            published += perCommand
            if published % backlogCheckpointEvery == 0 { _ = machine.takeCheckpointDelta() }
        }
        _ = machine.takeCheckpointDelta()
        let seconds = seconds(start.duration(to: clock.now))
        let ready = (try? machine.queueStats(namespace: "bench", queue: "backlog").ready) ?? 0
        let floor = MemoryLayout<QueuedMessage>.stride
        var line = "backlog of \(ready) messages (\(backlogBodyBytes) B bodies, payloads released at checkpoints) "
        line += "built in \(format(seconds)) s; metadata floor \(floor) B/message"
        if let before, let after = residentBytes?() {
            let perMessage = Double(after - before) / Double(max(ready, 1))
            line += "; measured RSS growth \(format(perMessage)) B/message (target <= 100)"
        } else {
            line += "; RSS not measured (no residentBytes function)"
        }
        withExtendedLifetime(machine) {}
        return line
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// One decimal, without libm (the core links nothing beyond the standard library).
    static func format(_ value: Double) -> String {
        let tenths = Int64(value * 10 + (value < 0 ? -0.5 : 0.5))
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }

    /// Holds the machine across throughput runs (receive and ack need the earlier publishes).
    struct Runner {
        let commands: Int
        var machine = Runner.freshMachine()
        var index: UInt64 = 10
        var time: Int64 = 1_000
        var leases: [[LeaseID]] = []

        static func freshMachine() -> BrokerStateMachine {
            var machine = BrokerStateMachine()
            let setup: [Command] = [
                .createNamespace("bench"),
                .declareQueue(namespace: "bench", queue: "q", arguments: QueueArguments()),
                .declareQueue(namespace: "bench", queue: "backlog", arguments: QueueArguments()),
                .createTopic(namespace: "bench", topic: "stream", arguments: TopicArguments(partitions: 8)),
            ]
            for (offset, command) in setup.enumerated() {
                let (result, _) = machine.apply(command, index: UInt64(offset + 1), time: 1_000)
                precondition(result.error == nil, "benchmark setup failed: \(result)")
            }
            return machine
        }

        var body: [UInt8] { [UInt8](repeating: 0x5a, count: BrokerBenchmark.bodyBytes) }

        func publishCommands() -> [Command] {
            let messages = (0..<BrokerBenchmark.batchSize).map { OutgoingMessage(id: "m\($0)", body: body) }
            let request = PublishRequest(namespace: "bench", target: .queue("q"), messages: messages)
            return Array(repeating: .publish(request), count: commands)
        }

        func receiveCommands() -> [Command] {
            let receive = Command.receive(
                namespace: "bench", queue: "q", consumer: "bench-consumer",
                maxMessages: UInt32(BrokerBenchmark.batchSize),
                visibilityMs: 600_000)
            return Array(repeating: receive, count: commands)
        }

        func ackCommands() -> [Command] {
            leases.map { .ack(namespace: "bench", queue: "q", leases: $0) }
        }

        func appendCommands() -> [Command] {
            let records = (0..<BrokerBenchmark.batchSize).map { _ in OutgoingRecord(value: body) }
            let request = AppendRequest(namespace: "bench", topic: "stream", records: records)
            return Array(repeating: .append(request), count: commands)
        }

        func groupCommitCommands() -> [Command] {
            let single = Command.publish(
                PublishRequest(namespace: "bench", target: .queue("q"), messages: [OutgoingMessage(body: body)]))
            return Array(repeating: .batch(Array(repeating: single, count: 100)), count: commands)
        }

        /// Applies the commands `make` builds (building is not timed) and reports messages per second.
        mutating func measure<C: Clock>(
            _ name: String, clock: C, messagesPerCommand: Int, _ make: (Self) -> [Command]
        ) -> String where C.Duration == Duration {
            let commands = make(self)
            var failures = 0
            let start = clock.now
            for command in commands {
                index += 1
                let (result, _) = machine.apply(command, index: index, time: time)
                switch result {
                case .ok(.delivered(let messages)): leases.append(messages.map(\.lease))
                case .error: failures += 1
                default: break
                }
            }
            let elapsed = BrokerBenchmark.seconds(start.duration(to: clock.now))
            let rate = Double(commands.count * messagesPerCommand) / max(elapsed, 1e-9)
            var line = "\(name): \(commands.count) commands in \(BrokerBenchmark.format(elapsed * 1_000)) ms = "
            line += "\(Int(rate)) messages/s"
            if failures > 0 { line += " (\(failures) failed)" }
            return line
        }

        mutating func measureCheckpoint<C: Clock>(clock: C) -> String where C.Duration == Duration {
            let start = clock.now
            let statements = machine.takeCheckpointDelta()
            let elapsed = BrokerBenchmark.seconds(start.duration(to: clock.now))
            return "checkpoint delta: \(statements.count) statements in \(BrokerBenchmark.format(elapsed * 1_000)) ms"
        }
    }
}
