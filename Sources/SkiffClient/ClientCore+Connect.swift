import NIOCore
import SkiffWire

extension ClientCore {
    /// Starts the connection loop unless a leader connection exists or the loop already runs.
    func ensureConnecting() {
        let start = state.withLockedValue { state -> Bool in
            guard !state.closed, state.connection == nil, !state.connecting else { return false }
            state.connecting = true
            return true
        }
        guard start else { return }
        Task { await connectLoop() }
    }

    /// Finds the leader and installs a connection to it, with bounded backoff between rounds. Stops when the
    /// client closes or nothing needs a connection any more.
    private func connectLoop() async {
        var backoff = Backoff(
            initialMs: configuration.reconnectBackoffInitialMs, maxMs: configuration.reconnectBackoffMaxMs)
        while true {
            let candidates = state.withLockedValue { $0.closed ? nil : candidateAddresses($0) }
            guard let candidates else { return stopConnecting() }
            if let connection = await findLeader(candidates) {
                await awaitDraining()
                return install(connection)
            }
            let idle = state.withLockedValue { $0.pending.isEmpty && $0.subscriptions.isEmpty && $0.checkers.isEmpty }
            if idle { return stopConnecting() }
            let delayMs = backoff.next()
            logger.debug("no leader reachable; retrying", metadata: ["delayMs": "\(delayMs)"])
            try? await Task.sleep(nanoseconds: UInt64(delayMs) * 1_000_000)
        }
    }

    private func stopConnecting() {
        state.withLockedValue { $0.connecting = false }
    }

    /// The leader hint first, then the members last reported, then the seeds; each address once.
    private func candidateAddresses(_ state: CoreState) -> [String] {
        var seen: Set<String> = []
        return ([state.leaderHint].compactMap { $0 } + state.memberAddresses + seeds).filter {
            seen.insert($0).inserted
        }
    }

    /// Tries candidates in order, following leader hints, and returns a handshaken leader connection.
    private func findLeader(_ candidates: [String]) async -> WireConnection? {
        var queue = candidates
        var tried: Set<String> = []
        while !queue.isEmpty {
            let address = queue.removeFirst()
            guard tried.insert(address).inserted else { continue }
            guard let (connection, hello) = await handshake(address) else { continue }
            if hello.nodeID != .none, hello.leaderID == hello.nodeID {
                await learnMembers(connection)
                return connection
            }
            connection.close()
            if !hello.leaderAddress.isEmpty, !tried.contains(hello.leaderAddress) {
                state.withLockedValue { $0.leaderHint = hello.leaderAddress }
                queue.insert(hello.leaderAddress, at: 0)
            }
        }
        return nil
    }

    /// Connects and says hello; nil when either fails.
    private func handshake(_ address: String) async -> (WireConnection, HelloOK)? {
        let id = state.withLockedValue { $0.allocateID() }
        let connection: WireConnection
        do {
            connection = try await WireConnection.connect(
                id: id, address: address, group: group,
                connectTimeout: .milliseconds(configuration.connectTimeoutMs),
                frameBytesMax: configuration.frameBytesMax, delegate: self)
        } catch {
            logger.debug("connect failed", metadata: ["address": "\(address)", "error": "\(error)"])
            return nil
        }
        let hello = Hello(role: configuration.role, clientID: configuration.clientID)
        guard case .helloOK(let ok)? = try? await directCall(.hello(hello), on: connection) else {
            connection.close()
            return nil
        }
        return (connection, ok)
    }

    private func learnMembers(_ connection: WireConnection) async {
        guard case .cluster(let info)? = try? await directCall(.clusterInfo, on: connection) else { return }
        state.withLockedValue { state in
            state.memberAddresses = info.members.map(\.clientAddress).filter { !$0.isEmpty }
        }
    }

    /// Waits (bounded by the handshake timeout) until connections that answered NOT_LEADER have answered
    /// every call sent on them, so resends cannot overtake earlier sends.
    private func awaitDraining() async {
        let deadline = NIODeadline.now() + .milliseconds(configuration.handshakeTimeoutMs)
        while NIODeadline.now() < deadline {
            let busy = state.withLockedValue { state in state.draining.keys.contains { state.hasCallsSent(on: $0) } }
            if !busy { break }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        let leftovers = state.withLockedValue { $0.draining.values }
        for connection in leftovers { connection.close() }
    }

    /// Makes `connection` current, resends the ledger in call order, and restores subscriptions and
    /// producer-group registrations.
    private func install(_ connection: WireConnection) {
        let installed = state.withLockedValue { state -> Bool in
            state.connecting = false
            guard !state.closed else { return false }
            state.connection = connection
            state.sendUnsent(on: connection)
            return true
        }
        guard installed else { return connection.close() }
        logger.debug("connected to leader", metadata: ["connection": "\(connection)"])
        restoreSessionState(on: connection)
    }

    /// Pings the leader connection; one that does not answer within the handshake timeout is closed, which
    /// starts a failover.
    func keepAlive() {
        guard let connection = state.withLockedValue({ $0.connection }) else { return }
        Task {
            do {
                _ = try await directCall(.ping, on: connection)
            } catch let error as SkiffClientError where error.kind == .timeout {
                logger.warning("leader connection did not answer a ping", metadata: ["connection": "\(connection)"])
                connection.close()
            } catch {}
        }
    }
}
