import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SkiffBroker
import SkiffRaft
import SkiffWire

/// A running Skiff node: its listeners (clients, peers, admin HTTP), its Raft shell and its storage.
///
/// Threads: one event loop runs the node and every connection (no hops on the hot path); one disk thread
/// does the log's writes and fsyncs; one more thread writes checkpoints to SQLite.
public final class SkiffNodeServer: Sendable {
    /// How long a leader waits for its leadership transfer before stopping anyway.
    static let shutdownTransferWaitMax = TimeAmount.seconds(3)

    public let config: ServerConfig
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let diskPool: NIOThreadPool
    let checkpointPool: NIOThreadPool
    let metrics: NodeMetrics
    let logger: Logger
    private let nodeBox: NodeHolder

    /// Invariant: `node` and `channels` are read and written only on `loop` (hence `@unchecked Sendable`).
    private final class NodeHolder: @unchecked Sendable {
        var node: Node?
        var channels: [any Channel] = []
    }

    /// Opens storage, recovers, and binds every listener. The node starts ticking right away.
    public static func start(config: ServerConfig, logger: Logger) async throws -> SkiffNodeServer {
        let server = SkiffNodeServer(config: config, logger: logger)
        do {
            try await server.open()
        } catch {
            try? await server.stop()
            throw error
        }
        return server
    }

    private init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
        self.diskPool = NIOThreadPool(numberOfThreads: 1)
        self.checkpointPool = NIOThreadPool(numberOfThreads: 1)
        self.metrics = NodeMetrics()
        self.nodeBox = NodeHolder()
        diskPool.start()
        checkpointPool.start()
    }

    private func open() async throws {
        if let bug = config.unsafeBug {
            for _ in 0..<3 {
                logger.critical(
                    "UNSAFE TEST BUILD BEHAVIOUR ENABLED: \(bug.rawValue). This node breaks its safety guarantees.")
            }
        }
        let opened = try await diskPool.runIfActive {
            UnsafeTransfer(try NodeStorage.open(config: self.config, logger: self.logger))
        }
        let server = self
        try await loop.submit {
            let node = Node(
                config: server.config, loop: server.loop, logger: server.logger, metrics: server.metrics,
                storage: opened.value, diskPool: server.diskPool, checkpointPool: server.checkpointPool)
            server.nodeBox.node = node
            node.start()
        }.get()
        try await bindListeners()
        logger.info(
            "skiff node started",
            metadata: [
                "node": "\(config.nodeID.rawValue)", "client": "\(config.clientAddress)",
                "peer": "\(config.peerAddress)", "admin": "\(config.adminAddress)", "data": "\(config.dataDirectory)",
            ])
    }

    private func bindListeners() async throws {
        let box = nodeBox
        let peer = try await loop.flatSubmit { box.node!.transport.listen(on: self.config.peerAddress) }.get()
        let client = try await bindClientListener()
        let admin = try await bindAdminListener()
        try await loop.submit { box.channels = [peer, client, admin] }.get()
    }

    private func bindClientListener() async throws -> any Channel {
        let box = nodeBox
        let frameBytesMax = config.clientFrameBytesMax
        let counter = ConnectionCounter()
        return try await ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let node = box.node else { throw ChannelError.ioOnClosedChannel }
                    counter.next += 1
                    let handler = ClientConnection(id: counter.next, node: node)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(MessageToByteHandler(WireFrameEncoder()))
                    try sync.addHandler(ByteToMessageHandler(WireFrameDecoder(frameBytesMax: frameBytesMax)))
                    try sync.addHandler(handler)
                }
            }
            .bind(host: config.clientAddress.host, port: config.clientAddress.port).get()
    }

    /// Invariant: touched only on `loop`, where every client channel is initialised.
    private final class ConnectionCounter: @unchecked Sendable { var next: UInt64 = 0 }

    private func bindAdminListener() async throws -> any Channel {
        let source = StatusSource(loop: loop, box: nodeBox)
        let metrics = self.metrics
        return try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(source: source, metrics: metrics))
                }
            }
            .bind(host: config.adminAddress.host, port: config.adminAddress.port).get()
    }

    private struct StatusSource: AdminStatusSource {
        let loop: any EventLoop
        let box: NodeHolder
        func currentStatus() -> EventLoopFuture<NodeStatus> {
            let box = self.box
            return loop.submit {
                guard let node = box.node else { throw ChannelError.ioOnClosedChannel }
                return node.status()
            }
        }
    }

    /// Stops gracefully: a leader hands leadership to the most up-to-date follower first, in-flight disk work
    /// finishes, then listeners close. Nothing acknowledged can be lost: acknowledgements follow fsync.
    public func stop() async throws {
        let box = nodeBox
        let loop = self.loop
        try? await loop.flatSubmit { () -> EventLoopFuture<Void> in
            guard let node = box.node else { return loop.makeSucceededVoidFuture() }
            return node.prepareShutdown(transferWait: Self.shutdownTransferWaitMax)
        }.get()
        try? await loop.flatSubmit { () -> EventLoopFuture<Void> in
            let closes = box.channels.map { $0.close() }
            box.channels = []
            return EventLoopFuture.andAllComplete(closes, on: loop).flatMap {
                box.node?.close() ?? loop.makeSucceededVoidFuture()
            }
        }.get()
        try? await diskPool.shutdownGracefully()
        try? await checkpointPool.shutdownGracefully()
        try await group.shutdownGracefully()
        logger.info("skiff node stopped", metadata: ["node": "\(config.nodeID.rawValue)"])
    }

    /// A status snapshot (for tests and the CLI).
    public func status() async throws -> NodeStatus {
        try await StatusSource(loop: loop, box: nodeBox).currentStatus().get()
    }

    /// `skiff serve`: start, run until SIGTERM or SIGINT, stop gracefully.
    public static func run(config: ServerConfig) async throws {
        LoggingSystem.bootstrap { label in
            var handler = UnbufferedLogHandler(label: label, fileDescriptor: 2)
            handler.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return handler
        }
        var logger = Logger(label: "skiff.node")
        logger[metadataKey: "node"] = "\(config.nodeID.rawValue)"
        let server = try await start(config: config, logger: logger)
        let signal = await waitForTerminationSignal()
        logger.info("received \(signal); shutting down")
        try await server.stop()
    }
}

/// Carries a value built on one thread to the thread that owns it from then on (never shared concurrently).
struct UnsafeTransfer<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// Waits for SIGTERM or SIGINT and returns its name.
func waitForTerminationSignal() async -> String {
    await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
        let queue = DispatchQueue(label: "skiff.signals")
        let once = SignalOnce(continuation)
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { once.fire(name) }
            source.resume()
            once.keep(source)
        }
    }
}

/// Resumes a continuation once, and keeps the signal sources alive.
private final class SignalOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<String, Never>?
    private var sources: [any DispatchSourceSignal] = []
    private let lock = NIOLock()

    init(_ continuation: CheckedContinuation<String, Never>) { self.continuation = continuation }

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }

    func fire(_ name: String) {
        let c = lock.withLock { () -> CheckedContinuation<String, Never>? in
            defer { continuation = nil }
            return continuation
        }
        c?.resume(returning: name)
    }
}
