import Synchronization

/// Bounds the bench's unconfirmed publishes and collects their confirms, with no task per publish: the publish
/// loop takes a slot before each publish, and the client's confirm callback returns it.
///
/// A full window wakes the publish loop only after `refill` confirms came back, so the loop suspends once per
/// slice of confirms rather than once per confirm. At most `limit` publishes are ever unconfirmed.
final class ConfirmWindow: Sendable {
    /// Unconfirmed publishes allowed at once.
    let limit: Int
    /// Confirms a full window waits for before the publish loop resumes (1 ... limit).
    let refill: Int

    private struct State {
        var unconfirmed = 0
        var confirms: [Confirm] = []
        var failure: (any Error)?
        /// The suspended loop and the number of unconfirmed publishes it waits for (at most).
        var waiter: (continuation: CheckedContinuation<Void, any Error>, atMost: Int, takesSlot: Bool)?
    }

    private let state: Mutex<State>

    /// The window refills after a sixteenth of its slots came back (at least one).
    static let refillDivisor = 16

    init(limit: Int, expected: Int) {
        precondition(limit >= 1, "window limit \(limit) must be at least 1")
        self.limit = limit
        self.refill = max(1, limit / Self.refillDivisor)
        var initial = State()
        initial.confirms.reserveCapacity(expected)
        self.state = Mutex(initial)
    }

    /// Confirms received so far.
    var confirmedCount: Int { state.withLock { $0.confirms.count } }

    /// Takes a slot for one publish, waiting while the window is full. Throws the first publish failure.
    func acquire() async throws {
        try await wait(atMost: limit - 1, takesSlot: true, resumeAt: limit - refill)
    }

    /// Waits until every publish that took a slot is confirmed, and returns the confirms in arrival order.
    func drain() async throws -> [Confirm] {
        try await wait(atMost: 0, takesSlot: false, resumeAt: 0)
        return state.withLock { $0.confirms }
    }

    /// Records one publish's outcome; called from the client's confirm callback (any thread).
    func complete(_ result: Result<Confirm, any Error>) {
        let wake = state.withLock { state -> (CheckedContinuation<Void, any Error>, Result<Void, any Error>)? in
            precondition(state.unconfirmed > 0, "a confirm came back with no publish unconfirmed")
            state.unconfirmed -= 1
            switch result {
            case .success(let confirm): state.confirms.append(confirm)
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            guard let waiter = state.waiter else { return nil }
            if let failure = state.failure {
                state.waiter = nil
                return (waiter.continuation, .failure(failure))
            }
            guard state.unconfirmed <= waiter.atMost else { return nil }
            state.waiter = nil
            if waiter.takesSlot { state.unconfirmed += 1 }
            return (waiter.continuation, .success(()))
        }
        if let (continuation, outcome) = wake { continuation.resume(with: outcome) }
    }

    /// Returns at once when at most `atMost` publishes are unconfirmed; otherwise suspends until at most
    /// `resumeAt` are (`resumeAt <= atMost`). `takesSlot` counts the caller's next publish as unconfirmed.
    private func wait(atMost: Int, takesSlot: Bool, resumeAt: Int) async throws {
        let ready = try state.withLock { state throws -> Bool in
            if let failure = state.failure { throw failure }
            guard state.unconfirmed <= atMost else { return false }
            if takesSlot { state.unconfirmed += 1 }
            return true
        }
        if ready { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let now = state.withLock { state -> Result<Void, any Error>? in
                if let failure = state.failure { return .failure(failure) }
                if state.unconfirmed <= resumeAt {
                    if takesSlot { state.unconfirmed += 1 }
                    return .success(())
                }
                precondition(state.waiter == nil, "one publish loop waits on a confirm window at a time")
                state.waiter = (continuation, resumeAt, takesSlot)
                return nil
            }
            if let now { continuation.resume(with: now) }
        }
    }
}
