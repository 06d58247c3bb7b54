import SkiffRaft

/// Handshake and cluster-administration messages.

/// What a connection is for, declared in the handshake.
public enum ClientRole: UInt8, Sendable, Hashable, CaseIterable {
    /// An application client (producers, consumers).
    case client = 1
    /// An operator tool (the `skiff` CLI).
    case admin = 2
    /// Another node (peer listener only).
    case peer = 3
}

/// The first request on every connection.
public struct Hello: WireCodable, Hashable {
    /// The oldest protocol version the client speaks.
    public var versionMin: UInt16
    /// The newest protocol version the client speaks.
    public var versionMax: UInt16
    /// What the connection is for.
    public var role: ClientRole
    /// A free-form client name for logs and metrics.
    public var clientID: String

    /// Creates a hello for this build's protocol version range.
    public init(
        role: ClientRole, clientID: String, versionMin: UInt16 = WireProtocol.minimumVersion,
        versionMax: UInt16 = WireProtocol.version
    ) {
        self.role = role
        self.clientID = clientID
        self.versionMin = versionMin
        self.versionMax = versionMax
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(WireProtocol.magic)
        writer.write(versionMin)
        writer.write(versionMax)
        writer.write(role.rawValue)
        writer.write(clientID)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        guard try reader.readUInt32("hello.magic") == WireProtocol.magic else {
            throw FrameError(.invalidValue(field: "hello.magic"))
        }
        versionMin = try reader.readUInt16("hello.versionMin")
        versionMax = try reader.readUInt16("hello.versionMax")
        role = try reader.readEnum("hello.role")
        clientID = try reader.readString("hello.clientID")
    }

    /// The version both sides speak, or nil when the ranges do not overlap.
    public func negotiatedVersion(
        serverMin: UInt16 = WireProtocol.minimumVersion, serverMax: UInt16 = WireProtocol.version
    ) -> UInt16? {
        let version = min(versionMax, serverMax)
        return version >= max(versionMin, serverMin) ? version : nil
    }
}

/// The server's answer to a successful `Hello`.
public struct HelloOK: WireCodable, Hashable {
    /// The negotiated protocol version.
    public var version: UInt16
    /// The answering node.
    public var nodeID: NodeID
    /// The leader as this node knows it, or `.none`.
    public var leaderID: NodeID
    /// The leader's client address, empty when unknown.
    public var leaderAddress: String
    /// The largest frame this node accepts from the client.
    public var frameBytesMax: UInt32

    /// Creates the answer.
    public init(version: UInt16, nodeID: NodeID, leaderID: NodeID, leaderAddress: String, frameBytesMax: UInt32) {
        self.version = version
        self.nodeID = nodeID
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
        self.frameBytesMax = frameBytesMax
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(version)
        writer.write(nodeID.rawValue)
        writer.write(leaderID.rawValue)
        writer.write(leaderAddress)
        writer.write(frameBytesMax)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        version = try reader.readUInt16("helloOK.version")
        nodeID = NodeID(try reader.readUInt64("helloOK.nodeID"))
        leaderID = NodeID(try reader.readUInt64("helloOK.leaderID"))
        leaderAddress = try reader.readString("helloOK.leaderAddress")
        frameBytesMax = try reader.readUInt32("helloOK.frameBytesMax")
    }
}

/// A node's Raft role as reported in cluster status.
public enum MemberRole: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case follower = 0
    case candidate = 1
    case leader = 2
    /// A non-voting member catching up before promotion.
    case learner = 3
    /// The answering node has no recent information about this member.
    case unknown = 4

    public var description: String {
        switch self {
        case .follower: return "follower"
        case .candidate: return "candidate"
        case .leader: return "leader"
        case .learner: return "learner"
        case .unknown: return "unknown"
        }
    }
}

