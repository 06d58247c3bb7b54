import ChaosCheck
import Foundation
import NIOPosix

/// Everything one `run` starts, so that all of it is stopped again whatever happens.
final class Environment: @unchecked Sendable {
    // Invariant: used from the single task running `RunCommand.run`, one call after another.
    let command: RunCommand
    let kinds: [FaultKind]
    let directory: String
    let group: MultiThreadedEventLoopGroup
    private var proxy: LinkProxy?
    private var links: (any LinkBackend)?
    private var processes: NodeProcesses?
    private var namespacePrefix: String?
    private var tmpfsDirs: [String] = []

    /// Time allowed for a fresh cluster, or a healed one, to have a leader.
    static let leaderWaitMs = 30_000

    init(command: RunCommand, kinds: [FaultKind], directory: String, group: MultiThreadedEventLoopGroup) {
        self.command = command
        self.kinds = kinds
        self.directory = directory
        self.group = group
    }

    var diskFaults: Bool { kinds.contains(.diskFull) && getuid() == 0 }

    /// Lays out the nodes, starts the partition backend and the nodes, and waits for a leader.
    func setUp() async throws {
        let count = command.nodes
        let specs: [NodeSpec]
        if command.backend == "netns" {
            guard getuid() == 0 else { throw ChaosError("the netns backend needs root") }
            let prefix = "skc\(getpid() % 10_000)"
            let net = "10.\(77 + Int(getpid() % 100)).0"
            namespacePrefix = prefix
            try? prefix.write(toFile: directory + "/netns.prefix", atomically: true, encoding: .utf8)
            let result = await CommandRunner.run(
                [command.netnsScript, "up", "--nodes", "\(count)", "--prefix", prefix, "--net", net])
            guard result.status == 0 else { throw ChaosError("netns setup failed: \(result.output)") }
            specs = NodeLayout.namespaced(nodes: count, dir: directory, prefix: prefix, net: net)
            links = NamespaceLinks(script: command.netnsScript, prefix: prefix)
        } else {
            let ports = try NodeLayout.freePorts(3 * count)
            let proxy = LinkProxy(group: group)
            self.proxy = proxy
            let proxyPorts = try await proxy.start(links: ProxyCommand.allLinks(nodes: count)) {
                ports[($0 - 1) * 3 + 1]
            }
            specs = NodeLayout.proxied(nodes: count, dir: directory, ports: ports, proxyPorts: proxyPorts)
            links = ProxyLinks(proxy: proxy)
        }
        for spec in specs {
            try? FileManager.default.removeItem(atPath: spec.dataDir)
            try? FileManager.default.removeItem(atPath: spec.logPath)
            if diskFaults {
                try await DiskFiller.mount(spec.dataDir)
                tmpfsDirs.append(spec.dataDir)
            }
        }
        var extra: [String: String] = [:]
        if let bug = command.unsafeBug { extra["SKIFF_UNSAFE_BUG"] = bug }
        let processes = NodeProcesses(specs: specs, binary: command.bin, extraEnvironment: extra)
        self.processes = processes
        for spec in specs { try await processes.start(spec.id) }
        guard await waitForLeader(specs) != nil else {
            throw ChaosError("no leader within \(Self.leaderWaitMs) ms; see \(directory)/node*.log")
        }
    }

    /// Polls the admin endpoints until a leader is known.
    func waitForLeader(_ specs: [NodeSpec]) async -> Int? {
        let probe = AdminProbe(group: group)
        let deadline = ContinuousClock.now + .milliseconds(Self.leaderWaitMs)
        while ContinuousClock.now < deadline {
            if let leader = await probe.leader(of: specs) { return leader }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Workload and nemesis side by side, then heal, drain, and close the history.
    func execute() async throws {
        guard let processes, let links else { throw ChaosError("environment not set up") }
        let specs = processes.specs
        let meta = HistoryMeta(
            seed: command.seed, nodes: command.nodes, faults: kinds.map(\.rawValue), leaseMs: Int64(command.leaseMs),
            unavailabilityBoundMs: command.unavailabilityBoundMs, command: command.repeatCommand)
        let start = ContinuousClock.now
        let recorder = try HistoryRecorder(path: directory + "/history.jsonl", meta: meta, start: start)
        var config = WorkloadConfig(seed: command.seed, seeds: specs.map(\.clientAddress))
        config.opsPerSecond = command.rate
        config.queueProducers = command.producers
        config.topicProducers = command.producers
        config.leaseMs = command.leaseMs
        let context = WorkloadContext(config: config, recorder: recorder)
        try await Workload.prepare(context)
        let steps = NemesisSchedule.make(
            seed: command.seed, nodes: command.nodes, faults: kinds, durationMs: command.duration * 1_000,
            electionTimeoutMs: command.electionTimeoutMs)
        let nemesis = Nemesis(
            steps: steps, nodes: processes, links: links, probe: AdminProbe(group: group), recorder: recorder,
            nodeCount: command.nodes, diskFaults: diskFaults)
        let deadline = start + .seconds(command.duration)
        Console.out(
            "skiff-chaos: \(command.nodes) nodes, seed \(command.seed), \(steps.count) fault windows, "
                + "\(command.duration) s, backend \(links.name)")
        let watcher = Task { [group] in await Self.watchLeader(specs, probe: AdminProbe(group: group), recorder) }
        async let faults: Void = nemesis.run(start: start)
        await Workload.withDeadline(deadline) { await Workload.run(context, until: deadline) }
        await faults
        await nemesis.healAll()
        _ = await waitForLeader(specs)
        Console.out("skiff-chaos: healed; draining")
        await Workload.drain(context)
        watcher.cancel()
        await watcher.value
        await recorder.close()
    }

    /// How often the leader watcher asks the nodes who leads.
    static let leaderPollMs = 100

    /// Records every leader change the harness sees, until cancelled: consumers connected to an old leader
    /// lose their connection, which explains redeliveries.
    static func watchLeader(_ specs: [NodeSpec], probe: AdminProbe, _ recorder: HistoryRecorder) async {
        var current: Int?
        while !Task.isCancelled {
            let leader = await probe.leader(of: specs)
            if let leader, leader != current {
                var event = HistoryEvent(type: .ok, t: 0, op: .leader, process: -1)
                event.node = leader
                event.detail = current.map { "from \($0)" }
                await recorder.record(event)
                current = leader
            }
            try? await Task.sleep(for: .milliseconds(leaderPollMs))
        }
    }

    /// Stops nodes, proxies, namespaces and tmpfs mounts. Safe to call after a partial set-up.
    func tearDown() async {
        if let processes { await processes.stopAll() }
        if let proxy { await proxy.shutdown() }
        if let prefix = namespacePrefix {
            _ = await CommandRunner.run([command.netnsScript, "down", "--prefix", prefix])
            try? FileManager.default.removeItem(atPath: directory + "/netns.prefix")
        }
        for dir in tmpfsDirs { await DiskFiller.unmount(dir) }
    }
}
