import ArgumentParser
import Foundation
import SkiffClient

/// `skiff consume QUEUE`.
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Receive messages, print them, then ack, nack or reject them.")

    enum Disposition: String, EnumerableFlag {
        case ack, nack, reject

        static func help(for value: Disposition) -> ArgumentHelp? {
            switch value {
            case .ack: return "Remove each message after printing it (default)."
            case .nack: return "Return each message to the queue, raising its delivery count."
            case .reject: return "Dead-letter or drop each message as the queue says."
            }
        }
    }

    @OptionGroup var options: ClientOptions
    @Argument var queue: String
    @Option(help: "Stop after this many messages.") var count: Int?
    @Flag(help: "Keep waiting for messages instead of stopping when the queue is idle.") var follow = false
    @Flag var disposition: Disposition = .ack
    @Option(help: "Unsettled deliveries allowed at once.") var prefetch: UInt32 = 100
    @Option(help: "Without --follow, stop after this long without a message.", transform: DurationArgument.parse)
    var idle: DurationArgument = DurationArgument(milliseconds: 1_000)

    func run() async throws {
        let client = try options.makeClient(role: .client)
        defer { client.close() }
        // Never lease more than will be handled: leases taken beyond --count would come back redelivered.
        let consumer = client.consume(queue: queue, prefetch: min(prefetch, UInt32(clamping: count ?? Int.max)))
        let limit = count ?? Int.max
        let idleMs = follow ? nil : idle.milliseconds
        let received = try await withThrowingTaskGroup(of: Int.self) { group in
            let progress = ProgressClock()
            group.addTask { try await consume(consumer, limit: limit, clock: progress) }
            if let idleMs {
                group.addTask {
                    try await progress.waitIdle(milliseconds: idleMs)
                    return -1
                }
            }
            let first = try await group.next()!
            group.cancelAll()
            return first >= 0 ? first : progress.count
        }
        if !options.json, received == 0 { Output.error("no messages") }
    }

    private func consume(_ consumer: QueueConsumer, limit: Int, clock: ProgressClock) async throws -> Int {
        var received = 0
        for try await delivery in consumer {
            clock.tick()
            print(delivery)
            // With --count, shrink the window to what is still to be handled before settling: otherwise each
            // settlement leases another message, and those beyond the count would be left behind with their
            // delivery counts raised.
            if limit != Int.max { try? await consumer.setPrefetch(UInt32(clamping: limit - received - 1)) }
            switch disposition {
            case .ack: try await delivery.ack()
            case .nack: try await delivery.nack()
            case .reject: try await delivery.reject()
            }
            received += 1
            if received >= limit { break }
        }
        return received
    }

    private func print(_ delivery: ReceivedDelivery) {
        if options.json {
            Output.json([
                "id": delivery.id.rawValue, "body": Output.bodyText(delivery.body),
                "deliveries": delivery.deliveryCount, "headers": delivery.headers,
            ])
        } else {
            Swift.print(
                "id=\(delivery.id.rawValue) deliveries=\(delivery.deliveryCount) \(Output.bodyText(delivery.body))")
        }
    }
}

/// Counts events and notices when none happened for a while.
final class ProgressClock: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ContinuousClock.now
    private var events = 0

    var count: Int { lock.withLock { events } }

    func tick() {
        lock.withLock {
            last = .now
            events += 1
        }
    }

    /// Returns once `milliseconds` pass without a tick.
    func waitIdle(milliseconds: Int64) async throws {
        while true {
            let since = lock.withLock { ContinuousClock.now - last }
            if since >= .milliseconds(milliseconds) { return }
            try await Task.sleep(for: .milliseconds(milliseconds) - since)
        }
    }
}
