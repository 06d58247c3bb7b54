import Logging
import NIOCore
import NIOPosix
import SkiffRaft

/// What the peer transport tells the node. Called on the node's event loop.
protocol PeerTransportDelegate: AnyObject {
    /// A Raft message frame arrived from `from`.
    func peerTransport(received frame: ByteBuffer, from: NodeID)
    /// A peer introduced itself on an inbound link (it tells us its client address for NOT_LEADER hints).
    func peerTransport(helloFrom: NodeID, clientAddress: String)
}

/// The node-to-node links. Each node dials every other node and only *sends* on the links it dialed; it only
/// *receives* on links others dialed. That keeps each TCP stream one-directional and avoids dial races.
///
/// Invariant: every method runs on `loop` (the node's event loop); nothing here is shared across threads.
final class PeerTransport {
    static let helloMagic: UInt32 = 0x534B_5031  // "SKP1"
    static let helloVersion: UInt16 = 1
    /// The largest peer frame: an AppendEntries batch or a snapshot chunk with headroom.
    static let frameBytesMax = 128 << 20
    /// Bytes queued on one outbound link before further messages are dropped (Raft resends what is lost).
    static let outboundQueuedBytesMax = 64 << 20
    static let reconnectDelayMin = TimeAmount.milliseconds(20)
    static let reconnectDelayMax = TimeAmount.milliseconds(500)
    /// How long an outbound link may hold unacknowledged data before the kernel drops it (`TCP_USER_TIMEOUT`).
    /// Over a cut link TCP backs off its retransmissions exponentially, so without a bound a link that healed
    /// could wait seconds for its next retransmission; a dropped link is redialed within `reconnectDelayMax`.
    static let unacknowledgedTimeoutMs = 1_500
    /// Linux `TCP_USER_TIMEOUT` (not exported by NIO).
    static let tcpUserTimeoutOption = NIOBSDSocket.Option(rawValue: 18)

    let loop: any EventLoop
    let selfID: NodeID
    let advertisedClientAddress: String
    weak var delegate: (any PeerTransportDelegate)?
    var logger: Logger
    private var links: [NodeID: OutboundLink] = [:]
    private(set) var inboundCount = 0
    private var serverChannel: (any Channel)?
    private var closed = false

    init(loop: any EventLoop, selfID: NodeID, advertisedClientAddress: String, logger: Logger) {
        self.loop = loop
        self.selfID = selfID
        self.advertisedClientAddress = advertisedClientAddress
        self.logger = logger
    }

    /// Number of outbound links currently connected.
    var connectedCount: Int { links.values.filter { $0.channel != nil }.count }

    /// Binds the peer listener.
    func listen(on address: HostPort) -> EventLoopFuture<any Channel> {
        let bound = NIOLoopBound(self, eventLoop: loop)
        return ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = InboundPeerHandler(transport: bound.value)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthPrefixedFrameDecoder(frameBytesMax: Self.frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: address.host, port: address.port)
            .map { channel in
                bound.value.serverChannel = channel
                return channel
            }
    }

    /// Sets the peers to dial. Links to nodes no longer listed are closed.
    func setPeers(_ peers: [NodeID: HostPort]) {
        loop.preconditionInEventLoop()
        for (id, link) in links where peers[id] == nil || peers[id] != link.address {
            link.close()
            links[id] = nil
        }
        for (id, address) in peers where id != selfID && links[id] == nil {
            let link = OutboundLink(transport: self, peer: id, address: address)
            links[id] = link
            link.connect()
        }
    }

    /// Queues one frame to `to`; written on the next `flush()`. Dropped if the link is down or over its bound.
    func send(to: NodeID, _ write: (inout ByteBuffer) -> Void) {
        guard let link = links[to], let channel = link.channel else { return }
        // Over the high water mark the peer is not keeping up: drop, and let Raft resend.
        guard channel.isWritable else { return }
        var buffer = channel.allocator.buffer(capacity: 256)
        buffer.writeLengthPrefixedFrame(write)
        link.dirty = true
        channel.write(buffer, promise: nil)
    }

    /// Flushes every link written to since the last flush.
    func flush() {
        for link in links.values where link.dirty {
            link.dirty = false
            link.channel?.flush()
        }
    }

    /// True when the outbound link to `peer` is connected.
    func isConnected(_ peer: NodeID) -> Bool { links[peer]?.channel != nil }

