import Foundation
import NIOCore
import NIOPosix

/// Asks nodes' admin HTTP endpoint (`GET /cluster`) who leads, with a short timeout per node.
struct AdminProbe: Sendable {
    /// Time allowed for one node to answer.
    static let requestTimeoutMs: Int64 = 500
    /// Largest response accepted.
    static let responseBytesMax = 1 << 20

    let group: MultiThreadedEventLoopGroup

    /// The leader: among nodes that say they lead, the one with the highest term (a partitioned old leader
    /// may still believe it leads); otherwise the leader most nodes report. Nil if none is known.
    func leader(of nodes: [NodeSpec]) async -> Int? {
        var votes: [Int: Int] = [:]
        var claimed: (id: Int, term: Int)?
        for node in nodes {
            guard let json = await get(host: node.host, port: node.adminPort, path: "/cluster"),
                let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            else { continue }
            let term = object["term"] as? Int ?? 0
            if (object["role"] as? String)?.lowercased() == "leader", let id = object["node"] as? Int,
                term > claimed?.term ?? -1
            {
                claimed = (id, term)
            }
            if let id = object["leader"] as? Int { votes[id, default: 0] += 1 }
        }
        return claimed?.id ?? votes.max { $0.value < $1.value }?.key
    }

    /// The body of an HTTP/1.0 GET, or nil on any error or timeout.
    func get(host: String, port: Int, path: String) async -> String? {
        let collector = BodyCollector()
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Self.requestTimeoutMs))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(host: host, port: port).get()
            let request = "GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
            try await channel.writeAndFlush(ByteBuffer(string: request))
            let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Self.requestTimeoutMs)) {
                channel.close(promise: nil)
            }
            try? await channel.closeFuture.get()
            timeout.cancel()
        } catch {
            return nil
        }
        let response = collector.text()
        guard response.hasPrefix("HTTP/1.") && response.contains(" 200 "),
            let split = response.range(of: "\r\n\r\n")
        else { return nil }
        return String(response[split.upperBound...])
    }
}

/// Accumulates everything a connection receives (bounded).
private final class BodyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var bytes: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if bytes.count + buffer.readableBytes > AdminProbe.responseBytesMax {
            context.close(promise: nil)
            return
        }
        bytes.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

    /// Read only after the channel closed, on the caller's task.
    func text() -> String { String(decoding: bytes, as: UTF8.self) }
}
