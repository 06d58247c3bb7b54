import Logging
import NIOConcurrencyHelpers
import NIOCore
@_exported import SkiffWire

/// A Skiff cluster client: give it some node addresses and it finds the leader, follows failovers, and
/// retries in-flight work safely (publishes carry an idempotent producer id and per-target sequence numbers,
/// so a retried publish is never stored twice).
///
/// All methods are safe to call concurrently. Calls made from one task are sent in call order; pipelining
/// comes from calling concurrently (for example from a task group). Every call honours task cancellation and
/// the configured request timeout. Call `close()` when done.
public final class SkiffClient: Sendable {
    let core: ClientCore
    private let timers: NIOLockedValueBox<[RepeatedTask]>

    /// How often pending calls are checked against their deadlines.
    static let deadlineSweepIntervalMs: Int64 = 20

    /// Creates a client. Nothing is connected until the first call.
    ///
    /// - Parameter seeds: `host:port` client addresses of some cluster nodes (any of them; not necessarily
    ///   the leader). Must not be empty.
    public init(
        seeds: [String], configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "skiff.client")
    ) throws(SkiffClientError) {
        guard !seeds.isEmpty else { throw SkiffClientError(.invalidArgument("no seed addresses")) }
        for seed in seeds { _ = try WireConnection.parseAddress(seed) }
        let core = ClientCore(seeds: seeds, configuration: configuration, logger: logger)
        self.core = core
        let interval = TimeAmount.milliseconds(Self.deadlineSweepIntervalMs)
        let loop = core.group.next()
        let sweeper = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in core.expireCalls() }
        let pingInterval = TimeAmount.milliseconds(max(configuration.pingIntervalMs, 1))
        let pinger = loop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
            core.keepAlive()
        }
        self.timers = NIOLockedValueBox([sweeper, pinger])
    }

    deinit { shutdown() }

    /// Fails pending calls with `.closed`, ends consumers and closes the connection.
    public func close() { shutdown() }

    private func shutdown() {
        timers.withLockedValue { tasks in
            for task in tasks { task.cancel() }
            tasks = []
        }
        core.close()
    }

    var namespace: String { core.configuration.defaultNamespace }

    /// Sends a request and returns the response, throwing server errors.
    func send(_ request: Request) async throws -> Response {
        try await core.call(request)
    }

    /// Sends a request whose only success answer is `ok`.
    func sendExpectingOK(_ request: Request) async throws {
        let response = try await core.call(request)
        guard case .ok = response else { throw SkiffClientError.unexpected(response, for: request) }
    }

    // MARK: Cluster

    /// The cluster's membership and leader as the leader sees it; when no leader is reachable, as the first
    /// reachable seed sees it. Bounded by the connect and handshake timeouts per node asked, not by the
    /// request timeout, so it answers promptly during elections and without quorum.
    public func clusterInfo() async throws -> ClusterInfo {
        if let connection = core.state.withLockedValue({ $0.connection }),
            case .cluster(let info)? = try? await core.directCall(.clusterInfo, on: connection),
            info.leaderID != .none, info.respondingNode == info.leaderID
        {
            return info
        }
        var fallback: ClusterInfo?
        for seed in core.seeds {
            guard let info = try? await core.clusterInfoDirect(from: seed) else { continue }
            if info.leaderID != .none, info.respondingNode == info.leaderID { return info }
            if let leader = info.leader, !leader.clientAddress.isEmpty,
                let view = try? await core.clusterInfoDirect(from: leader.clientAddress),
                view.leaderID != .none, view.respondingNode == view.leaderID
            {
                return view
            }
            fallback = fallback ?? info
        }
        guard let fallback else { throw SkiffClientError(.unavailable("no seed answered")) }
        return fallback
    }

    /// The cluster as `clusterInfo()` reports it, with every member's row replaced by what that member says of
    /// itself: its own role, term, commit and applied index (the leader knows only its followers' match
    /// index, not their terms or what they applied). Members are asked in parallel, each bounded by the connect
    /// and handshake timeouts; one that does not answer keeps the leader's view and is marked unreachable.
    public func clusterStatus() async throws -> ClusterInfo {
        let info = try await clusterInfo()
        let core = self.core
        let views = await withTaskGroup(of: (NodeID, ClusterInfo?).self) { group in
            for member in info.members where !member.clientAddress.isEmpty {
                group.addTask { (member.id, try? await core.clusterInfoDirect(from: member.clientAddress)) }
            }
            var views: [NodeID: ClusterInfo] = [:]
            for await (id, view) in group { if let view { views[id] = view } }
            return views
        }
        return Self.merge(info, selfViews: views)
    }

    /// Replaces each member's row with the member's own view of itself, where one was obtained.
    static func merge(_ info: ClusterInfo, selfViews: [NodeID: ClusterInfo]) -> ClusterInfo {
        var merged = info
        merged.members = info.members.map { member in
            guard let view = selfViews[member.id], view.respondingNode == member.id,
                var own = view.members.first(where: { $0.id == member.id })
            else {
                var unreachable = member
                if member.id != info.respondingNode { unreachable.reachable = false }
                return unreachable
            }
            // The address book is the answering node's; the member's own reachability flag is always true.
            own.clientAddress = member.clientAddress.isEmpty ? own.clientAddress : member.clientAddress
            own.peerAddress = member.peerAddress.isEmpty ? own.peerAddress : member.peerAddress
            own.reachable = true
            return own
        }
        return merged
    }

    /// Asks each seed in turn, ignoring leadership.
    public func clusterInfoFromAnySeed() async throws -> ClusterInfo {
        for seed in core.seeds {
            if let info = try? await core.clusterInfoDirect(from: seed) { return info }
        }
        throw SkiffClientError(.unavailable("no seed answered"))
    }

    /// Adds a node (it catches up as a learner, then votes).
    public func addNode(id: NodeID, peerAddress: String, clientAddress: String) async throws {
        try await sendExpectingOK(
            .addNode(AddNodeRequest(id: id, peerAddress: peerAddress, clientAddress: clientAddress)))
    }

    /// Removes a node from the configuration.
    public func removeNode(id: NodeID) async throws { try await sendExpectingOK(.removeNode(id)) }

    /// Moves leadership to `id`, or to the best follower when `id` is `.none`.
    public func transferLeader(to id: NodeID = .none) async throws { try await sendExpectingOK(.transferLeader(id)) }

    /// Round trip to the leader.
    public func ping() async throws { try await sendExpectingOK(.ping) }

    // MARK: Namespaces

    /// Creates a namespace.
    public func createNamespace(_ name: String) async throws { try await sendExpectingOK(.namespaceCreate(name)) }

    /// Deletes a namespace and everything in it.
    public func deleteNamespace(_ name: String) async throws { try await sendExpectingOK(.namespaceDelete(name)) }

    /// Lists namespaces.
    public func listNamespaces() async throws -> [String] {
        let response = try await send(.namespaceList)
        guard case .names(let names) = response else {
            throw SkiffClientError.unexpected(response, for: .namespaceList)
        }
        return names
    }

    // MARK: Queues

    /// Declares a queue (idempotent for equal arguments).
    public func declareQueue(
        _ name: String, namespace: String? = nil, arguments: QueueArguments = QueueArguments()
    ) async throws {
        let queue = ObjectName(namespace: namespace ?? self.namespace, name: name)
        try await sendExpectingOK(.queueDeclare(QueueDeclareRequest(queue: queue, arguments: arguments)))
    }

    /// Deletes a queue and its messages.
    public func deleteQueue(_ name: String, namespace: String? = nil) async throws {
        try await sendExpectingOK(.queueDelete(ObjectName(namespace: namespace ?? self.namespace, name: name)))
    }

    /// Removes every ready message; returns how many.
    public func purgeQueue(_ name: String, namespace: String? = nil) async throws -> UInt64 {
        let request = Request.queuePurge(ObjectName(namespace: namespace ?? self.namespace, name: name))
        let response = try await send(request)
        guard case .count(let count) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return count
    }

    /// A queue's counters.
    public func queueStats(_ name: String, namespace: String? = nil) async throws -> QueueStats {
        let request = Request.queueStats(ObjectName(namespace: namespace ?? self.namespace, name: name))
        let response = try await send(request)
        guard case .queueStats(let stats) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return stats
    }

    /// Every queue of a namespace with its counters.
    public func listQueues(namespace: String? = nil) async throws -> [QueueStats] {
        let request = Request.queueList(namespace ?? self.namespace)
        let response = try await send(request)
        guard case .queueList(let list) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return list
    }

    // MARK: Exchanges

    /// Declares an exchange.
    public func declareExchange(
        _ name: String, type: ExchangeType, alternateExchange: String? = nil, namespace: String? = nil
    ) async throws {
        let exchange = ObjectName(namespace: namespace ?? self.namespace, name: name)
        try await sendExpectingOK(
            .exchangeDeclare(ExchangeInfo(exchange: exchange, type: type, alternateExchange: alternateExchange)))
    }

    /// Deletes an exchange and its bindings.
    public func deleteExchange(_ name: String, namespace: String? = nil) async throws {
        try await sendExpectingOK(.exchangeDelete(ObjectName(namespace: namespace ?? self.namespace, name: name)))
    }

    /// Every exchange of a namespace.
    public func listExchanges(namespace: String? = nil) async throws -> [ExchangeInfo] {
        let request = Request.exchangeList(namespace ?? self.namespace)
        let response = try await send(request)
        guard case .exchangeList(let list) = response else { throw SkiffClientError.unexpected(response, for: request) }
        return list
    }

    /// Binds a queue to an exchange.
    public func bind(_ binding: BindRequest) async throws { try await sendExpectingOK(.bind(binding)) }

    /// Removes a binding.
    public func unbind(_ binding: BindRequest) async throws { try await sendExpectingOK(.unbind(binding)) }
}

extension ClientCore {
    /// One-shot `clusterInfo` from one address, outside the leader connection.
    func clusterInfoDirect(from address: String) async throws -> ClusterInfo {
        let id = state.withLockedValue { $0.allocateID() }
        let connection = try await WireConnection.connect(
            id: id, address: address, group: group, connectTimeout: .milliseconds(configuration.connectTimeoutMs),
            frameBytesMax: configuration.frameBytesMax, delegate: self)
        defer { connection.close() }
        _ = try await directCall(
            .hello(Hello(role: configuration.role, clientID: configuration.clientID)), on: connection)
        let response = try await directCall(.clusterInfo, on: connection)
        guard case .cluster(let info) = response else {
            throw SkiffClientError.unexpected(response, for: .clusterInfo)
        }
        return info
    }
}
