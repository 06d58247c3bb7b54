import SkiffWire

extension ClientCore {
    /// Registers a subscription that survives failovers and returns its delivery stream.
    func subscribe(
        queue: ObjectName, prefetch: UInt32, leaseMs: UInt32
    ) -> (localID: UInt64, stream: AsyncThrowingStream<[ReceivedDelivery], any Error>) {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [ReceivedDelivery].self)
        let (localID, connection, closed) = state.withLockedValue { state -> (UInt64, WireConnection?, Bool) in
            let localID = state.allocateID()
            if state.closed { return (localID, nil, true) }
            state.subscriptions[localID] = SubscriptionState(
                queue: queue, prefetch: prefetch, leaseMs: leaseMs, continuation: continuation)
            return (localID, state.connection, false)
        }
        if closed {
            continuation.finish(throwing: SkiffClientError(.closed))
            return (localID, stream)
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(localID) }
        if let connection { startSubscribe(localID, on: connection) } else { ensureConnecting() }
        return (localID, stream)
    }

    /// Sends a subscribe for `localID` on `connection` unless one is in flight or done.
    func startSubscribe(_ localID: UInt64, on connection: WireConnection) {
        let request = state.withLockedValue { state -> Request? in
            guard let subscription = state.subscriptions[localID], subscription.serverID == nil,
                !subscription.subscribing
            else { return nil }
            state.subscriptions[localID]!.subscribing = true
            return .subscribe(
                SubscribeRequest(
                    queue: subscription.queue, prefetch: subscription.prefetch, leaseMs: subscription.leaseMs))
        }
        guard let request else { return }
        Task {
            // Subscribing commits through Raft, so it gets the request timeout, not the handshake's.
            let timeoutMs = configuration.requestTimeoutMs
            var response: Response?
            do {
                response = try await directCall(request, on: connection, timeoutMs: timeoutMs) { state, response in
                    state.subscriptions[localID]?.subscribing = false
                    guard case .subscribed(let serverID) = response else { return }
                    guard state.subscriptions[localID] != nil, state.connection?.id == connection.id else { return }
                    state.subscriptions[localID]!.serverID = serverID
                    state.subscriptions[localID]!.connectionID = connection.id
                    state.subscriptionByServerID[serverID] = localID
                }
            } catch let error as SkiffClientError where error.kind == .timeout {
                // The server may have subscribed without us knowing the id; only closing the connection
                // releases that subscription and its leases. The connection loop then starts over.
                connection.close()
            } catch {}
            subscribeAnswered(localID, response: response, connection: connection)
        }
    }

    private func subscribeAnswered(_ localID: UInt64, response: Response?, connection: WireConnection) {
        guard let response else {
            // The connection broke; if a newer connection is already up, its restore pass may have skipped
            // this subscription while the subscribe was in flight.
            state.withLockedValue { $0.subscriptions[localID]?.subscribing = false }
            return resubscribeOnCurrent(localID)
        }
        switch response {
        case .subscribed(let serverID):
            let orphan = state.withLockedValue { $0.subscriptionByServerID[serverID] == nil }
            if orphan {
                connection.send(Request.unsubscribe(serverID).frame(id: .none))
                resubscribeOnCurrent(localID)
            }
        case .error(let error) where error.code.isRetriable:
            retryLater(after: error, connection: connection)
        case .error(let error):
            let subscription = state.withLockedValue { $0.subscriptions.removeValue(forKey: localID) }
            subscription?.continuation.finish(throwing: SkiffClientError(.server(error)))
        default:
            let subscription = state.withLockedValue { $0.subscriptions.removeValue(forKey: localID) }
            subscription?.continuation.finish(
                throwing: SkiffClientError(.protocolViolation("unexpected \(response.opcode) to subscribe")))
        }
    }

    private func resubscribeOnCurrent(_ localID: UInt64) {
        guard let current = state.withLockedValue({ $0.connection }) else { return }
        startSubscribe(localID, on: current)
    }

    /// A retriable refusal of connection-bound state: NOT_LEADER means this connection is the wrong one.
    private func retryLater(after error: WireError, connection: WireConnection) {
        let reconnect = state.withLockedValue { state -> Bool in
            guard error.code == .notLeader, state.connection?.id == connection.id else { return false }
            if !error.leaderAddress.isEmpty { state.leaderHint = error.leaderAddress }
            state.detachCurrent(draining: connection)
            return true
        }
        if reconnect {
            if !state.withLockedValue({ $0.hasCallsSent(on: connection.id) }) { connection.close() }
            ensureConnecting()
        } else {
            let delay = configuration.reconnectBackoffMaxMs
            group.next().scheduleTask(in: .milliseconds(delay)) { [self] in
                if let current = state.withLockedValue({ $0.connection }) { restoreSessionState(on: current) }
            }
        }
    }

    /// Changes a subscription's credit window (0 pauses it). Applies to the server subscription now, if there
    /// is one on the current connection, and to every later re-subscription.
    func setPrefetch(_ localID: UInt64, prefetch: UInt32) async throws {
        let target = state.withLockedValue { state -> (SubscriptionID, WireConnection)? in
            guard state.subscriptions[localID] != nil else { return nil }
            state.subscriptions[localID]!.prefetch = prefetch
            guard let serverID = state.subscriptions[localID]!.serverID, let connection = state.connection,
                state.subscriptions[localID]!.connectionID == connection.id
            else { return nil }
            return (serverID, connection)
        }
        guard let (serverID, connection) = target else { return }
        let request = Request.setPrefetch(PrefetchRequest(subscriptionID: serverID, prefetch: prefetch))
        let response = try await directCall(request, on: connection, timeoutMs: configuration.requestTimeoutMs)
        guard case .ok = response else { throw SkiffClientError.unexpected(response, for: request) }
    }

    /// Ends a subscription locally and on the server.
    func unsubscribe(_ localID: UInt64) {
        let (serverID, connection) = state.withLockedValue { state -> (SubscriptionID?, WireConnection?) in
            guard let subscription = state.subscriptions.removeValue(forKey: localID) else { return (nil, nil) }
            guard let serverID = subscription.serverID else { return (nil, nil) }
            state.subscriptionByServerID.removeValue(forKey: serverID)
            return (serverID, state.connection?.id == subscription.connectionID ? state.connection : nil)
        }
        if let serverID, let connection {
            Task { _ = try? await directCall(.unsubscribe(serverID), on: connection) }
        }
    }

    /// Hands the deliveries of one push frame (all of one subscription) to its consumer in one stream element,
    /// so the consumer wakes once per frame rather than once per delivery.
    func deliver(_ deliveries: [Delivery], subscription: SubscriptionID, from connection: WireConnection) {
        let continuation = state.withLockedValue { state in
            // Through the index: `subscriptions[id]?` would copy the whole subscription state per delivery.
            state.subscriptionByServerID[subscription].flatMap { state.subscriptions.index(forKey: $0) }
                .map { state.subscriptions.values[$0].continuation }
        }
        guard let continuation else {
            logger.debug("delivery for unknown subscription", metadata: ["subscription": "\(subscription)"])
            return
        }
        continuation.yield(deliveries.map { ReceivedDelivery(delivery: $0, core: self, connectionID: connection.id) })
    }

    func subscriptionEnded(_ ended: SubscriptionEnded, on connection: WireConnection) {
        let localID = state.withLockedValue { state -> UInt64? in
            guard let localID = state.subscriptionByServerID.removeValue(forKey: ended.subscriptionID) else {
                return nil
            }
            state.subscriptions[localID]?.serverID = nil
            state.subscriptions[localID]?.connectionID = nil
            return localID
        }
        guard let localID else { return }
        if ended.error.code.isRetriable {
            retryLater(after: ended.error, connection: connection)
        } else {
            let subscription = state.withLockedValue { $0.subscriptions.removeValue(forKey: localID) }
            subscription?.continuation.finish(throwing: SkiffClientError(.server(ended.error)))
        }
    }

    /// Re-creates connection-bound state on a new leader connection: subscriptions and checkback groups.
    func restoreSessionState(on connection: WireConnection) {
        let (subscriptions, groups) = state.withLockedValue { state in
            (
                state.subscriptions.filter { $0.value.serverID == nil }.map(\.key),
                Array(state.checkers.keys)
            )
        }
        for localID in subscriptions { startSubscribe(localID, on: connection) }
        for group in groups {
            Task {
                _ = try? await directCall(
                    .allocateProducer(producerGroup: group), on: connection, timeoutMs: configuration.requestTimeoutMs)
            }
        }
    }

    /// Registers the checker for a producer group and announces the group on the current connection.
    func registerChecker(group: String, checker: @escaping HalfChecker) {
        let connection = state.withLockedValue { state in
            state.checkers[group] = checker
            return state.connection
        }
        if let connection {
            Task {
                _ = try? await directCall(
                    .allocateProducer(producerGroup: group), on: connection, timeoutMs: configuration.requestTimeoutMs)
            }
        } else {
            ensureConnecting()
        }
    }

    func answerCheckback(_ checkback: Checkback) {
        guard let checker = state.withLockedValue({ $0.checkers[checkback.producerGroup] }) else { return }
        Task {
            let outcome = await checker(checkback)
            _ = try? await call(.halfResolve(HalfResolveRequest(halfID: checkback.halfID, outcome: outcome)))
        }
    }

    /// The id of the current leader connection, to tell stale deliveries from live ones.
    var currentConnectionID: UInt64? { state.withLockedValue { $0.connection?.id } }
}
