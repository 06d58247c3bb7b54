import ChaosCheck
import SkiffClient

extension Workload {
    /// Process id of the final reader.
    static let drainProcess = 900
    /// The queue is considered drained after this long without a delivery while the broker reports it empty.
    static let drainIdleMs: Int64 = 3_000
    /// Upper bound of the whole drain.
    static let drainMsMax: Int64 = 120_000

    /// Final reads after healing: consumes and acks the queue until it is empty, and reads every topic
    /// partition from its start to its end, so every acknowledged message can be found.
    static func drain(_ context: WorkloadContext) async {
        let deadline = ContinuousClock.now + .milliseconds(drainMsMax)
        await drainQueue(context, until: deadline)
        await drainTopic(context, until: deadline)
    }

    private static func drainQueue(_ context: WorkloadContext, until deadline: ContinuousClock.Instant) async {
        let config = context.config
        var event = HistoryEvent(type: .invoke, t: 0, op: .drain, process: drainProcess)
        event.queue = config.queue
        let invoke = await context.recorder.invoke(event)
        guard let client = try? context.makeClient("chaos-drain") else {
            await context.recorder.complete(invoke, .unknown, error: "no client")
            return
        }
        defer { client.close() }
        let pump = DeliveryPump(client.consume(queue: config.queue, prefetch: drainPrefetch, leaseMs: config.leaseMs))
        defer { pump.stop() }
        var batch: [ReceivedDelivery] = []
        while ContinuousClock.now < deadline {
            // With acks pending, wait only briefly so they are sent as soon as the stream pauses.
            let waitMs = batch.isEmpty ? drainIdleMs : 50
            let next = await pump.next(until: min(deadline, ContinuousClock.now + .milliseconds(waitMs)))
            if case .delivery(let delivery) = next {
                await recordDelivery(context, delivery, process: drainProcess)
                batch.append(delivery)
                if batch.count >= drainAckBatch { await ackBatch(context, &batch) }
                continue
            }
            await ackBatch(context, &batch)
            if case .ended = next { break }
            if waitMs < drainIdleMs { continue }
            // Idle: done when the broker has nothing ready, leased or delayed.
            if let stats = try? await client.queueStats(config.queue), stats.ready + stats.leased + stats.delayed == 0 {
                await context.recorder.complete(invoke, .ok)
                return
            }
        }
        await ackBatch(context, &batch)
        await context.recorder.complete(invoke, .unknown, error: "queue not empty by the drain deadline")
    }

    /// Deliveries the drain holds unacked at most; acked together in one request.
    static let drainPrefetch: UInt32 = 200
    static let drainAckBatch = 100

    /// Acks `batch` with one request, recording one ack operation per message, and empties it.
    private static func ackBatch(_ context: WorkloadContext, _ batch: inout [ReceivedDelivery]) async {
        guard !batch.isEmpty else { return }
        var invokes: [HistoryEvent] = []
        for delivery in batch {
            var ack = HistoryEvent(type: .invoke, t: 0, op: .ack, process: drainProcess)
            ack.queue = context.config.queue
            ack.msg = String(decoding: delivery.body, as: UTF8.self)
            ack.serverId = String(delivery.id.rawValue)
            invokes.append(await context.recorder.invoke(ack))
        }
        var outcome = EventType.ok
        var failure: String?
        do {
            try await QueueConsumer.ack(batch)
        } catch {
            outcome = WorkloadContext.outcome(of: error)
            failure = "\(error)"
        }
        for invoke in invokes { await context.recorder.complete(invoke, outcome, error: failure) }
        batch.removeAll()
    }

    private static func drainTopic(_ context: WorkloadContext, until deadline: ContinuousClock.Instant) async {
        let config = context.config
        var event = HistoryEvent(type: .invoke, t: 0, op: .drain, process: drainProcess)
        event.topic = config.topic
        let invoke = await context.recorder.invoke(event)
        guard let client = try? context.makeClient("chaos-drain-topic") else {
            await context.recorder.complete(invoke, .unknown, error: "no client")
            return
        }
        defer { client.close() }
        for partition in 0..<config.partitions {
            var seek = HistoryEvent(type: .ok, t: 0, op: .seek, process: drainProcess)
            seek.topic = config.topic
            seek.partition = partition
            seek.offset = 0
            await context.recorder.record(seek)
            guard await readPartition(context, client: client, partition: partition, until: deadline) else {
                await context.recorder.complete(invoke, .unknown, error: "partition \(partition) not read to its end")
                return
            }
        }
        await context.recorder.complete(invoke, .ok)
    }

    /// Reads one partition from offset 0 to its high watermark; false if that could not be done in time.
    private static func readPartition(
        _ context: WorkloadContext, client: SkiffClient, partition: Int, until deadline: ContinuousClock.Instant
    ) async -> Bool {
        let config = context.config
        var offset: UInt64 = 0
        while ContinuousClock.now < deadline {
            guard
                let result = try? await client.fetch(
                    topic: config.topic, partition: UInt32(partition), offset: Offset(offset))
            else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            for record in result.records {
                var event = HistoryEvent(type: .ok, t: 0, op: .consume, process: drainProcess)
                event.topic = config.topic
                event.partition = partition
                event.offset = Int64(record.offset.rawValue)
                event.msg = String(decoding: record.value, as: UTF8.self)
                await context.recorder.record(event)
                offset = record.offset.rawValue + 1
            }
            if result.records.isEmpty {
                if offset >= result.highWatermark.rawValue { return true }
                // Below the high watermark but nothing returned yet (e.g. a follower catching up): retry.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return false
    }
}
