import ChaosCheck
import NIOConcurrencyHelpers
import SkiffClient

extension Workload {
    /// Atomic transactions (two queue messages and one topic record; some deliberately aborted) and half
    /// messages (committed, rolled back, or left for the broker's check-back).
    static func transactionClient(
        _ context: WorkloadContext, process: Int, until deadline: ContinuousClock.Instant
    ) async {
        let config = context.config
        guard let client = try? context.makeClient("chaos-txn-\(process)") else { return }
        defer { client.close() }
        let recorder = context.recorder
        let pending = NIOLockedValueBox([String: SkiffClient.HalfMessage]())
        client.registerHalfChecker(producerGroup: config.halfGroup) { checkback in
            let msg = String(decoding: checkback.message.body, as: UTF8.self)
            let decision = checkerDecision(msg)
            pending.withLockedValue { _ = $0.removeValue(forKey: msg) }
            var event = HistoryEvent(type: .ok, t: 0, op: .halfCheck, process: process)
            event.tx = "h-" + msg
            event.msg = msg
            event.decision = decision == .commit ? "commit" : "rollback"
            await recorder.record(event)
            return decision
        }
        var rng = SeededGenerator(seed: config.seed &+ UInt64(process) &* 49_979_687)
        var n = 0
        // Stop early enough to resolve, before the deadline, the half messages the broker has not checked yet.
        let stop = deadline - .milliseconds(halfSweepMs)
        while ContinuousClock.now < stop && context.take() && !Task.isCancelled {
            n += 1
            if n % 2 == 0 {
                await atomicTransaction(context, client: client, process: process, n: n, abort: rng.next() % 5 == 0)
            } else {
                let choice = Int(rng.next() % 10)
                let left = await halfMessage(context, client: client, process: process, n: n, choice: choice)
                if let left { pending.withLockedValue { $0[left.msg] = left.half } }
            }
            await context.pace()
        }
        for (msg, half) in pending.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            await resolve(context, half: half, msg: msg, process: process, commit: checkerDecision(msg) == .commit)
        }
    }

    /// Time reserved at the end of the run for resolving unchecked half messages.
    static let halfSweepMs: Int64 = 3_000

    /// What the producer's checker answers for a half message: commit for even numbers, roll back for odd.
    static func checkerDecision(_ msg: String) -> HalfOutcome {
        (msg.last.flatMap { Int(String($0)) } ?? 0) % 2 == 0 ? .commit : .rollback
    }

    private static func atomicTransaction(
        _ context: WorkloadContext, client: SkiffClient, process: Int, n: Int, abort: Bool
    ) async {
        let config = context.config
        let members = ["x\(process)-\(n)-a", "x\(process)-\(n)-b", "x\(process)-\(n)-t"]
        var event = HistoryEvent(type: .invoke, t: 0, op: .txn, process: process)
        event.tx = "tx\(process)-\(n)"
        event.msgs = members
        event.detail = abort ? "aborted on purpose" : nil
        let invoke = await context.recorder.invoke(event)
        do {
            let transaction = try await client.beginTransaction(timeoutMs: 10_000)
            let messages = members.prefix(2).map { OutgoingMessage(body: $0.bytes) }
            try await transaction.publish(messages, to: .queue(config.queue))
            try await transaction.produce([ProduceRecord(value: members[2].bytes)], to: config.topic)
            if abort {
                try await transaction.abort()
                await context.recorder.complete(invoke, .fail, error: "aborted on purpose")
            } else {
                try await transaction.commit()
                await context.recorder.complete(invoke, .ok)
            }
        } catch {
            await context.recorder.complete(invoke, WorkloadContext.outcome(of: error), error: "\(error)")
        }
    }

    /// choice 0..3 commit, 4..7 roll back, 8..9 leave it to the broker's check-back (returned, so that it can be
    /// resolved at the end if the broker never asked).
    private static func halfMessage(
        _ context: WorkloadContext, client: SkiffClient, process: Int, n: Int, choice: Int
    ) async -> (msg: String, half: SkiffClient.HalfMessage)? {
        let config = context.config
        let msg = "h\(process)-\(n)"
        var event = HistoryEvent(type: .invoke, t: 0, op: .halfPublish, process: process)
        event.tx = "h-" + msg
        event.msg = msg
        event.queue = config.queue
        let invoke = await context.recorder.invoke(event)
        let half: SkiffClient.HalfMessage
        do {
            half = try await client.prepareHalf(
                OutgoingMessage(body: msg.bytes), to: .queue(config.queue), producerGroup: config.halfGroup)
            await context.recorder.complete(invoke, .ok)
        } catch {
            await context.recorder.complete(invoke, WorkloadContext.outcome(of: error), error: "\(error)")
            return nil
        }
        guard choice < 8 else { return (msg, half) }
        await resolve(context, half: half, msg: msg, process: process, commit: choice < 4)
        return nil
    }

    private static func resolve(
        _ context: WorkloadContext, half: SkiffClient.HalfMessage, msg: String, process: Int, commit: Bool
    ) async {
        var resolve = HistoryEvent(type: .invoke, t: 0, op: commit ? .halfCommit : .halfRollback, process: process)
        resolve.tx = "h-" + msg
        _ = await context.perform(resolve) {
            if commit { try await half.commit() } else { try await half.rollback() }
            return nil
        }
    }
}
