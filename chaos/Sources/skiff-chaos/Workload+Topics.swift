import ChaosCheck
import SkiffClient

extension Workload {
    /// Keys used by topic producers: records with equal keys go to one partition, in order.
    static let topicKeys = 8

    /// An idempotent topic producer writing unique records under a few keys.
    static func topicProducer(_ context: WorkloadContext, process: Int, until deadline: ContinuousClock.Instant) async {
        let config = context.config
        guard let client = try? context.makeClient("chaos-topic-producer-\(process)") else { return }
        defer { client.close() }
        var rng = SeededGenerator(seed: config.seed &+ UInt64(process) &* 15_485_863)
        var seq: Int64 = 0
        while ContinuousClock.now < deadline && context.take() && !Task.isCancelled {
            seq += 1
            let msg = "t\(process)-\(seq)"
            let key = "k\(rng.next() % UInt64(topicKeys))"
            var event = HistoryEvent(type: .invoke, t: 0, op: .produce, process: process)
            event.topic = config.topic
            event.msg = msg
            event.key = key
            // Producer order is only promised per partition, i.e. per key.
            event.producer = "tp\(process)/\(key)"
            event.seq = seq
            _ = await context.perform(event) { [event] in
                let position = try await client.produce(msg.bytes, to: config.topic, key: key.bytes)
                var done = event
                done.partition = Int(position.partition)
                done.offset = Int64(position.offset.rawValue)
                return done
            }
            await context.pace()
        }
    }

