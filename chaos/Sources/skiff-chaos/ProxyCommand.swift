import ArgumentParser
import ChaosCheck
import Foundation
import NIOPosix

/// `skiff-chaos proxy`: the userspace link proxy on its own, driven by commands on stdin, for testing by hand.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Proxy every directed link between nodes; read 'cut A B', 'delay MS', 'loss PCT', 'heal' on stdin.",
        discussion: """
            Prints one line per link: 'link A->B port P'. Point node A's peer entry for B at port P.
            Commands: cut A B | delay MS | loss PCT | heal | quit.
            """)

    @Option(help: "Real peer ports of nodes 1..N, comma-separated.")
    var peerPorts: String

    func run() async throws {
        let ports = peerPorts.split(separator: ",").compactMap { Int($0) }
        guard ports.count >= 2 else { throw ValidationError("--peer-ports needs at least two ports") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let proxy = LinkProxy(group: group)
        let links = ProxyCommand.allLinks(nodes: ports.count)
        let listening = try await proxy.start(links: links) { ports[$0 - 1] }
        for link in links { Console.out("link \(link) port \(listening[link] ?? 0)") }
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            var rules = proxy.currentRules()
            switch words.first {
            case "cut" where words.count == 3:
                rules.cut.insert(Link(from: Int(words[1]) ?? 0, to: Int(words[2]) ?? 0))
            case "delay" where words.count == 2: rules.delayMs = Int64(words[1]) ?? 0
            case "loss" where words.count == 2: rules.lossPercent = Int(words[1]) ?? 0
            case "heal": rules = LinkRules()
            case "quit": break
            default:
                Console.out("unknown command: \(line)")
                continue
            }
            if words.first == "quit" { break }
            proxy.apply(rules)
            Console.out("ok \(line)")
        }
        await proxy.shutdown()
        try await group.shutdownGracefully()
    }

    /// Every directed link between distinct nodes 1...nodes.
    static func allLinks(nodes: Int) -> [Link] {
        (1...nodes).flatMap { a in (1...nodes).filter { $0 != a }.map { Link(from: a, to: $0) } }
    }
}
