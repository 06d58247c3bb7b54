import ChaosCheck
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What the userspace proxy currently does to peer traffic.
struct LinkRules: Sendable, Equatable {
    /// Directed links whose bytes are silently discarded (the connection stays open, like a black hole).
    var cut: Set<Link> = []
    /// Delay added to every chunk on every link.
    var delayMs: Int64 = 0
    /// Percent of chunks that get `retransmitMs` extra delay: what packet loss looks like above TCP.
    var lossPercent: Int = 0
    var retransmitMs: Int64 = 200
}

/// A userspace TCP proxy on every directed peer link. Node `a` reaches node `b` through the listener for
/// `Link(a, b)`; bytes flowing from the accepting side travel `a -> b`, bytes coming back travel `b -> a`.
/// It can cut, delay and "lose" traffic per direction, without root.
///
/// A cut discards bytes rather than closing the connection, so nodes see a silent network, as in a real
/// partition. Because a TCP stream with missing bytes is corrupt, every connection that lost bytes is closed
/// when the cut heals, and the nodes reconnect.
final class LinkProxy: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let rules = NIOLockedValueBox(LinkRules())
    private let connections = NIOLockedValueBox([ObjectIdentifier: ProxiedConnection]())
    private let listeners = NIOLockedValueBox([Channel]())

    init(group: MultiThreadedEventLoopGroup) { self.group = group }

    /// Starts one listener per link on 127.0.0.1 (ephemeral ports); returns each link's listening port.
    func start(links: [Link], targetPort: @Sendable (Int) -> Int) async throws -> [Link: Int] {
        var ports: [Link: Int] = [:]
        for link in links {
            let upstream = try SocketAddress(ipAddress: "127.0.0.1", port: targetPort(link.to))
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.autoRead, value: false)
                .childChannelInitializer { [self] child in
                    child.eventLoop.makeCompletedFuture { self.accepted(child, link: link, upstream: upstream) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            listeners.withLockedValue { $0.append(channel) }
            ports[link] = channel.localAddress?.port ?? 0
        }
        return ports
    }

    /// Replaces the rules. Connections that lost bytes to a cut that is now lifted are closed.
    func apply(_ new: LinkRules) {
        rules.withLockedValue { $0 = new }
        let stale = connections.withLockedValue { all in all.values.filter { $0.shouldReset(cut: new.cut) } }
        for connection in stale { connection.close() }
    }

    func currentRules() -> LinkRules { rules.withLockedValue { $0 } }

    /// Closes every listener and connection.
    func shutdown() async {
        let all = listeners.withLockedValue { channels in
            defer { channels = [] }
            return channels
        }
        for channel in all { try? await channel.close() }
        for connection in connections.withLockedValue({ Array($0.values) }) { connection.close() }
    }

    private func accepted(_ child: Channel, link: Link, upstream: SocketAddress) {
        let connection = ProxiedConnection(link: link, downstream: child)
        let key = ObjectIdentifier(connection)
        connections.withLockedValue { $0[key] = connection }
        child.closeFuture.whenComplete { [self] _ in
            connection.close()
            connections.withLockedValue { $0[key] = nil }
        }
        ClientBootstrap(group: child.eventLoop)
            .connectTimeout(.seconds(2))
            .channelInitializer { [self] upstreamChannel in
                upstreamChannel.eventLoop.makeCompletedFuture {
                    try upstreamChannel.pipeline.syncOperations.addHandler(
                        ForwardHandler(
                            direction: Link(from: link.to, to: link.from), partner: child,
                            connection: connection, rules: rules))
                }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .success(let upstreamChannel):
                    connection.upstream = upstreamChannel
                    let forward = ForwardHandler(
                        direction: link, partner: upstreamChannel, connection: connection, rules: self.rules)
                    try? child.pipeline.syncOperations.addHandler(forward)
                    upstreamChannel.closeFuture.whenComplete { _ in child.close(promise: nil) }
                    child.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in child.close(promise: nil) }
                case .failure:
                    child.close(promise: nil)
                }
            }
    }
}

/// The two channels of one proxied TCP connection, and which directions lost bytes.
final class ProxiedConnection: @unchecked Sendable {
    let link: Link
    let downstream: Channel
    private let state = NIOLockedValueBox<(upstream: Channel?, dropped: Set<Link>)>((nil, []))

    init(link: Link, downstream: Channel) {
        self.link = link
        self.downstream = downstream
    }

    var upstream: Channel? {
        get { state.withLockedValue { $0.upstream } }
        set { state.withLockedValue { $0.upstream = newValue } }
    }

    func noteDropped(_ direction: Link) { state.withLockedValue { _ = $0.dropped.insert(direction) } }

    /// True when bytes were dropped in a direction that is no longer cut: the stream is corrupt.
    func shouldReset(cut: Set<Link>) -> Bool {
        state.withLockedValue { !$0.dropped.subtracting(cut).isEmpty }
    }

    func close() {
        downstream.close(promise: nil)
        upstream?.close(promise: nil)
    }
}

/// Forwards bytes read on one channel to its partner, applying the rules for its direction.
final class ForwardHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let direction: Link
    let partner: Channel
    let connection: ProxiedConnection
    let rules: NIOLockedValueBox<LinkRules>
    /// Deadline of the last delayed chunk, so delayed chunks keep their order.
    private let lastDeadline = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(0))

    init(direction: Link, partner: Channel, connection: ProxiedConnection, rules: NIOLockedValueBox<LinkRules>) {
        self.direction = direction
        self.partner = partner
        self.connection = connection
        self.rules = rules
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = rules.withLockedValue { $0 }
        if now.cut.contains(direction) {
            connection.noteDropped(direction)
            return
        }
        var delayMs = now.delayMs
        if now.lossPercent > 0 && Int.random(in: 0..<100) < now.lossPercent { delayMs += now.retransmitMs }
        let deadline = lastDeadline.withLockedValue { last -> NIODeadline in
            let wanted = NIODeadline.now() + .milliseconds(delayMs)
            last = max(last, wanted)
            return last
        }
        if deadline <= NIODeadline.now() {
            partner.writeAndFlush(buffer, promise: nil)
        } else {
            let partner = self.partner
            partner.eventLoop.scheduleTask(deadline: deadline) { partner.writeAndFlush(buffer, promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
