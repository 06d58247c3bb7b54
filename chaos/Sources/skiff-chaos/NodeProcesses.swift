import Foundation

/// Starts, kills, pauses and restarts the `skiff serve` processes of a run. Every process it starts, it stops.
actor NodeProcesses {
    /// How long a node gets to exit after SIGTERM before it is killed.
    static let stopGraceMs = 5_000

    let specs: [NodeSpec]
    let binary: String
    let extraEnvironment: [String: String]
    private var processes: [Int: Process] = [:]
    private var paused: Set<Int> = []

    init(specs: [NodeSpec], binary: String, extraEnvironment: [String: String]) {
        self.specs = specs
        self.binary = binary
        self.extraEnvironment = extraEnvironment
    }

    func spec(_ id: Int) -> NodeSpec { specs[id - 1] }

    /// Node ids whose process is alive (paused ones included).
    func running() -> [Int] { specs.map(\.id).filter { processes[$0]?.isRunning == true } }

    /// Starts node `id` unless it is already running.
    func start(_ id: Int) throws {
        if processes[id]?.isRunning == true { return }
        let node = spec(id)
        try FileManager.default.createDirectory(atPath: node.dataDir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: node.logPath) {
            _ = FileManager.default.createFile(atPath: node.logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: node.logPath))
        log.seekToEndOfFile()
        let process = Process()
        if let namespace = node.namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", namespace, binary, "serve"]
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve"]
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SKIFF_NODE_ID"] = String(id)
        environment["SKIFF_DATA_DIR"] = node.dataDir
        environment["SKIFF_PEERS"] = node.peers
        environment["SKIFF_CLIENT_ADDRESS"] = "\(node.namespace == nil ? node.host : "0.0.0.0"):\(node.clientPort)"
        environment["SKIFF_ADVERTISE_CLIENT_ADDRESS"] = node.clientAddress
        environment["SKIFF_PEER_ADDRESS"] = "\(node.namespace == nil ? node.host : "0.0.0.0"):\(node.peerPort)"
        environment["SKIFF_ADMIN_ADDRESS"] = "\(node.namespace == nil ? node.host : "0.0.0.0"):\(node.adminPort)"
        environment.merge(extraEnvironment) { _, new in new }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        processes[id] = process
        // For chaos/run's clean-up if the harness itself is killed: it stops exactly these pids.
        try? String(process.processIdentifier).write(
            toFile: node.dataDir + ".pid", atomically: true, encoding: .utf8)
        paused.remove(id)
    }

    /// SIGKILL, then waits (bounded) until the process is gone.
    func kill(_ id: Int) async {
        guard let process = processes[id], process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        paused.remove(id)
        await waitExit(process, ms: Self.stopGraceMs)
    }

    func pause(_ id: Int) {
        guard let process = processes[id], process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGSTOP)
        paused.insert(id)
    }

    func resume(_ id: Int) {
        guard let process = processes[id], process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
        paused.remove(id)
    }

    /// Resumes paused nodes and starts dead ones: the "heal everything" step at the end of a run.
    func reviveAll() throws {
        for id in specs.map(\.id) {
            if paused.contains(id) { resume(id) }
            if processes[id]?.isRunning != true { try start(id) }
        }
    }

    /// SIGCONT and SIGTERM to every node, then SIGKILL to any still alive after the grace period.
    func stopAll() async {
        for (_, process) in processes where process.isRunning {
            Glibc.kill(process.processIdentifier, SIGCONT)
            Glibc.kill(process.processIdentifier, SIGTERM)
        }
        for (_, process) in processes {
            await waitExit(process, ms: Self.stopGraceMs)
            if process.isRunning {
                Glibc.kill(process.processIdentifier, SIGKILL)
                await waitExit(process, ms: Self.stopGraceMs)
            }
        }
        paused.removeAll()
        for spec in specs { try? FileManager.default.removeItem(atPath: spec.dataDir + ".pid") }
    }

    private func waitExit(_ process: Process, ms: Int) async {
        let deadline = ContinuousClock.now + .milliseconds(ms)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
