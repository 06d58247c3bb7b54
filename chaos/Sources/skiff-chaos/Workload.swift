import ChaosCheck
import Logging
import NIOConcurrencyHelpers
import SkiffClient

/// Sizes and rates of the client workload. Every worker is bounded by the deadline and by `opsMax`.
struct WorkloadConfig: Sendable {
    var seed: UInt64
    var seeds: [String]
    var queue = "chaos-q"
    var topic = "chaos-t"
    var partitions = 3
    var group = "chaos-g"
    var halfGroup = "chaos-half"
    var queueProducers = 3
    var queueConsumers = 2
    var topicProducers = 2
    var topicConsumers = 2
    var transactionClients = 1
    /// Operations per second per worker (a pause follows each operation).
    var opsPerSecond = 20
    /// Bound on all workload operations of a run.
    var opsMax = 500_000
    var leaseMs: UInt32 = 5_000
    /// Per-request bound in the clients, so an operation during a fault ends as `unknown` instead of hanging.
    var requestTimeoutMs: Int64 = 5_000
    var crashPercent = 3
    var nackPercent = 2
    var delayedPercent = 10
    var delayMsMax: UInt64 = 2_000
}

/// Shared state of the workload: the recorder, the operation budget, fresh process ids.
final class WorkloadContext: Sendable {
    let config: WorkloadConfig
    let recorder: HistoryRecorder
    private let budget: NIOLockedValueBox<Int>
    private let nextProcess = NIOLockedValueBox(1_000)

    init(config: WorkloadConfig, recorder: HistoryRecorder) {
        self.config = config
        self.recorder = recorder
        budget = NIOLockedValueBox(config.opsMax)
    }

    /// Takes one operation from the run's budget; false when it is spent.
    func take() -> Bool {
        budget.withLockedValue { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }

    /// A process id never used before, for a client that replaces a crashed one.
    func freshProcess() -> Int {
        nextProcess.withLockedValue { next in
            defer { next += 1 }
            return next
        }
    }

    /// A new client with the workload's timeouts.
    func makeClient(_ name: String) throws -> SkiffClient {
        var configuration = SkiffClient.Configuration(clientID: name)
        configuration.requestTimeoutMs = config.requestTimeoutMs
        var logger = Logger(label: "skiff.chaos.\(name)")
        logger.logLevel = .error
        return try SkiffClient(seeds: config.seeds, configuration: configuration, logger: logger)
    }

    /// Sleeps one pacing interval.
    func pace() async {
        try? await Task.sleep(for: .milliseconds(1_000 / max(1, config.opsPerSecond)))
    }

    /// Runs `body`, recording its invoke and its completion (`ok`, or the outcome the error implies).
    func perform(
        _ template: HistoryEvent, _ body: @Sendable () async throws -> HistoryEvent?
    ) async -> EventType {
        let invoke = await recorder.invoke(template)
        do {
            let update = try await body()
            await recorder.complete(invoke, .ok, update: update)
            return .ok
        } catch {
            let outcome = Self.outcome(of: error)
            await recorder.complete(invoke, outcome, error: "\(error)")
            return outcome
        }
    }

    /// `fail` only when the request certainly did not take effect; otherwise `unknown`.
    static func outcome(of error: any Error) -> EventType {
        guard let error = error as? SkiffClientError else { return .unknown }
        switch error.kind {
        case .server(let wire):
            // A proposal whose leader stepped down or timed out may still commit under the next leader.
            switch wire.code {
            case .notLeader, .timeout, .unavailable, .internalError, .unknown: return .unknown
            default: return .fail
            }
        case .unavailable, .invalidArgument: return .fail
        case .connectionLost, .timeout, .closed, .protocolViolation: return .unknown
        }
    }
}

/// Runs every worker until the deadline, then returns.
enum Workload {
    /// Creates the queue and topic (retrying while the cluster elects its first leader).
    static func prepare(_ context: WorkloadContext) async throws {
        let client = try context.makeClient("chaos-setup")
        defer { client.close() }
        let config = context.config
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                do {
                    try await client.createNamespace("default")
                } catch let error as SkiffClientError where error.code == .alreadyExists {}
                try await client.declareQueue(config.queue, arguments: QueueArguments(leaseMs: config.leaseMs))
                try? await client.createTopic(config.topic, config: TopicConfig(partitions: UInt32(config.partitions)))
                _ = try await client.listTopics()
                return
            } catch {
                if ContinuousClock.now > deadline { throw ChaosError("cannot create the workload's queue: \(error)") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Runs all workers concurrently until `deadline`.
    static func run(_ context: WorkloadContext, until deadline: ContinuousClock.Instant) async {
        let config = context.config
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<config.queueProducers {
                group.addTask { await queueProducer(context, process: 1 + index, until: deadline) }
            }
            for index in 0..<config.queueConsumers {
                group.addTask { await queueConsumer(context, process: 100 + index, until: deadline) }
            }
            for index in 0..<config.topicProducers {
                group.addTask { await topicProducer(context, process: 200 + index, until: deadline) }
            }
            for index in 0..<config.topicConsumers {
                group.addTask { await topicConsumer(context, process: 300 + index, until: deadline) }
            }
            for index in 0..<config.transactionClients {
                group.addTask { await transactionClient(context, process: 400 + index, until: deadline) }
            }
        }
        var end = HistoryEvent(type: .ok, t: 0, op: .workloadEnd, process: 0)
        end.detail = "workers stopped"
        await context.recorder.record(end)
    }

    /// Runs `body` until it returns or `deadline` passes (then it is cancelled).
    static func withDeadline(_ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await body() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }
}

extension String {
    /// The UTF-8 bytes of a message id, used as a body.
    var bytes: [UInt8] { Array(utf8) }
}
