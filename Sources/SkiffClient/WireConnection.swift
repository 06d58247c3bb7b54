import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SkiffWire

/// Receives everything one connection reports, on the connection's event loop.
protocol WireConnectionDelegate: AnyObject, Sendable {
    /// A response arrived for `requestID`.
    func connection(_ connection: WireConnection, received response: Response, for requestID: RequestID)
    /// The server pushed a message.
    func connection(_ connection: WireConnection, received push: Push)
    /// The connection closed (for any reason); called exactly once.
    func connectionClosed(_ connection: WireConnection, error: (any Error)?)
}

/// One TCP connection to one node: frames out, frames in, nothing else. Request bookkeeping lives in
/// `ClientCore`, so requests can outlive the connection they were first sent on.
final class WireConnection: Sendable, CustomStringConvertible {
    /// A process-unique number for logs and for matching stale callbacks.
    let id: UInt64
    /// `host:port` this connection goes to.
    let address: String
    let channel: any Channel
    /// Touched only on the channel's event loop.
    private let handler: WireClientHandler
    /// Frames sent and not yet handed to the event loop. One event-loop task takes every frame queued by then,
    /// so a burst of pipelined requests costs one task and one flush instead of one of each per frame.
    private let outbox = NIOLockedValueBox<[Frame]>([])

    private init(id: UInt64, address: String, channel: any Channel, handler: WireClientHandler) {
        self.id = id
        self.address = address
        self.channel = channel
        self.handler = handler
    }

    var description: String { "connection#\(id)(\(address))" }

    /// Connects to `address` and installs the frame codec. The delegate hears of every frame.
    static func connect(
        id: UInt64, address: String, group: any EventLoopGroup, connectTimeout: TimeAmount,
        frameBytesMax: Int, delegate: any WireConnectionDelegate
    ) async throws -> WireConnection {
        let (host, port) = try parseAddress(address)
        let box = ConnectionBox()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = WireClientHandler(box: box, delegate: delegate)
                    box.handler = handler
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(WireFrameDecoder(frameBytesMax: frameBytesMax)),
                        MessageToByteHandler(WireFrameEncoder()), handler,
                    ])
                }
            }
            .connect(host: host, port: port).get()
        let handler = try await channel.eventLoop.submit { box.handler! }.get()
        let connection = WireConnection(id: id, address: address, channel: channel, handler: handler)
        try await channel.eventLoop.submit {
            box.connection = connection
            // A channel that closed before this point never reported it; report it now as a failed connect.
            guard channel.isActive else { throw SkiffClientError(.connectionLost) }
        }.get()
        return connection
    }

    /// Queues a frame; frames queued before the event loop gets to them are written with one flush.
    ///
    /// Frames reach the socket in the order `send` was called (the outbox is FIFO, and only the task that
    /// found it empty schedules a drain).
    func send(_ frame: Frame) {
        let firstQueued = outbox.withLockedValue { frames -> Bool in
            frames.append(frame)
            return frames.count == 1
        }
        guard firstQueued else { return }
        channel.eventLoop.execute { [handler, outbox] in
            let frames = outbox.withLockedValue { frames -> [Frame] in
                defer { frames = [] }
                return frames
            }
            handler.write(frames)
        }
    }

    /// Closes the connection; the delegate hears `connectionClosed`.
    func close() { channel.close(mode: .all, promise: nil) }

    /// Splits `host:port` (IPv6 as `[::1]:port`).
    static func parseAddress(_ address: String) throws(SkiffClientError) -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            port > 0, port < 65536
        else { throw SkiffClientError(.invalidArgument("address \(address) is not host:port")) }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw SkiffClientError(.invalidArgument("address \(address) has no host")) }
        return (host, port)
    }
}

/// Lets the handler, created before the connection object exists, find it. Only touched on the event loop.
final class ConnectionBox: @unchecked Sendable {
    var connection: WireConnection?
    var handler: WireClientHandler?
}

/// The last handler in a client pipeline: decodes frames into responses and pushes, coalesces flushes.
final class WireClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private let box: ConnectionBox
    private let delegate: any WireConnectionDelegate
    private var context: ChannelHandlerContext?
    /// The frame encoder's context: bytes written from it skip the encoder (they are frames already).
    private var encoderContext: ChannelHandlerContext?
    private var closedReported = false
    private var closeError: (any Error)?

    init(box: ConnectionBox, delegate: any WireConnectionDelegate) {
        self.box = box
        self.delegate = delegate
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        encoderContext = try? context.pipeline.syncOperations.context(
            handlerType: MessageToByteHandler<WireFrameEncoder>.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        encoderContext = nil
    }

    /// Writes frames in order, encoded into one buffer, and flushes once.
    func write(_ frames: [Frame]) {
        guard let context else { return }
        guard let encoderContext else {
            for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
            return context.flush()
        }
        var bytes = context.channel.allocator.buffer(capacity: frames.reduce(0) { $0 + $1.encodedBytes })
        for frame in frames { frame.write(to: &bytes) }
        encoderContext.writeAndFlush(NIOAny(bytes), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let connection = box.connection else { return }
        do {
            switch frame.kind {
            case .response: delegate.connection(connection, received: try Response(frame: frame), for: frame.requestID)
            case .push: delegate.connection(connection, received: try Push(frame: frame))
            case .request, .peer: throw FrameError(.unknownKind(frame.kind.rawValue))
            }
        } catch {
            closeError = SkiffClientError(.protocolViolation("undecodable frame from server: \(error)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeError == nil { closeError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reportClosed()
        context.fireChannelInactive()
    }

    private func reportClosed() {
        guard !closedReported, let connection = box.connection else { return }
        closedReported = true
        delegate.connectionClosed(connection, error: closeError)
    }
}
