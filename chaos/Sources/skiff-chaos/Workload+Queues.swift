import ChaosCheck
import NIOConcurrencyHelpers
import SkiffClient

extension Workload {
    /// An idempotent producer publishing unique messages with mixed priorities and some delays.
    static func queueProducer(_ context: WorkloadContext, process: Int, until deadline: ContinuousClock.Instant) async {
        let config = context.config
        guard let client = try? context.makeClient("chaos-producer-\(process)") else { return }
        defer { client.close() }
        var rng = SeededGenerator(seed: config.seed &+ UInt64(process) &* 7_919)
        var seq: Int64 = 0
        while ContinuousClock.now < deadline && context.take() && !Task.isCancelled {
            seq += 1
            let msg = "q\(process)-\(seq)"
            let priority = [0, 0, 0, 5, 9][Int(rng.next() % 5)]
            let delayMs: UInt64 =
                Int(rng.next() % 100) < config.delayedPercent ? 200 + rng.next() % config.delayMsMax : 0
            var event = HistoryEvent(type: .invoke, t: 0, op: .publish, process: process)
            event.queue = config.queue
            event.msg = msg
            event.producer = "qp\(process)"
            event.seq = seq
            event.priority = priority
            event.delayMs = delayMs == 0 ? nil : Int64(delayMs)
            _ = await context.perform(event) { [event] in
                let id = try await client.publish(
                    msg.bytes, to: config.queue, priority: UInt8(priority), delayMs: delayMs == 0 ? nil : delayMs)
                var done = event
                done.serverId = String(id.rawValue)
                return done
            }
            await context.pace()
        }
    }

    /// A queue consumer that acks, sometimes nacks, and sometimes crashes (drops its connection) without
    /// acking; a crashed consumer comes back as a new process with a new client.
    static func queueConsumer(
        _ context: WorkloadContext, process first: Int, until deadline: ContinuousClock.Instant
    )
        async
    {
        var process = first
        var rng = SeededGenerator(seed: context.config.seed &+ UInt64(first) &* 104_729)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            guard let client = try? context.makeClient("chaos-consumer-\(process)") else { return }
            let crashed = await consumeUntilCrash(context, client: client, process: process, rng: &rng, until: deadline)
            if crashed {
                // Recorded before the connection drops, so a redelivery is never seen before the crash.
                var event = HistoryEvent(type: .ok, t: 0, op: .crash, process: process)
                event.queue = context.config.queue
                await context.recorder.record(event)
            }
            client.close()
            guard crashed else { return }
            process = context.freshProcess()
        }
    }

    /// Consumes until the deadline (returns false) or a simulated crash (returns true).
    private static func consumeUntilCrash(
        _ context: WorkloadContext, client: SkiffClient, process: Int, rng: inout SeededGenerator,
        until deadline: ContinuousClock.Instant
    ) async -> Bool {
        let config = context.config
        let pump = DeliveryPump(client.consume(queue: config.queue, prefetch: 10, leaseMs: config.leaseMs))
        defer { pump.stop() }
        var subscription: UInt64?
        while ContinuousClock.now < deadline && !Task.isCancelled {
            guard case .delivery(let delivery) = await pump.next(until: deadline) else { return false }
            let current = delivery.delivery.subscriptionID.rawValue
            if let previous = subscription, previous != current {
                var event = HistoryEvent(type: .ok, t: 0, op: .resubscribe, process: process)
                event.detail = "subscription \(previous) -> \(current)"
                await context.recorder.record(event)
            }
            subscription = current
            await recordDelivery(context, delivery, process: process)
            let roll = Int(rng.next() % 100)
            if roll < config.crashPercent { return true }
            if !context.take() { return false }
            let kind: OpKind = roll < config.crashPercent + config.nackPercent ? .nack : .ack
            var event = HistoryEvent(type: .invoke, t: 0, op: kind, process: process)
            event.queue = config.queue
            event.msg = String(decoding: delivery.body, as: UTF8.self)
            event.serverId = String(delivery.id.rawValue)
            _ = await context.perform(event) {
                if kind == .ack { try await delivery.ack() } else { try await delivery.nack() }
                return nil
            }
        }
        return false
    }

    static func recordDelivery(_ context: WorkloadContext, _ delivery: ReceivedDelivery, process: Int) async {
        var event = HistoryEvent(type: .ok, t: 0, op: .deliver, process: process)
        event.queue = context.config.queue
        event.msg = String(decoding: delivery.body, as: UTF8.self)
        event.serverId = String(delivery.id.rawValue)
        event.deliveries = Int(delivery.deliveryCount)
        await context.recorder.record(event)
    }
}

/// Reads a queue consumer in its own task and buffers what arrives, so callers can wait with a timeout
/// without cancelling the consumer's stream (cancelling a task that awaits a stream ends the stream).
final class DeliveryPump: Sendable {
    /// Deliveries buffered at most; the broker's prefetch bounds this further.
    static let bufferMax = 10_000
    private let state = NIOLockedValueBox((buffer: [ReceivedDelivery](), ended: false))
    private let task: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    init(_ consumer: QueueConsumer) {
        let state = self.state
        let reader = Task {
            do {
                for try await delivery in consumer {
                    state.withLockedValue { if $0.buffer.count < Self.bufferMax { $0.buffer.append(delivery) } }
                }
            } catch {}
            state.withLockedValue { $0.ended = true }
        }
        task.withLockedValue { $0 = reader }
    }

    /// The next delivery, waiting until `deadline`; `.ended` when the stream finished, `.timeout` otherwise.
    func next(until deadline: ContinuousClock.Instant) async -> PumpResult {
        while true {
            let (delivery, ended) = state.withLockedValue { state -> (ReceivedDelivery?, Bool) in
                state.buffer.isEmpty ? (nil, state.ended) : (state.buffer.removeFirst(), false)
            }
            if let delivery { return .delivery(delivery) }
            if ended { return .ended }
            if ContinuousClock.now >= deadline || Task.isCancelled { return .timeout }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Stops reading (unsubscribes); buffered deliveries are dropped unacked.
    func stop() { task.withLockedValue { $0?.cancel() } }

    enum PumpResult {
        case delivery(ReceivedDelivery)
        case ended
        case timeout
    }
}