/// One member of the cluster as seen by the answering node.
public struct MemberInfo: WireCodable, Hashable {
    public var id: NodeID
    public var role: MemberRole
    /// Whether the member votes (false for learners).
    public var voter: Bool
    public var term: Term
    public var commit: LogIndex
    public var applied: LogIndex
    /// Where clients connect (`host:port`).
    public var clientAddress: String
    /// Where peers connect (`host:port`).
    public var peerAddress: String
    /// Whether the answering node heard from this member recently (the leader knows; followers guess).
    public var reachable: Bool

    /// Creates a member description.
    public init(
        id: NodeID, role: MemberRole, voter: Bool = true, term: Term, commit: LogIndex, applied: LogIndex,
        clientAddress: String, peerAddress: String, reachable: Bool = true
    ) {
        self.id = id
        self.role = role
        self.voter = voter
        self.term = term
        self.commit = commit
        self.applied = applied
        self.clientAddress = clientAddress
        self.peerAddress = peerAddress
        self.reachable = reachable
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(id.rawValue)
        writer.write(role.rawValue)
        writer.write(voter)
        writer.write(term.rawValue)
        writer.write(commit.rawValue)
        writer.write(applied.rawValue)
        writer.write(clientAddress)
        writer.write(peerAddress)
        writer.write(reachable)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        id = NodeID(try reader.readUInt64("member.id"))
        role = try reader.readEnum("member.role")
        voter = try reader.readBool("member.voter")
        term = Term(try reader.readUInt64("member.term"))
        commit = LogIndex(try reader.readUInt64("member.commit"))
        applied = LogIndex(try reader.readUInt64("member.applied"))
        clientAddress = try reader.readString("member.clientAddress")
        peerAddress = try reader.readString("member.peerAddress")
        reachable = try reader.readBool("member.reachable")
    }
}

/// The answer to `clusterInfo`: any node answers it from its own Raft view, leader or not.
public struct ClusterInfo: WireCodable, Hashable {
    /// The node that answered.
    public var respondingNode: NodeID
    /// The leader as the answering node knows it, or `.none`.
    public var leaderID: NodeID
    /// The answering node's current term.
    public var term: Term
    /// Every member of the current configuration, ordered by id.
    public var members: [MemberInfo]

    /// Creates the status.
    public init(respondingNode: NodeID, leaderID: NodeID, term: Term, members: [MemberInfo]) {
        self.respondingNode = respondingNode
        self.leaderID = leaderID
        self.term = term
        self.members = members
    }

    /// The leader's member entry, when known.
    public var leader: MemberInfo? { members.first { $0.id == leaderID && leaderID != .none } }

    public func encode(to writer: inout WireWriter) {
        writer.write(respondingNode.rawValue)
        writer.write(leaderID.rawValue)
        writer.write(term.rawValue)
        writer.writeArray(members) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        respondingNode = NodeID(try reader.readUInt64("cluster.respondingNode"))
        leaderID = NodeID(try reader.readUInt64("cluster.leaderID"))
        term = Term(try reader.readUInt64("cluster.term"))
        members = try reader.readArray("cluster.members", elementBytesMin: 43) { r throws(FrameError) in try r.read() }
    }
}

/// Adds a node to the cluster (it joins as a learner, catches up, then becomes a voter).
public struct AddNodeRequest: WireCodable, Hashable {
    public var id: NodeID
    public var peerAddress: String
    public var clientAddress: String

    /// Creates the request.
    public init(id: NodeID, peerAddress: String, clientAddress: String) {
        self.id = id
        self.peerAddress = peerAddress
        self.clientAddress = clientAddress
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(id.rawValue)
        writer.write(peerAddress)
        writer.write(clientAddress)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        id = NodeID(try reader.readUInt64("addNode.id"))
        peerAddress = try reader.readString("addNode.peerAddress")
        clientAddress = try reader.readString("addNode.clientAddress")
    }
}

/// Names one object (queue, exchange, topic) inside a namespace.
public struct ObjectName: WireCodable, Hashable {
    public var namespace: String
    public var name: String

    /// Creates the name.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(name)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("namespace")
        name = try reader.readString("name")
    }
}
