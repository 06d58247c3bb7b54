import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SkiffWire

/// The client's engine: a ledger of calls that outlives connections, and the connection to the leader.
///
/// Invariant: every call in `pending` is either unsent (`sentOn == nil`) or sent on the current
/// connection; unsent calls are (re)sent in call order as soon as a leader connection is up, so the
/// per-target producer sequence numbers reach the leader in increasing order.
final class ClientCore: WireConnectionDelegate, Sendable {
    let configuration: SkiffClient.Configuration
    let seeds: [String]
    let group: any EventLoopGroup
    let logger: Logger
    let state: NIOLockedValueBox<CoreState>

    init(seeds: [String], configuration: SkiffClient.Configuration, logger: Logger) {
        self.seeds = seeds
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup.singleton
        self.logger = logger
        self.state = NIOLockedValueBox(CoreState())
    }

    // MARK: Calls

    /// Sends `request` to the leader, following failovers, and returns its successful response.
    /// Server errors are thrown as `SkiffClientError.server`.
    func call(_ request: Request) async throws -> Response {
        try await call { _ in request }
    }

    /// Like `call(_:)`, but builds the request under the ledger lock, so that values assigned there (producer
    /// sequence numbers) are ordered exactly like the sends.
    func call(_ build: @Sendable (inout CoreState) throws -> Request) async throws -> Response {
        let opID = state.withLockedValue { $0.allocateID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Response, any Error>) in
                enqueue(opID, build: build, completion: .continuation(continuation))
            }
        } onCancel: {
            cancel(opID)
        }
    }

    /// Like `call(_:)`, but does not suspend: the call joins the ledger (in order with every other call) and
    /// `completion` runs exactly once, on a client thread, with its outcome. Pipelined publishers use it to
    /// avoid a task and a continuation per request. There is no task to cancel; the request timeout applies.
    func submit(
        _ build: (inout CoreState) throws -> Request,
        completion: @escaping @Sendable (Result<Response, any Error>) -> Void
    ) {
        let opID = state.withLockedValue { $0.allocateID() }
        enqueue(opID, build: build, completion: .callback(completion))
    }

    /// Puts a call in the ledger and sends it if a leader connection is up; fails `completion` at once if the
    /// client is closed, the caller is cancelled, the ledger is full or `build` throws.
    private func enqueue(
        _ opID: UInt64, build: (inout CoreState) throws -> Request, completion: CallCompletion
    ) {
        let deadline = NIODeadline.now() + .milliseconds(configuration.requestTimeoutMs)
        let outcome: Result<Bool, any Error> = state.withLockedValue { state in
            if state.closed { return .failure(SkiffClientError(.closed)) }
            if Task.isCancelled { return .failure(CancellationError()) }
            guard state.pending.count < configuration.pendingCallsMax else {
                return .failure(SkiffClientError(.invalidArgument("too many calls in flight")))
            }
            let request: Request
            do { request = try build(&state) } catch { return .failure(error) }
            state.pending[opID] = PendingCall(
                request: request, order: state.allocateID(), deadline: deadline, completion: completion)
            state.deadlineFloor = min(state.deadlineFloor, deadline)
            if let connection = state.connection { state.send(opID, on: connection) }
            return .success(state.connection == nil)
        }
        switch outcome {
        case .failure(let error): completion.complete(.failure(error))
        case .success(let needsConnection): if needsConnection { ensureConnecting() }
        }
    }

    private func cancel(_ opID: UInt64) {
        let call = state.withLockedValue { $0.pending.removeValue(forKey: opID) }
        call?.completion.complete(.failure(CancellationError()))
    }

    /// Sends one request on one specific connection, bypassing the ledger (handshake, subscriptions).
    /// Fails when the connection closes or `timeoutMs` (default: the handshake timeout) passes.
    ///
    /// `onResponse` runs under the ledger lock as the response is read, before any later frame of the same
    /// connection is handled (a subscription is registered before its first delivery arrives).
    func directCall(
        _ request: Request, on connection: WireConnection, timeoutMs: Int64? = nil,
        onResponse: (@Sendable (inout CoreState, Response) -> Void)? = nil
    ) async throws -> Response {
        let requestID = RequestID(state.withLockedValue { $0.allocateID() })
        let timeoutMs = timeoutMs ?? configuration.handshakeTimeoutMs
        let timeout = connection.channel.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
            [self] in
            let waiter = state.withLockedValue { $0.direct.removeValue(forKey: requestID) }
            waiter?.continuation.resume(throwing: SkiffClientError(.timeout))
        }
        defer { timeout.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = state.withLockedValue { state in
                guard !state.closed, connection.channel.isActive else { return false }
                state.direct[requestID] = DirectCall(
                    connectionID: connection.id, continuation: continuation, onResponse: onResponse)
                return true
            }
            guard registered else { return continuation.resume(throwing: SkiffClientError(.connectionLost)) }
            connection.send(request.frame(id: requestID))
        }
    }

    // MARK: WireConnectionDelegate

    func connection(_ connection: WireConnection, received response: Response, for requestID: RequestID) {
        var actions = Actions()
        state.withLockedValue { state in
            if let waiter = state.direct.removeValue(forKey: requestID) {
                waiter.onResponse?(&state, response)
                actions.resume.append((.continuation(waiter.continuation), .success(response)))
                return
            }
            guard let opID = state.byRequestID.removeValue(forKey: requestID),
                state.pending[opID]?.sentOn == connection.id
            else { return }
            handle(response, opID: opID, connection: connection, state: &state, actions: &actions)
            if state.draining[connection.id] != nil, !state.hasCallsSent(on: connection.id) {
                actions.close.append(connection)
            }
        }
        perform(actions)
    }

    private func handle(
        _ response: Response, opID: UInt64, connection: WireConnection, state: inout CoreState, actions: inout Actions
    ) {
        guard case .error(let error) = response else {
            let call = state.pending.removeValue(forKey: opID)!
            state.confirmSequences(of: call.request)
            actions.resume.append((call.completion, .success(response)))
            return
        }
        let call = state.pending[opID]!
        switch error.code {
        case .notLeader:
            // Nothing was executed: resend on the leader, which the connection loop finds. The old connection
            // drains (its other calls get their answers) before the new one sends anything, so resends stay
            // in call order.
            state.pending[opID]!.sentOn = nil
            if !error.leaderAddress.isEmpty { state.leaderHint = error.leaderAddress }
            if state.connection?.id == connection.id {
                state.detachCurrent(draining: connection)
                actions.reconnect = true
            }
        case .unavailable where call.request.isSafeToResend, .timeout where call.request.isSafeToResend:
            state.pending[opID]!.sentOn = nil
            actions.resendLater = true
        case .sequenceGap where state.hasEarlierPending(than: opID, sameTargetAs: call.request):
            // An earlier call for this target is being retried; this one follows it.
            state.pending[opID]!.sentOn = nil
            actions.resendLater = true
        case .sequenceGap where call.request.sequenceKey != nil && call.rewinds < CoreState.sequenceRewindsMax:
            // Every earlier call for this target is resolved, yet the broker expects an earlier number: some of
            // those calls failed or timed out without being stored (a failed command consumes no sequence).
            // Renumber the target's pending calls from the last confirmed sequence and resend them in order.
            state.rewindSequences(key: call.request.sequenceKey!)
            state.pending[opID]!.sentOn = nil
            state.pending[opID]!.rewinds += 1
            actions.resendLater = true
        case .duplicate where call.sends > 1:
            // A resend of a stamped write the broker stored long ago (beyond its result window): stored once.
            if let stored = call.request.forgottenDuplicateResponse {
                state.pending.removeValue(forKey: opID)
                state.confirmSequences(of: call.request)
                actions.resume.append((call.completion, .success(stored)))
            } else {
                state.pending.removeValue(forKey: opID)
                actions.resume.append((call.completion, .failure(SkiffClientError(.server(error)))))
            }
        default:
            state.pending.removeValue(forKey: opID)
            actions.resume.append((call.completion, .failure(SkiffClientError(.server(error)))))
        }
    }

    func connection(_ connection: WireConnection, received push: Push) {
        switch push {
        case .delivery(let delivery): deliver([delivery], subscription: delivery.subscriptionID, from: connection)
        case .deliveries(let batch): deliver(batch.deliveries, subscription: batch.subscriptionID, from: connection)
        case .checkback(let checkback): answerCheckback(checkback)
        case .subscriptionEnded(let ended): subscriptionEnded(ended, on: connection)
        }
    }

    func connectionClosed(_ connection: WireConnection, error: (any Error)?) {
        var actions = Actions()
        let wasCurrent = state.withLockedValue { state -> Bool in
            for (requestID, waiter) in state.direct where waiter.connectionID == connection.id {
                state.direct.removeValue(forKey: requestID)
                actions.resume.append((.continuation(waiter.continuation), .failure(SkiffClientError(.connectionLost))))
            }
            if state.leaderHint == connection.address { state.leaderHint = nil }
            let wasDraining = state.draining.removeValue(forKey: connection.id) != nil
            guard state.connection?.id == connection.id || wasDraining else { return false }
            if state.connection?.id == connection.id { state.detachCurrent(draining: nil) }
            for (opID, call) in state.pending where call.sentOn == connection.id {
                if call.request.isSafeToResend {
                    state.pending[opID]!.sentOn = nil
                } else {
                    state.pending.removeValue(forKey: opID)
                    actions.resume.append((call.completion, .failure(SkiffClientError(.connectionLost))))
                }
            }
            state.dropSubscriptions(onConnection: connection.id)
            return true
        }
        perform(actions)
        if wasCurrent {
            logger.info(
                "leader connection closed", metadata: ["connection": "\(connection)", "error": "\(error as Any)"])
            ensureConnecting()
        }
    }

    func perform(_ actions: Actions) {
        for connection in actions.close { connection.close() }
        for (completion, result) in actions.resume { completion.complete(result) }
        if actions.resendLater { scheduleResend() }
        if actions.reconnect { ensureConnecting() }
    }

    private func scheduleResend() {
        let delay = TimeAmount.milliseconds(configuration.reconnectBackoffInitialMs * 2)
        group.next().scheduleTask(in: delay) { [self] in
            state.withLockedValue { state in
                guard let connection = state.connection else { return }
                state.sendUnsent(on: connection)
            }
        }
    }

    // MARK: Lifecycle

    /// Fails every call, ends every consumer, closes the connection.
    func close() {
        var actions = Actions()
        var consumers: [AsyncThrowingStream<[ReceivedDelivery], any Error>.Continuation] = []
        let connection = state.withLockedValue { state -> WireConnection? in
            guard !state.closed else { return nil }
            state.closed = true
            for (_, call) in state.pending {
                actions.resume.append((call.completion, .failure(SkiffClientError(.closed))))
            }
            for (_, waiter) in state.direct {
                actions.resume.append((.continuation(waiter.continuation), .failure(SkiffClientError(.closed))))
            }
            // Finished after the lock is released: finishing runs the stream's termination handler, which
            // takes the lock to unsubscribe.
            consumers = state.subscriptions.values.map(\.continuation)
            state.pending.removeAll()
            state.direct.removeAll()
            state.subscriptions.removeAll()
            defer { state.connection = nil }
            return state.connection
        }
        perform(actions)
        for consumer in consumers { consumer.finish(throwing: SkiffClientError(.closed)) }
        connection?.close()
    }

    /// Fails calls whose deadline passed. Runs on a timer while the client is open.
    func expireCalls() {
        let now = NIODeadline.now()
        var actions = Actions()
        state.withLockedValue { state in
            // The sweep runs every few ms; it looks at the calls (copying each) only once the earliest deadline
            // that may be pending has passed, and then recomputes that bound from the calls left.
            guard state.deadlineFloor <= now else { return }
            var expired: [UInt64] = []
            var floor = NIODeadline.distantFuture
            for (opID, call) in state.pending {
                if call.deadline <= now { expired.append(opID) } else { floor = min(floor, call.deadline) }
            }
            state.deadlineFloor = floor
            for opID in expired {
                let call = state.pending.removeValue(forKey: opID)!
                let error =
                    call.everSent
                    ? SkiffClientError(.timeout) : SkiffClientError(.unavailable("no leader reachable in time"))
                actions.resume.append((call.completion, .failure(error)))
            }
        }
        perform(actions)
    }
}

