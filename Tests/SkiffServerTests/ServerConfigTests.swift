import SkiffRaft
import Testing

@testable import SkiffServer

private let peerList = "1=127.0.0.1:7201/127.0.0.1:7101,2=127.0.0.1:7202/127.0.0.1:7102,3=127.0.0.1:7203"

@Suite struct ServerConfigTests {
    /// Flags beat environment variables, which beat the file, which beats the defaults.
    @Test func layersInPrecedenceOrder() throws {
        let file = """
            node_id = 1
            data_dir = "/file"
            peers = ["1=127.0.0.1:7201", "2=127.0.0.1:7202", "3=127.0.0.1:7203"]
            [raft]
            tick_interval_ms = 5
            election_timeout_ms = 500
            """
        let env = ["SKIFF_DATA_DIR": "/env", "SKIFF_RAFT_ELECTION_TIMEOUT_MS": "700", "OTHER": "x"]
        let config = try ServerConfig.load(fileText: file, environment: env, overrides: ["data_dir": "/flag"])
        #expect(config.dataDirectory == "/flag")
        #expect(config.electionTimeoutMs == 700)
        #expect(config.tickIntervalMs == 5)
        #expect(config.heartbeatIntervalMs == 50)
        #expect(config.electionTicks == 140)
        #expect(config.peerAddress == HostPort(host: "127.0.0.1", port: 7201))
    }

    /// The peer list parses ids, peer addresses and optional client addresses from an env string.
    @Test func parsesPeerListFromEnvironment() throws {
        let env = ["SKIFF_NODE_ID": "2", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList]
        let config = try ServerConfig.load(fileText: nil, environment: env, overrides: [:])
        #expect(config.nodeID == NodeID(2))
        #expect(config.peers.map(\.id) == [NodeID(1), NodeID(2), NodeID(3)])
        #expect(config.peers[1].clientAddress == HostPort(host: "127.0.0.1", port: 7102))
        #expect(config.peers[2].clientAddress == nil)
        #expect(config.peerAddress.port == 7202)
        #expect(config.unsafeBug == nil)
    }

    /// The unsafe switch is off by default, parses its two names, and refuses anything else.
    @Test func unsafeBugSwitch() throws {
        let base = ["SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList]
        var env = base
        env["SKIFF_UNSAFE_BUG"] = "skip-dedup"
        #expect(try ServerConfig.load(fileText: nil, environment: env, overrides: [:]).unsafeBug == .skipDedup)
        let ack = try ServerConfig.load(fileText: nil, environment: base, overrides: ["unsafe_bug": "ack-before-fsync"])
        #expect(ack.unsafeBug == .ackBeforeFsync)
        #expect(throws: ConfigError.self) {
            try ServerConfig.load(fileText: nil, environment: base, overrides: ["unsafe_bug": "lose-everything"])
        }
    }

    /// Invalid settings are typed errors of the right kind, never silently defaulted.
    @Test(arguments: [
        (["SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList], ConfigError.Kind.missing),
        (["SKIFF_NODE_ID": "4", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList], .badValue),
        (["SKIFF_NODE_ID": "x", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList], .badValue),
        (["SKIFF_NODE_ID": "1", "SKIFF_PEERS": peerList], .missing),
        (["SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": "1=nohost"], .badValue),
        (["SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": "1=a:1,1=b:2"], .badValue),
        (
            [
                "SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList,
                "SKIFF_RAFT_TICK_INTERVAL_MS": "0",
            ], .badValue
        ),
        (
            [
                "SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList,
                "SKIFF_RAFT_HEARTBEAT_INTERVAL_MS": "400",
            ],
            .badValue
        ),
    ])
    func rejectsInvalidSettings(env: [String: String], kind: ConfigError.Kind) {
        #expect {
            _ = try ServerConfig.load(fileText: nil, environment: env, overrides: [:])
        } throws: { ($0 as? ConfigError)?.kind == kind }
    }

    /// Unknown keys in the file or as overrides are refused, so typos never pass unnoticed.
    @Test func rejectsUnknownKeys() {
        let env = ["SKIFF_NODE_ID": "1", "SKIFF_DATA_DIR": "/d", "SKIFF_PEERS": peerList]
        #expect {
            try ServerConfig.load(fileText: "[raft]\ntick_interval = 5", environment: env, overrides: [:])
        } throws: {
            ($0 as? ConfigError)?.kind == .unknownKey
        }
        #expect { try ServerConfig.load(fileText: nil, environment: env, overrides: ["nope": "1"]) } throws: {
            ($0 as? ConfigError)?.kind == .unknownKey
        }
    }

    /// Environment names follow the documented key mapping.
    @Test func environmentNames() {
        #expect(ServerConfig.environmentName(forKey: "raft.tick_interval_ms") == "SKIFF_RAFT_TICK_INTERVAL_MS")
        #expect(ServerConfig.environmentName(forKey: "node_id") == "SKIFF_NODE_ID")
    }
}
