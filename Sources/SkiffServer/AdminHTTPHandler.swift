import NIOCore
import NIOHTTP1

/// Where the admin endpoints get their data. The node implements it by hopping onto its own event loop.
public protocol AdminStatusSource: Sendable {
    /// A fresh status snapshot.
    func currentStatus() -> EventLoopFuture<NodeStatus>
}

/// Serves `/metrics`, `/healthz`, `/readyz` and `/cluster` over plain HTTP/1.1 (NIOHTTP1, no framework).
///
/// Requests bodies are ignored (all endpoints are GET). Every response closes nothing: keep-alive is honoured.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let source: any AdminStatusSource
    private let metrics: NodeMetrics
    private var head: HTTPRequestHead?

    init(source: any AdminStatusSource, metrics: NodeMetrics) {
        self.source = source
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            route(context: context, head: head)
        }
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard head.method == .GET || head.method == .HEAD else {
            respond(
                context: context, head: head, status: .methodNotAllowed, type: "text/plain",
                body: Array("GET only\n".utf8))
            return
        }
        if path == "/healthz" {
            respond(context: context, head: head, status: .ok, type: "text/plain", body: Array("ok\n".utf8))
            return
        }
        guard ["/metrics", "/readyz", "/cluster"].contains(path) else {
            respond(
                context: context, head: head, status: .notFound, type: "text/plain", body: Array("not found\n".utf8))
            return
        }
        let metrics = self.metrics
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        source.currentStatus().hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            guard case .success(let status) = result else {
                handler.respond(
                    context: context, head: head, status: .serviceUnavailable, type: "text/plain",
                    body: Array("node unavailable\n".utf8))
                return
            }
            switch path {
            case "/metrics":
                handler.respond(
                    context: context, head: head, status: .ok, type: "text/plain; version=0.0.4",
                    body: metrics.render(status))
            case "/readyz":
                let ready = status.isReady
                handler.respond(
                    context: context, head: head, status: ready ? .ok : .serviceUnavailable, type: "text/plain",
                    body: Array((ready ? "ready\n" : "not ready\n").utf8))
            default:
                handler.respond(
                    context: context, head: head, status: .ok, type: "application/json",
                    body: Array((status.clusterJSON + "\n").utf8))
            }
        }
    }

    private func respond(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, type: String, body: [UInt8]
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
