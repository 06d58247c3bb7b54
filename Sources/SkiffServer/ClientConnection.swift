import Logging
import NIOCore
import SkiffRaft
import SkiffWire

/// One client connection: a handshake, then pipelined requests answered in any order, plus pushes
/// (deliveries, checkbacks).
///
/// A malformed, truncated or oversized frame gets an error frame and the connection is closed; the node keeps
/// serving every other client. A connection that sends nothing for `idleTimeout` is closed, which bounds a
/// half frame followed by silence.
///
/// Invariant: runs on the node's event loop (client channels are created on it), so it calls the node directly.
final class ClientConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    /// Requests one connection may have waiting for a result at once; more is a protocol violation.
    static let pendingRequestsMax = 100_000

    let id: UInt64
    unowned let node: Node
    private(set) var channel: (any Channel)?
    private var handshaken = false
    /// The version negotiated by the handshake; it decides which push frames this connection gets.
    private(set) var protocolVersion = WireProtocol.minimumVersion
    private var closing = false
    var pendingRequests = 0
    /// Producer groups this connection registered for checkbacks.
    var producerGroups: Set<String> = []
    private var idleTask: Scheduled<Void>?
    private var lastFrameAt = NIODeadline.now()
    private var dirty = false
    /// Frames written since the last flush, encoded back to back: the socket gets one write per burst instead of
    /// one pipeline pass and one buffer per frame.
    private var outbound: ByteBuffer?
    /// The frame encoder's context. Bytes written from it skip the encoder (they are frames already).
    private var encoderContext: ChannelHandlerContext?
    /// Encoded bytes held before they are handed to the channel (written, not flushed) within one burst.
    static let outboundBytesSoftMax = 256 * 1024
    /// Room reserved for a new burst.
    static let outboundBytesInitial = 16 * 1024
    /// A connection with no complete frame for this long is closed (clients ping when idle).
    let idleTimeout: TimeAmount

    init(id: UInt64, node: Node) {
        self.id = id
        self.node = node
        self.idleTimeout = .milliseconds(Int64(node.config.clientIdleTimeoutMs))
    }

    var isActive: Bool { channel != nil && !closing }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        encoderContext = try? context.pipeline.syncOperations.context(
            handlerType: MessageToByteHandler<WireFrameEncoder>.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoderContext = nil
        outbound = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        channel = context.channel
        node.connectionOpened(self)
        scheduleIdleCheck(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTask?.cancel()
        channel = nil
        node.connectionClosed(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        lastFrameAt = .now()
        let request: Request
        do {
            request = try Request(frame: frame)
        } catch {
            fail(WireError(error), requestID: frame.requestID)
            return
        }
        if !handshaken {
            guard case .hello(let hello) = request else {
                fail(WireError(.handshakeRequired, "the first request must be hello"), requestID: frame.requestID)
                return
            }
            guard let version = hello.negotiatedVersion() else {
                fail(
                    WireError(
                        .unsupportedVersion,
                        "this node speaks versions \(WireProtocol.minimumVersion)...\(WireProtocol.version)"),
                    requestID: frame.requestID)
                return
            }
            handshaken = true
            protocolVersion = version
            reply(frame.requestID, .helloOK(node.helloOK(version: version)))
            return
        }
        guard pendingRequests < Self.pendingRequestsMax else {
            fail(
                WireError(.limitExceeded, "more than \(Self.pendingRequestsMax) requests in flight"),
                requestID: frame.requestID)
            return
        }
        node.handle(request, id: frame.requestID, from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            fail(WireError(frameError), requestID: .none)
        } else {
            node.logger.debug("client connection error", metadata: ["connection": "\(id)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Writes a response; flushed at the end of the read or apply batch.
    func reply(_ requestID: RequestID, _ response: Response) {
        guard channel != nil, !closing else { return }
        write(response.frame(id: requestID))
    }

    /// Writes an unsolicited frame (delivery, checkback, subscription end).
    func push(_ push: Push) {
        guard channel != nil, !closing else { return }
        write(push.frame)
    }

    /// Whether this connection takes `Push.deliveries` (it negotiated protocol version 2 or later).
    var takesDeliveryBatches: Bool { protocolVersion >= WireProtocol.deliveryBatchVersion }

    /// Appends a frame to the burst; frames leave in the order they were written.
    private func write(_ frame: Frame) {
        guard let channel else { return }
        guard encoderContext != nil else {
            channel.write(frame, promise: nil)
            return markDirty()
        }
        if outbound == nil {
            outbound = channel.allocator.buffer(capacity: max(Self.outboundBytesInitial, frame.encodedBytes))
        }
        frame.write(to: &outbound!)
        if outbound!.readableBytes >= Self.outboundBytesSoftMax { writeOutbound() }
        markDirty()
    }

    /// Hands the burst's bytes to the channel (not flushed).
    private func writeOutbound() {
        guard let bytes = outbound else { return }
        outbound = nil
        encoderContext?.write(NIOAny(bytes), promise: nil)
    }

    private func markDirty() {
        guard !dirty else { return }
        dirty = true
        node.dirtyConnections.append(self)
    }

    func flushIfNeeded() {
        guard dirty else { return }
        dirty = false
        writeOutbound()
        channel?.flush()
    }

    /// Sends an error frame and closes the connection (protocol violations).
    func fail(_ error: WireError, requestID: RequestID) {
        guard let channel, !closing else { return }
        closing = true
        writeOutbound()
        node.logger.info("closing client connection", metadata: ["connection": "\(id)", "error": "\(error)"])
        channel.writeAndFlush(Response.error(error).frame(id: requestID)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Closes the connection without an error frame (node shutdown).
    func closeNow() {
        closing = true
        channel?.close(promise: nil)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTask = context.eventLoop.scheduleTask(in: idleTimeout) {
            let connection = bound.value
            guard connection.channel != nil else { return }
            if NIODeadline.now() - connection.lastFrameAt >= connection.idleTimeout {
                connection.fail(
                    WireError(.timeout, "idle for \(connection.idleTimeout.nanoseconds / 1_000_000) ms"),
                    requestID: .none)
            } else if let channel = connection.channel,
                let ctx = try? channel.pipeline.syncOperations.context(handler: connection)
            {
                connection.scheduleIdleCheck(context: ctx)
            }
        }
    }
}