/// Work collected under the lock and carried out after it is released.
struct Actions {
    var resume: [(CallCompletion, Result<Response, any Error>)] = []
    var close: [WireConnection] = []
    var resendLater = false
    var reconnect = false
}

/// A call in the ledger.
struct PendingCall {
    /// Mutable only to renumber its producer sequence (see `CoreState.rewindSequences`).
    var request: Request {
        get { box.request }
        set { box = RequestBox(newValue) }
    }
    /// The request behind one reference: reading a call out of the ledger copies it, and a copy then costs one
    /// retain instead of one per field of the request.
    private var box: RequestBox
    /// Assigned under the lock together with the request's sequence numbers; (re)sends follow it.
    let order: UInt64
    let deadline: NIODeadline
    let completion: CallCompletion
    /// The connection it was last sent on, or nil while it waits to be (re)sent.
    var sentOn: UInt64?
    var everSent = false
    /// How many times it was sent.
    var sends = 0
    /// How many sequence rewinds it triggered.
    var rewinds = 0

    init(request: Request, order: UInt64, deadline: NIODeadline, completion: CallCompletion) {
        self.box = RequestBox(request)
        self.order = order
        self.deadline = deadline
        self.completion = completion
    }
}

/// An immutable request, shared by the copies of one `PendingCall`.
final class RequestBox: Sendable {
    let request: Request

    init(_ request: Request) { self.request = request }
}

/// Where a call's outcome goes: a suspended task, or a callback (calls submitted without suspending).
enum CallCompletion: Sendable {
    case continuation(CheckedContinuation<Response, any Error>)
    case callback(@Sendable (Result<Response, any Error>) -> Void)

    /// Delivers the outcome. Each call's completion runs exactly once (the ledger removes the call first).
    func complete(_ result: Result<Response, any Error>) {
        switch self {
        case .continuation(let continuation): continuation.resume(with: result)
        case .callback(let callback): callback(result)
        }
    }
}

/// A connection-bound request outside the ledger.
struct DirectCall {
    let connectionID: UInt64
    let continuation: CheckedContinuation<Response, any Error>
    let onResponse: (@Sendable (inout CoreState, Response) -> Void)?
}
