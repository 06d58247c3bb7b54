import SkiffRaft

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Layered loading: defaults, then the TOML file, then `SKIFF_*` environment variables, then flags.
///
/// Every setting has one key (`raft.tick_interval_ms`). The environment variable is `SKIFF_` plus the key in upper
/// case with dots turned into underscores (`SKIFF_RAFT_TICK_INTERVAL_MS`); the flag is the key's last segment with
/// dashes (`--tick-interval-ms`), which `skiff serve` maps back to the key. Unknown keys are errors everywhere.
extension ServerConfig {
    /// A setting's expected type, used to coerce environment and flag strings.
    enum KeyKind: Sendable {
        case string
        case integer
        case boolean
        case addressList
    }

    /// Every accepted key and its kind.
    static let keys: [String: KeyKind] = [
        "node_id": .integer,
        "data_dir": .string,
        "client_address": .string,
        "peer_address": .string,
        "admin_address": .string,
        "advertise_client_address": .string,
        "peers": .addressList,
        "join": .boolean,
        "log_level": .string,
        "unsafe_bug": .string,
        "raft.tick_interval_ms": .integer,
        "raft.election_timeout_ms": .integer,
        "raft.heartbeat_interval_ms": .integer,
        "raft.idle_tick_interval_ms": .integer,
        "raft.proposal_bytes_max": .integer,
        "raft.proposal_requests_max": .integer,
        "storage.checkpoint_log_bytes": .integer,
        "storage.checkpoint_interval_ms": .integer,
        "storage.log_retain_entries": .integer,
        "storage.segment_bytes": .integer,
        "storage.preallocate_bytes": .integer,
        "storage.snapshot_chunk_bytes": .integer,
        "client.frame_bytes_max": .integer,
        "client.idle_timeout_ms": .integer,
    ]

    /// The environment variable for a key.
    public static func environmentName(forKey key: String) -> String {
        "SKIFF_" + key.uppercased().replacingDots
    }

    /// Loads and validates a configuration.
    ///
    /// - Parameters:
    ///   - fileText: the TOML config file's contents, if a file was given.
    ///   - environment: the process environment (only `SKIFF_*` names matching a key are read).
    ///   - overrides: flag values by key; they win over everything else.
    public static func load(
        fileText: String?, environment: [String: String], overrides: [String: String]
    ) throws(ConfigError) -> ServerConfig {
        var values: [String: TOMLValue] = [:]
        if let fileText {
            let parsed: [String: TOMLValue]
            do { parsed = try TOMLParser.parse(fileText) } catch { throw ConfigError(.toml, error.description) }
            for (key, value) in parsed {
                guard keys[key] != nil else { throw ConfigError(.unknownKey, "unknown key '\(key)' in config file") }
                values[key] = value
            }
        }
        for (key, kind) in keys {
            if let raw = environment[environmentName(forKey: key)] { values[key] = coerce(raw, kind) }
        }
        for (key, raw) in overrides {
            guard let kind = keys[key] else { throw ConfigError(.unknownKey, "unknown setting '\(key)'") }
            values[key] = coerce(raw, kind)
        }
        return try build(Values(values: values))
    }

