import ChaosCheck
import Foundation

/// Where one node listens and keeps its data.
struct NodeSpec: Sendable {
    var id: Int
    /// The address clients and the harness use.
    var host: String
    var clientPort: Int
    var peerPort: Int
    var adminPort: Int
    var dataDir: String
    var logPath: String
    /// The network namespace to run in (netns backend), or nil.
    var namespace: String?
    /// The `SKIFF_PEERS` value this node is started with (its view of where the others are).
    var peers: String

    var clientAddress: String { "\(host):\(clientPort)" }
}

/// How the nodes of a run are laid out, for each partition backend.
enum NodeLayout {
    /// Ports and peer lists for the proxy backend: every peer entry of node A for node B points at the proxy
    /// listener of `Link(A, B)`.
    static func proxied(nodes: Int, dir: String, ports: [Int], proxyPorts: [Link: Int]) -> [NodeSpec] {
        (1...nodes).map { id in
            let base = (id - 1) * 3
            let peers = (1...nodes).map { other -> String in
                let client = "127.0.0.1:\(ports[(other - 1) * 3])"
                if other == id { return "\(other)=127.0.0.1:\(ports[base + 1])/\(client)" }
                return "\(other)=127.0.0.1:\(proxyPorts[Link(from: id, to: other)] ?? 0)/\(client)"
            }
            return NodeSpec(
                id: id, host: "127.0.0.1", clientPort: ports[base], peerPort: ports[base + 1],
                adminPort: ports[base + 2], dataDir: "\(dir)/node\(id)", logPath: "\(dir)/node\(id).log",
                namespace: nil, peers: peers.joined(separator: ","))
        }
    }

    /// Fixed ports inside per-node namespaces (each namespace has its own port space).
    static func namespaced(nodes: Int, dir: String, prefix: String, net: String) -> [NodeSpec] {
        let peers = (1...nodes).map { "\($0)=\(net).\($0):7201/\(net).\($0):7101" }.joined(separator: ",")
        return (1...nodes).map { id in
            NodeSpec(
                id: id, host: "\(net).\(id)", clientPort: 7101, peerPort: 7201, adminPort: 7301,
                dataDir: "\(dir)/node\(id)", logPath: "\(dir)/node\(id).log", namespace: "\(prefix)-n\(id)",
                peers: peers)
        }
    }

    /// Reserves `count` distinct free TCP ports on 127.0.0.1 (held open together, then released).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ChaosError("socket() failed: errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    Glibc.bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
                }
            }
            guard bound else { throw ChaosError("cannot reserve a port: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
