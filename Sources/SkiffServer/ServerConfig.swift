import SkiffRaft

/// A `host:port` pair as given in config. Only numeric IPv4/IPv6 or a host name; resolution happens at bind
/// or connect time.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`.
    public init(parsing text: String) throws(ConfigError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigError(.badValue, "expected host:port, got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigError(.badValue, "expected host:port, got '\(text)'")
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One member of the static bootstrap peer list.
public struct PeerSpec: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID
    /// Where this node's peer listener is.
    public var peerAddress: HostPort
    /// Where this node's client listener is, for NOT_LEADER hints. Learned from the peer handshake if absent.
    public var clientAddress: HostPort?

    public init(id: NodeID, peerAddress: HostPort, clientAddress: HostPort? = nil) {
        self.id = id
        self.peerAddress = peerAddress
        self.clientAddress = clientAddress
    }

    /// Parses `ID=PEERHOST:PORT` or `ID=PEERHOST:PORT/CLIENTHOST:PORT`.
    public init(parsing text: String) throws(ConfigError) {
        let trimmed = text.trimmingSpaces
        guard let equals = trimmed.firstIndex(of: "="), let raw = UInt64(trimmed[..<equals]), raw != 0 else {
            throw ConfigError(.badValue, "peer '\(text)': expected ID=host:port[/clienthost:port] with ID > 0")
        }
        let rest = trimmed[trimmed.index(after: equals)...]
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        let peer = try HostPort(parsing: parts[0])
        let client = parts.count > 1 ? try HostPort(parsing: parts[1]) : nil
        self.init(id: NodeID(raw), peerAddress: peer, clientAddress: client)
    }

    public var description: String {
        "\(id.rawValue)=\(peerAddress)" + (clientAddress.map { "/\($0)" } ?? "")
    }
}

/// A deliberate, test-only safety bug used to prove the chaos checker can fail (issue 6 §6). Never on by default.
public enum UnsafeBug: String, Sendable, CaseIterable {
    /// Confirm client writes as soon as they are proposed, before fsync, commit and apply.
    case ackBeforeFsync = "ack-before-fsync"
    /// Strip producer ids and sequences so the broker cannot recognise retried publishes.
    case skipDedup = "skip-dedup"
}

/// Everything `skiff serve` needs. Build it with `ServerConfig.load`; every field has a validated value.
public struct ServerConfig: Sendable, Hashable {
    public var nodeID: NodeID
    public var dataDirectory: String
    public var clientAddress: HostPort
    public var peerAddress: HostPort
    public var adminAddress: HostPort
    /// The client address other nodes should hand to clients in NOT_LEADER hints (defaults to `clientAddress`).
    public var advertisedClientAddress: HostPort
    /// The static bootstrap membership, including this node.
    public var peers: [PeerSpec]

    public var tickIntervalMs: Int
    public var electionTimeoutMs: Int
    public var heartbeatIntervalMs: Int
    /// How long a leader waits with no proposals before it proposes a tick that carries its clock.
    public var idleTickIntervalMs: Int

    public var checkpointLogBytes: Int
    public var checkpointIntervalMs: Int
    /// Entries kept below a durable checkpoint so slow followers can catch up without a snapshot.
    public var logRetainEntries: Int
    public var segmentBytes: Int
    /// How far ahead of its data the active log segment is zero-filled (0: not at all; `LogOptions`).
    public var preallocateBytes: Int
    public var snapshotChunkBytes: Int

    /// Upper bound of bytes in one group-commit proposal.
    public var proposalBytesMax: Int
    /// Upper bound of requests in one group-commit proposal.
    public var proposalRequestsMax: Int
    public var clientFrameBytesMax: Int
    /// A client connection with no complete frame for this long is closed (bounds a half frame then silence).
    public var clientIdleTimeoutMs: Int
    /// Start as a node being added to a running cluster: the peer list names the current members plus this
    /// node, and this node does not count itself a voter until the leader's membership change reaches it.
    public var join: Bool

    public var unsafeBug: UnsafeBug?
    public var logLevel: String

    /// Election timeout in ticks, as the Raft core counts time.
    public var electionTicks: Int { max(2, electionTimeoutMs / tickIntervalMs) }
    /// Heartbeat interval in ticks.
    public var heartbeatTicks: Int { max(1, heartbeatIntervalMs / tickIntervalMs) }
}

/// A configuration problem: a bad value, an unknown key, a missing required setting, or an unreadable file.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case badValue
        case unknownKey
        case missing
        case file
        case toml
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "config: \(message)" }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
