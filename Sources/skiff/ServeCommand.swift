import ArgumentParser
import SkiffServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `skiff serve`: run one Skiff node until SIGTERM or SIGINT.
///
/// Settings come from defaults, then `--config FILE` (TOML), then `SKIFF_*` environment variables, then these
/// flags. See `docs/architecture.md` and `docs/operations.md` for every key.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a Skiff node.",
        discussion: """
            Every flag has a config-file key and an environment variable: --tick-interval-ms is
            raft.tick_interval_ms in the file and SKIFF_RAFT_TICK_INTERVAL_MS in the environment.
            Peers are ID=PEERHOST:PORT[/CLIENTHOST:PORT], comma-separated; the list bootstraps the cluster.
            """)

    @Option(help: "A TOML config file.") var config: String?
    @Option(help: "This node's id (> 0), present in --peers.") var nodeId: Int?
    @Option(help: "Directory for the log, the checkpoint database and snapshots.") var dataDir: String?
    @Option(help: "Client listener, host:port.") var clientAddress: String?
    @Option(help: "Peer (Raft) listener, host:port.") var peerAddress: String?
    @Option(help: "Admin HTTP listener (/metrics, /healthz, /readyz, /cluster), host:port.") var adminAddress: String?
    @Option(help: "Client address given to clients in NOT_LEADER hints (default: --client-address).")
    var advertiseClientAddress: String?
    @Option(help: "Bootstrap peers: ID=PEERHOST:PORT[/CLIENTHOST:PORT],...") var peers: String?
    @Option(help: "Raft tick length in ms.") var tickIntervalMs: Int?
    @Option(help: "Election timeout in ms.") var electionTimeoutMs: Int?
    @Option(help: "Leader heartbeat interval in ms.") var heartbeatIntervalMs: Int?
    @Option(help: "Idle time after which the leader proposes a clock tick, in ms.") var idleTickIntervalMs: Int?
    @Option(help: "Checkpoint to SQLite after this many log bytes.") var checkpointLogBytes: Int?
    @Option(help: "Checkpoint to SQLite at least this often, in ms.") var checkpointIntervalMs: Int?
    @Option(help: "Log entries kept below a checkpoint for slow followers.") var logRetainEntries: Int?
    @Option(help: "Log segment size in bytes.") var segmentBytes: Int?
    @Option(help: "Bytes of zeros kept ahead of the log's data in its active segment (0: none).")
    var preallocateBytes: Int?
    @Option(help: "Snapshot chunk size in bytes.") var snapshotChunkBytes: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Option(help: "TEST ONLY: run with a deliberate safety bug (ack-before-fsync | skip-dedup).") var unsafeBug: String?

    /// Flag values by config key.
    var overrides: [String: String] {
        let pairs: [(String, String?)] = [
            ("node_id", nodeId.map(String.init)), ("data_dir", dataDir), ("client_address", clientAddress),
            ("peer_address", peerAddress), ("admin_address", adminAddress),
            ("advertise_client_address", advertiseClientAddress), ("peers", peers),
            ("raft.tick_interval_ms", tickIntervalMs.map(String.init)),
            ("raft.election_timeout_ms", electionTimeoutMs.map(String.init)),
            ("raft.heartbeat_interval_ms", heartbeatIntervalMs.map(String.init)),
            ("raft.idle_tick_interval_ms", idleTickIntervalMs.map(String.init)),
            ("storage.checkpoint_log_bytes", checkpointLogBytes.map(String.init)),
            ("storage.checkpoint_interval_ms", checkpointIntervalMs.map(String.init)),
            ("storage.log_retain_entries", logRetainEntries.map(String.init)),
            ("storage.segment_bytes", segmentBytes.map(String.init)),
            ("storage.preallocate_bytes", preallocateBytes.map(String.init)),
            ("storage.snapshot_chunk_bytes", snapshotChunkBytes.map(String.init)),
            ("log_level", logLevel), ("unsafe_bug", unsafeBug),
        ]
        var result: [String: String] = [:]
        for (key, value) in pairs { if let value { result[key] = value } }
        return result
    }

    func run() async throws {
        let serverConfig: ServerConfig
        do {
            let fileText = try config.map { (path) throws(ConfigError) in try ServerConfig.readFile(atPath: path) }
            serverConfig = try ServerConfig.load(
                fileText: fileText, environment: processEnvironment(), overrides: overrides)
        } catch {
            throw ValidationError(error.description)
        }
        try await SkiffNodeServer.run(config: serverConfig)
    }
}

/// The process environment as a dictionary.
func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var cursor = environ
    while let entry = cursor.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        cursor += 1
    }
    return result
}
