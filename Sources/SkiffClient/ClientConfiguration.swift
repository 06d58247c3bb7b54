import SkiffWire

extension SkiffClient {
    /// Tunables of a client. Every bound has its unit in its name.
    public struct Configuration: Sendable {
        /// A name for server logs and metrics.
        public var clientID: String
        /// What the connection is for (the CLI says `.admin`).
        public var role: ClientRole
        /// The namespace calls use when they are not given one.
        public var defaultNamespace: String
        /// A call fails with `.timeout` (sent) or `.unavailable` (never reached a leader) after this long,
        /// retries and failovers included.
        public var requestTimeoutMs: Int64
        /// Bound on establishing one TCP connection.
        public var connectTimeoutMs: Int64
        /// Bound on the handshake and discovery round trips of a new connection.
        public var handshakeTimeoutMs: Int64
        /// First reconnect delay; doubled on every failed round up to `reconnectBackoffMaxMs`.
        public var reconnectBackoffInitialMs: Int64
        /// Largest reconnect delay.
        public var reconnectBackoffMaxMs: Int64
        /// Largest frame this client accepts from the server.
        public var frameBytesMax: Int
        /// Calls in flight (sent or waiting to be resent) allowed at once; more fail with `.invalidArgument`.
        public var pendingCallsMax: Int
        /// The leader connection is pinged this often, so servers do not close it as idle and a dead peer
        /// (no answer within `handshakeTimeoutMs`) is noticed without waiting for TCP.
        public var pingIntervalMs: Int64

        /// Creates a configuration with production defaults.
        public init(
            clientID: String = "skiff-swift", role: ClientRole = .client, defaultNamespace: String = "default",
            requestTimeoutMs: Int64 = 30_000, connectTimeoutMs: Int64 = 1_000, handshakeTimeoutMs: Int64 = 2_000,
            reconnectBackoffInitialMs: Int64 = 10, reconnectBackoffMaxMs: Int64 = 200,
            frameBytesMax: Int = WireProtocol.frameBytesMaxDefault, pendingCallsMax: Int = 1_000_000,
            pingIntervalMs: Int64 = 5_000
        ) {
            self.clientID = clientID
            self.role = role
            self.defaultNamespace = defaultNamespace
            self.requestTimeoutMs = requestTimeoutMs
            self.connectTimeoutMs = connectTimeoutMs
            self.handshakeTimeoutMs = handshakeTimeoutMs
            self.reconnectBackoffInitialMs = reconnectBackoffInitialMs
            self.reconnectBackoffMaxMs = reconnectBackoffMaxMs
            self.frameBytesMax = frameBytesMax
            self.pendingCallsMax = pendingCallsMax
            self.pingIntervalMs = pingIntervalMs
        }
    }
}

/// Bounded exponential backoff with jitter (client side: unseeded randomness is fine here).
struct Backoff: Sendable {
    let initialMs: Int64
    let maxMs: Int64
    private var nextMs: Int64

    init(initialMs: Int64, maxMs: Int64) {
        precondition(initialMs > 0 && maxMs >= initialMs, "backoff bounds \(initialMs)...\(maxMs)")
        self.initialMs = initialMs
        self.maxMs = maxMs
        self.nextMs = initialMs
    }

    /// The next delay: uniformly in [d/2, d] where d doubles each call up to the maximum.
    mutating func next() -> Int64 {
        let delay = nextMs
        nextMs = min(nextMs * 2, maxMs)
        return delay / 2 + Int64.random(in: 0...max(delay / 2, 1))
    }

    mutating func reset() { nextMs = initialMs }
}

extension Request {
    /// Whether the client may resend this request after a connection broke with its outcome unknown.
    /// NOT_LEADER answers are always retried: a follower executed nothing.
    var isSafeToResend: Bool {
        switch self {
        case .publish(let p): return p.producer != nil
        case .produce(let p): return p.producer != nil
        case .ping, .clusterInfo, .namespaceList, .queueStats, .queueList, .exchangeList, .topicList, .fetch,
            .groupOffsets, .queueDeclare, .exchangeDeclare, .bind, .unbind, .namespaceCreate, .topicCreate,
            .ack, .nack, .reject, .extendLease, .groupHeartbeat, .commitOffsets, .resetOffsets, .allocateProducer,
            .halfResolve, .setPrefetch:
            return true
        default: return false
        }
    }
}