    /// A member of the consumer group: reads, commits every few records, sometimes crashes and rejoins as a
    /// new process after reading the committed offsets.
    static func topicConsumer(
        _ context: WorkloadContext, process first: Int, until deadline: ContinuousClock.Instant
    )
        async
    {
        var process = first
        var rng = SeededGenerator(seed: context.config.seed &+ UInt64(first) &* 32_452_843)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            guard let client = try? context.makeClient("chaos-group-\(process)") else { return }
            await readCommitted(context, client: client, process: process)
            let crashed = await groupMemberRun(context, client: client, process: process, rng: &rng, until: deadline)
            if crashed {
                var event = HistoryEvent(type: .ok, t: 0, op: .crash, process: process)
                event.topic = context.config.topic
                await context.recorder.record(event)
            }
            client.close()
            guard crashed else { return }
            process = context.freshProcess()
        }
    }

    /// Records a read of the group's committed offset for every partition.
    static func readCommitted(_ context: WorkloadContext, client: SkiffClient, process: Int) async {
        let config = context.config
        for partition in 0..<config.partitions {
            var event = HistoryEvent(type: .invoke, t: 0, op: .readOffset, process: process)
            event.group = config.group
            event.topic = config.topic
            event.partition = partition
            _ = await context.perform(event) { [event] in
                let offsets = try await client.groupOffsets(group: config.group, topic: config.topic)
                var done = event
                let lag = offsets.partitions.first { $0.partition == UInt32(partition) }
                done.offset = lag?.committed.map { Int64($0.rawValue) } ?? 0
                return done
            }
        }
    }

    /// Consumes as a group member until the deadline (false) or a simulated crash (true).
    private static func groupMemberRun(
        _ context: WorkloadContext, client: SkiffClient, process: Int, rng: inout SeededGenerator,
        until deadline: ContinuousClock.Instant
    ) async -> Bool {
        let config = context.config
        let consumer = client.groupConsumer(topic: config.topic, group: config.group, autoCommit: false)
        var generation: UInt64?
        var consumed: [Int: Int64] = [:]
        var sinceCommit = 0
        var errors = 0
        while ContinuousClock.now < deadline && !Task.isCancelled && context.take() {
            let record: TopicGroupRecord?
            do {
                record = try await consumer.next()
            } catch let error as SkiffClientError where error.code == .badRequest && generation == nil {
                // The group cannot be joined with this client/server pair at all: read partitions directly
                // instead, so topic order and gaps are still checked under faults.
                Console.err("skiff-chaos: group member \(process) cannot join (\(error)); reading partitions directly")
                await partitionReader(context, client: client, process: process, until: deadline)
                return false
            } catch {
                // The consumer rejoins by itself after failovers; keep trying until the deadline.
                if errors == 0 { Console.err("skiff-chaos: group member \(process): \(error)") }
                errors += 1
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            guard let record else { return false }
            let assignment = await consumer.currentAssignment
            if assignment?.generation != generation {
                generation = assignment?.generation
                consumed = [:]
                for partition in 0..<config.partitions { await recordSeek(context, process: process, partition) }
            }
            var event = HistoryEvent(type: .ok, t: 0, op: .consume, process: process)
            event.topic = config.topic
            event.group = config.group
            event.partition = Int(record.partition)
            event.offset = Int64(record.record.offset.rawValue)
            event.msg = String(decoding: record.record.value, as: UTF8.self)
            await context.recorder.record(event)
            consumed[Int(record.partition)] = Int64(record.record.offset.rawValue) + 1
            if Int(rng.next() % 1_000) < config.crashPercent * 3 { return true }
            sinceCommit += 1
            if sinceCommit >= 20 {
                sinceCommit = 0
                await commit(context, consumer: consumer, process: process, positions: consumed)
            }
        }
        await commit(context, consumer: consumer, process: process, positions: consumed)
        try? await consumer.leave()
        return false
    }

    /// Reads the partitions `p` with `p % topicConsumers == index` from offset 0 with plain fetches, until the
    /// deadline. Used when group membership is unavailable.
    private static func partitionReader(
        _ context: WorkloadContext, client: SkiffClient, process: Int, until deadline: ContinuousClock.Instant
    ) async {
        let config = context.config
        let index = (process - 300) % max(1, config.topicConsumers)
        let partitions = (0..<config.partitions).filter { $0 % max(1, config.topicConsumers) == index }
        var next: [Int: UInt64] = [:]
        for partition in partitions {
            var seek = HistoryEvent(type: .ok, t: 0, op: .seek, process: process)
            seek.topic = config.topic
            seek.partition = partition
            seek.offset = 0
            await context.recorder.record(seek)
        }
        while ContinuousClock.now < deadline && !Task.isCancelled {
            var idle = true
            for partition in partitions {
                let from = next[partition] ?? 0
                guard
                    let result = try? await client.fetch(
                        topic: config.topic, partition: UInt32(partition), offset: Offset(from), maxRecords: 100)
                else { continue }
                for record in result.records where context.take() {
                    idle = false
                    var event = HistoryEvent(type: .ok, t: 0, op: .consume, process: process)
                    event.topic = config.topic
                    event.partition = partition
                    event.offset = Int64(record.offset.rawValue)
                    event.msg = String(decoding: record.value, as: UTF8.self)
                    await context.recorder.record(event)
                    next[partition] = record.offset.rawValue + 1
                }
            }
            if idle { try? await Task.sleep(for: .milliseconds(50)) }
        }
    }

    private static func recordSeek(_ context: WorkloadContext, process: Int, _ partition: Int) async {
        var event = HistoryEvent(type: .ok, t: 0, op: .seek, process: process)
        event.topic = context.config.topic
        event.partition = partition
        event.detail = "group assignment changed"
        await context.recorder.record(event)
    }

    /// Commits the consumer's positions, recorded as one commit-offset operation per partition. A commit the
    /// consumer drops because it lost its membership is recorded as failed.
    private static func commit(
        _ context: WorkloadContext, consumer: TopicGroupConsumer, process: Int, positions: [Int: Int64]
    ) async {
        guard !positions.isEmpty else { return }
        let config = context.config
        let before = await consumer.currentAssignment?.generation
        var invokes: [HistoryEvent] = []
        for (partition, offset) in positions.sorted(by: { $0.key < $1.key }) {
            var event = HistoryEvent(type: .invoke, t: 0, op: .commitOffset, process: process)
            event.group = config.group
            event.topic = config.topic
            event.partition = partition
            event.offset = offset
            invokes.append(await context.recorder.invoke(event))
        }
        var outcome = EventType.ok
        var failure: String?
        do {
            try await consumer.commit()
            let after = await consumer.currentAssignment?.generation
            if after == nil || after != before { outcome = .fail }
        } catch {
            outcome = WorkloadContext.outcome(of: error)
            failure = "\(error)"
        }
        for invoke in invokes { await context.recorder.complete(invoke, outcome, error: failure) }
    }
}