    /// Reads a file for `load(fileText:...)`, with a typed error.
    public static func readFile(atPath path: String) throws(ConfigError) -> String {
        guard let file = fopen(path, "r") else { throw ConfigError(.file, "cannot open config file \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            guard bytes.count <= TOMLParser.documentBytesMax else {
                throw ConfigError(.file, "config file \(path) is larger than \(TOMLParser.documentBytesMax) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func coerce(_ raw: String, _ kind: KeyKind) -> TOMLValue {
        switch kind {
        case .string: return .string(raw)
        case .integer: return Int64(raw.trimmingSpaces).map(TOMLValue.integer) ?? .string(raw)
        case .boolean:
            switch raw.trimmingSpaces.lowercased() {
            case "true", "1", "yes": return .boolean(true)
            case "false", "0", "no", "": return .boolean(false)
            default: return .string(raw)
            }
        case .addressList:
            return .array(raw.split(separator: ",").map { .string($0.trimmingSpaces) }.filter { $0 != .string("") })
        }
    }

    // swiftlint:disable:next function_body_length
    private static func build(_ v: Values) throws(ConfigError) -> ServerConfig {
        let nodeRaw = try v.integer("node_id", default: nil, range: 1...Int(Int32.max))
        let client = try v.address("client_address", default: "127.0.0.1:7101")
        let peers = try v.peers("peers")
        let ownID = NodeID(UInt64(nodeRaw))
        let ownPeer = peers.first { $0.id == ownID }
        let peerDefault = ownPeer?.peerAddress.description ?? "127.0.0.1:7201"
        var config = ServerConfig(
            nodeID: ownID,
            dataDirectory: try v.string("data_dir", default: nil),
            clientAddress: client,
            peerAddress: try v.address("peer_address", default: peerDefault),
            adminAddress: try v.address("admin_address", default: "127.0.0.1:7301"),
            advertisedClientAddress: try v.address("advertise_client_address", default: client.description),
            peers: peers,
            tickIntervalMs: try v.integer("raft.tick_interval_ms", default: 10, range: 1...1000),
            electionTimeoutMs: try v.integer("raft.election_timeout_ms", default: 300, range: 20...60_000),
            heartbeatIntervalMs: try v.integer("raft.heartbeat_interval_ms", default: 50, range: 1...10_000),
            idleTickIntervalMs: try v.integer("raft.idle_tick_interval_ms", default: 20, range: 1...60_000),
            checkpointLogBytes: try v.integer(
                "storage.checkpoint_log_bytes", default: 64 << 20, range: (1 << 16)...(1 << 40)),
            checkpointIntervalMs: try v.integer(
                "storage.checkpoint_interval_ms", default: 30_000, range: 100...86_400_000),
            logRetainEntries: try v.integer("storage.log_retain_entries", default: 10_000, range: 0...100_000_000),
            segmentBytes: try v.integer("storage.segment_bytes", default: 64 << 20, range: (1 << 16)...(1 << 34)),
            preallocateBytes: try v.integer("storage.preallocate_bytes", default: 1 << 20, range: 0...(1 << 30)),
            snapshotChunkBytes: try v.integer(
                "storage.snapshot_chunk_bytes", default: 1 << 20, range: (1 << 12)...(16 << 20)),
            proposalBytesMax: try v.integer("raft.proposal_bytes_max", default: 4 << 20, range: (1 << 12)...(64 << 20)),
            proposalRequestsMax: try v.integer("raft.proposal_requests_max", default: 4096, range: 1...1_000_000),
            clientFrameBytesMax: try v.integer("client.frame_bytes_max", default: 16 << 20, range: 1024...(256 << 20)),
            clientIdleTimeoutMs: try v.integer("client.idle_timeout_ms", default: 30_000, range: 100...3_600_000),
            join: try v.boolean("join", default: false),
            unsafeBug: nil,
            logLevel: try v.string("log_level", default: "info")
        )
        if let bug = try v.optionalString("unsafe_bug"), !bug.isEmpty {
            guard let parsed = UnsafeBug(rawValue: bug) else {
                let names = UnsafeBug.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError(.badValue, "unsafe_bug '\(bug)' is not one of: \(names)")
            }
            config.unsafeBug = parsed
        }
        try config.validate()
        return config
    }

    /// Cross-field checks.
    func validate() throws(ConfigError) {
        guard !peers.isEmpty else { throw ConfigError(.missing, "peers: the static peer list is empty") }
        guard peers.contains(where: { $0.id == nodeID }) else {
            throw ConfigError(.badValue, "peers: this node's id \(nodeID.rawValue) is not in the peer list")
        }
        guard Set(peers.map(\.id)).count == peers.count else {
            throw ConfigError(.badValue, "peers: a node id appears twice")
        }
        guard heartbeatIntervalMs < electionTimeoutMs else {
            throw ConfigError(.badValue, "raft.heartbeat_interval_ms must be less than raft.election_timeout_ms")
        }
        guard tickIntervalMs <= heartbeatIntervalMs else {
            throw ConfigError(.badValue, "raft.tick_interval_ms must not exceed raft.heartbeat_interval_ms")
        }
        guard !dataDirectory.isEmpty else { throw ConfigError(.missing, "data_dir is empty") }
    }
}

/// Typed accessors over the merged values.
private struct Values {
    var values: [String: TOMLValue]

    func string(_ key: String, default fallback: String?) throws(ConfigError) -> String {
        if let s = try optionalString(key) { return s }
        guard let fallback else { throw ConfigError(.missing, "\(key) is required") }
        return fallback
    }

    func optionalString(_ key: String) throws(ConfigError) -> String? {
        switch values[key] {
        case nil: return nil
        case .string(let s): return s
        case let other?: throw ConfigError(.badValue, "\(key): expected a string, got \(other)")
        }
    }

    func boolean(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        switch values[key] {
        case nil: return fallback
        case .boolean(let b): return b
        case let other?: throw ConfigError(.badValue, "\(key): expected true or false, got \(other)")
        }
    }

    func integer(_ key: String, default fallback: Int?, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let value: Int
        switch values[key] {
        case nil:
            guard let fallback else { throw ConfigError(.missing, "\(key) is required") }
            value = fallback
        case .integer(let i): value = Int(i)
        case let other?: throw ConfigError(.badValue, "\(key): expected an integer, got \(other)")
        }
        guard range.contains(value) else {
            throw ConfigError(.badValue, "\(key) = \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func address(_ key: String, default fallback: String) throws(ConfigError) -> HostPort {
        do { return try HostPort(parsing: try string(key, default: fallback)) } catch {
            throw ConfigError(.badValue, "\(key): \(error.message)")
        }
    }

    func peers(_ key: String) throws(ConfigError) -> [PeerSpec] {
        switch values[key] {
        case nil: throw ConfigError(.missing, "\(key) is required (ID=host:port[/clienthost:port], ...)")
        case .array(let items):
            var result: [PeerSpec] = []
            for item in items {
                guard case .string(let s) = item else { throw ConfigError(.badValue, "\(key): expected strings") }
                result.append(try PeerSpec(parsing: s))
            }
            return result
        case .string(let s):
            return try s.split(separator: ",").map { (p) throws(ConfigError) in try PeerSpec(parsing: String(p)) }
        case let other?: throw ConfigError(.badValue, "\(key): expected a list of peers, got \(other)")
        }
    }
}

extension String {
    fileprivate var replacingDots: String { String(map { $0 == "." ? "_" : $0 }) }
}