    func close() -> EventLoopFuture<Void> {
        closed = true
        for link in links.values { link.close() }
        links = [:]
        return serverChannel?.close() ?? loop.makeSucceededVoidFuture()
    }

    fileprivate var isClosed: Bool { closed }

    fileprivate func inboundOpened() { inboundCount += 1 }
    fileprivate func inboundClosed() { inboundCount -= 1 }

    fileprivate func writeHello(into buffer: inout ByteBuffer) {
        buffer.writeLengthPrefixedFrame { b in
            b.writeInteger(Self.helloMagic)
            b.writeInteger(Self.helloVersion)
            b.writeInteger(selfID.rawValue)
            let address = Array(advertisedClientAddress.utf8.prefix(Int(UInt16.max)))
            b.writeInteger(UInt16(address.count))
            b.writeBytes(address)
        }
    }
}

/// One dialed link to a peer, with reconnect and backoff.
private final class OutboundLink {
    unowned let transport: PeerTransport
    let peer: NodeID
    let address: HostPort
    var channel: (any Channel)?
    var dirty = false
    var delay = PeerTransport.reconnectDelayMin
    var closed = false

    init(transport: PeerTransport, peer: NodeID, address: HostPort) {
        self.transport = transport
        self.peer = peer
        self.address = address
    }

    func connect() {
        guard !closed, !transport.isClosed else { return }
        let loop = transport.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        var bootstrap = ClientBootstrap(group: loop)
        #if os(Linux)
            bootstrap = bootstrap.channelOption(
                ChannelOptions.Types.SocketOption(level: .tcp, name: PeerTransport.tcpUserTimeoutOption),
                value: PeerTransport.unacknowledgedTimeoutMs)
        #endif
        bootstrap
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.connectTimeout, value: .milliseconds(500))
            .channelOption(
                .writeBufferWaterMark,
                value: .init(low: PeerTransport.outboundQueuedBytesMax / 2, high: PeerTransport.outboundQueuedBytesMax)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Outbound links only send; anything read is discarded.
                    try channel.pipeline.syncOperations.addHandler(DiscardInboundHandler())
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { result in bound.value.connected(result) }
    }

    private func connected(_ result: Result<any Channel, any Error>) {
        switch result {
        case .success(let channel):
            guard !closed else {
                channel.close(promise: nil)
                return
            }
            var hello = channel.allocator.buffer(capacity: 64)
            transport.writeHello(into: &hello)
            channel.writeAndFlush(hello, promise: nil)
            self.channel = channel
            delay = PeerTransport.reconnectDelayMin
            transport.logger.debug("peer link up", metadata: ["peer": "\(peer)", "address": "\(address)"])
            let bound = NIOLoopBound(self, eventLoop: transport.loop)
            channel.closeFuture.whenComplete { _ in
                let link = bound.value
                link.channel = nil
                link.scheduleReconnect()
            }
        case .failure:
            scheduleReconnect()
        }
    }

    private func scheduleReconnect() {
        guard !closed, !transport.isClosed else { return }
        let bound = NIOLoopBound(self, eventLoop: transport.loop)
        let wait = delay
        delay = min(delay * 2, PeerTransport.reconnectDelayMax)
        transport.loop.scheduleTask(in: wait) { bound.value.connect() }
    }

    func close() {
        closed = true
        channel?.close(promise: nil)
        channel = nil
    }
}

private final class DiscardInboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Reads frames from a peer that dialed us: a hello first, then Raft messages.
private final class InboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let transport: PeerTransport
    var peer: NodeID?

    init(transport: PeerTransport) { self.transport = transport }

    func channelActive(context: ChannelHandlerContext) {
        transport.inboundOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        transport.inboundClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let peer else {
            guard frame.readInteger(as: UInt32.self) == PeerTransport.helloMagic,
                frame.readInteger(as: UInt16.self) == PeerTransport.helloVersion,
                let id = frame.readInteger(as: UInt64.self), id != 0,
                let length = frame.readInteger(as: UInt16.self),
                let address = frame.readString(length: Int(length))
            else {
                transport.logger.warning(
                    "bad peer hello; closing", metadata: ["remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            }
            self.peer = NodeID(id)
            transport.delegate?.peerTransport(helloFrom: NodeID(id), clientAddress: address)
            return
        }
        transport.delegate?.peerTransport(received: frame, from: peer)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        transport.logger.warning("peer link error; closing", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
