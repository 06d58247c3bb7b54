import ArgumentParser
import ChaosCheck
import Foundation
import NIOPosix

/// `skiff-chaos run`: starts a cluster, runs the workload under a seeded nemesis, heals, drains, checks.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a chaos schedule against a fresh local cluster and check the history.")

    @Option(help: "Number of nodes (3 or 5).")
    var nodes: Int = 3
    @Option(help: "Seed of the fault schedule and of the workload's choices.")
    var seed: UInt64 = 1
    @Option(help: "Workload duration in seconds (faults stop 20 s before it ends).")
    var duration: Int64 = 60
    @Option(help: "Comma-separated faults or groups: kill, pause, partition, net, disk, mixed, or single names.")
    var faults: String = "mixed"
    @Option(help: "Output directory for history.jsonl, verdict.json, summary.txt, plot.html and node logs.")
    var out: String
    @Option(help: "Partition backend: proxy (userspace, no root) or netns (namespaces + iptables, root).")
    var backend: String = "proxy"
    @Option(help: "The skiff binary.")
    var bin: String = ".build/debug/skiff"
    @Option(help: "Test-only server bug to enable (ack-before-fsync, skip-dedup), to prove the checker fails.")
    var unsafeBug: String?
    @Option(help: "Longest allowed window without a successful operation after healing, in ms.")
    var unavailabilityBoundMs: Int64 = 15_000
    @Option(help: "The nodes' election timeout in ms (pauses last at least twice this).")
    var electionTimeoutMs: Int64 = 1_000
    @Option(help: "Operations per second per workload worker.")
    var rate: Int = 20
    @Option(help: "Queue producers, and as many topic producers (more means more writes in flight).")
    var producers: Int = 3
    @Option(help: "Queue lease in ms.")
    var leaseMs: UInt32 = 5_000
    @Option(help: "Path of deploy/netns/hosts (netns backend).")
    var netnsScript: String = "deploy/netns/hosts"

    func validate() throws {
        guard nodes == 3 || nodes == 5 else { throw ValidationError("--nodes must be 3 or 5") }
        guard (20...86_400).contains(duration) else { throw ValidationError("--duration must be 20...86400 s") }
        guard backend == "proxy" || backend == "netns" else { throw ValidationError("--backend is proxy or netns") }
        guard (1...64).contains(producers) else { throw ValidationError("--producers must be 1...64") }
        guard (1...10_000).contains(rate) else { throw ValidationError("--rate must be 1...10000") }
        guard FileManager.default.isExecutableFile(atPath: bin) else {
            throw ValidationError("no executable skiff binary at \(bin) (build it, or pass --bin)")
        }
        _ = try FaultKind.parse(faults)
    }

    /// The command that repeats this run.
    var repeatCommand: String {
        var words = [
            "chaos/run", "--nodes", "\(nodes)", "--seed", "\(seed)", "--duration", "\(duration)", "--faults", faults,
            "--backend", backend, "--bin", bin, "--out", out,
        ]
        if let unsafeBug { words += ["--unsafe-bug", unsafeBug] }
        if rate != 20 { words += ["--rate", "\(rate)"] }
        if producers != 3 { words += ["--producers", "\(producers)"] }
        return words.joined(separator: " ")
    }

    func run() async throws {
        let kinds = try FaultKind.parse(faults)
        let directory = URL(fileURLWithPath: out).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["history.jsonl", "verdict.json", "summary.txt", "plot.html"] {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let environment = Environment(command: self, kinds: kinds, directory: directory, group: group)
        var harnessError: (any Error)?
        do {
            try await environment.setUp()
            try await environment.execute()
        } catch {
            harnessError = error
        }
        await environment.tearDown()
        try? await group.shutdownGracefully()
        if let harnessError {
            Console.err("skiff-chaos: harness error: \(harnessError)")
            Console.err("repeat with: \(repeatCommand)")
            throw ExitCode(2)
        }
        let verdict = try Reports.checkAndWrite(historyPath: directory + "/history.jsonl", directory: directory)
        Console.out(verdict.summary())
        Console.out("history: \(directory)/history.jsonl  plot: \(directory)/plot.html")
        if !verdict.valid {
            Console.err("skiff-chaos: INVALID verdict for seed \(seed); history \(directory)/history.jsonl")
            Console.err("repeat with: \(repeatCommand)")
            throw ExitCode(1)
        }
    }
}
