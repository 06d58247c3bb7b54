import ChaosCheck
import NIOCore
import NIOPosix
import Testing

@testable import skiff_chaos

/// Echoes every byte back, so a round trip through the proxy crosses both directions of a link.
private final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// Collects what a client connection receives.
private final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    // Invariant: touched only on the channel's event loop, and read after waiting on that loop.
    var received = ""
    var closed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) { closed = true }
}

@Suite("Userspace link proxy", .serialized)
struct LinkProxyTests {
    /// Starts an echo server as "node 2", a proxy for link 1->2, and a client as "node 1".
    private func withLink(_ body: (LinkProxy, Channel, Collector) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let echoPort = echo.localAddress?.port ?? 0
        let proxy = LinkProxy(group: group)
        let ports = try await proxy.start(links: [Link(from: 1, to: 2)]) { _ in echoPort }
        let collector = Collector()
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: ports[Link(from: 1, to: 2)] ?? 0).get()
        try await body(proxy, client, collector)
        try? await client.close()
        await proxy.shutdown()
        try? await echo.close()
        try await group.shutdownGracefully()
    }

    private func send(_ client: Channel, _ text: String) async throws {
        try await client.writeAndFlush(ByteBuffer(string: text))
    }

    private func received(_ client: Channel, _ collector: Collector) async throws -> String {
        try await client.eventLoop.submit { collector.received }.get()
    }

    /// Bytes cross an uncut link both ways; a cut in either direction stops the round trip.
    @Test func cutEitherDirectionStopsRoundTrip() async throws {
        try await withLink { proxy, client, collector in
            try await send(client, "a")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await received(client, collector) == "a")
            proxy.apply(LinkRules(cut: [Link(from: 2, to: 1)]))
            try await send(client, "b")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await received(client, collector) == "a")
        }
    }

    /// Healing a cut that dropped bytes closes the connection, since the stream is no longer intact.
    @Test func healResetsConnectionsThatLostBytes() async throws {
        try await withLink { proxy, client, collector in
            proxy.apply(LinkRules(cut: [Link(from: 1, to: 2)]))
            try await send(client, "lost")
            try await Task.sleep(for: .milliseconds(200))
            proxy.apply(LinkRules())
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await client.eventLoop.submit { collector.closed }.get())
            #expect(try await received(client, collector) == "")
        }
    }

    /// Delay applies to each direction, keeps order, and is gone after healing.
    @Test func delayKeepsOrder() async throws {
        try await withLink { proxy, client, collector in
            proxy.apply(LinkRules(delayMs: 150))
            let start = ContinuousClock.now
            try await send(client, "1")
            try await send(client, "2")
            while try await received(client, collector).count < 2 && ContinuousClock.now - start < .seconds(3) {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            #expect(try await received(client, collector) == "12")
        }
    }
}

@Suite("Node layout")
struct NodeLayoutTests {
    /// With the proxy backend each node reaches every other node through that pair's proxy port, and itself
    /// at its own peer port; client addresses are direct.
    @Test func proxiedPeerLists() throws {
        let ports = Array(10_001...10_009)
        var proxies: [Link: Int] = [:]
        for link in ProxyCommand.allLinks(nodes: 3) { proxies[link] = 20_000 + link.from * 10 + link.to }
        let specs = NodeLayout.proxied(nodes: 3, dir: "/d", ports: ports, proxyPorts: proxies)
        #expect(
            specs[1].peers == "1=127.0.0.1:20021/127.0.0.1:10001,2=127.0.0.1:10005/127.0.0.1:10004,"
                + "3=127.0.0.1:20023/127.0.0.1:10007")
        #expect(specs[2].clientAddress == "127.0.0.1:10007")
        #expect(specs[0].adminPort == 10_003)
    }

    /// Reserved ports are distinct.
    @Test func freePortsAreDistinct() throws {
        let ports = try NodeLayout.freePorts(15)
        #expect(Set(ports).count == 15)
        #expect(ports.allSatisfy { $0 > 0 })
    }
}
