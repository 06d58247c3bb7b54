import Logging
import NIOCore
import NIOPosix
import SkiffBroker
import SkiffRaft
import SkiffWire

/// The Raft shell of one node: it drives `RawNode`, persists through `RaftDisk` on a dedicated disk thread,
/// applies committed entries to the broker, and answers clients once their writes are committed and applied.
///
/// Invariant: every stored property is read and written only on `loop`. Disk work runs on `diskPool`
/// (one thread, so writes stay ordered) and hops back with its result.
final class Node {
    /// How a submitted command ended: applied with the broker's result, or failed before it was applied.
    enum Outcome {
        case applied(CommandResult)
        case failed(WireError)
    }

    /// A client waiting for the result of one command in a proposal.
    typealias Responder = (Outcome) -> Void

    /// One request queued for the next group-commit proposal.
    struct QueuedCommand {
        var command: Command
        var responder: Responder?
        var bytes: Int
    }

    /// How long a client waits for its write to commit before it is told the outcome is unknown.
    static let commitWaitMax = TimeAmount.seconds(10)
    /// Proposals allowed in the Raft log but not yet applied on the leader (back-pressure on clients).
    static let proposalsInFlightMax = 64

    let config: ServerConfig
    let loop: any EventLoop
    var logger: Logger
    let metrics: NodeMetrics
    let disk: any RaftDisk
    let diskPool: NIOThreadPool
    let checkpointPool: NIOThreadPool
    let nodeStore: NodeStore
    let storage: LogStorage
    var raft: RawNode
    var broker: BrokerStateMachine
    let transport: PeerTransport
    /// Peer and client addresses of every member this node knows (config, address records, peer hellos).
    var addresses: [NodeID: AddressRecord] = [:]
    /// Set when recovery distrusts the log: this node never campaigns or votes until repaired.
    var untrustedReason: String?
    /// After `skiff node repair` wiped the log: the node stays untrusted until it has caught up to
    /// `catchUpTarget` (what the leader held when this node first heard from it), or installed a snapshot.
    var repairPending = false
    var catchUpTarget: LogIndex?

    // The Ready cycle.
    var persisting = false
    /// Term and vote as last handed to the disk: a Ready that changes neither (only the commit index) skips it.
    var durableTermVote: (term: Term, vote: NodeID) = (.zero, .none)
    /// How many of the in-flight Ready's committed entries were applied before its fsync.
    var appliedEarly = 0
    var logBytes: UInt64 = 0
    var stopped = false

    // Group commit.
    var queuedCommands: [QueuedCommand] = []
    var queuedBytes = 0
    /// Starts at a random point, so that entries this node proposed in an earlier run (replayed or committed
    /// after a restart) never match a waiter of this run: a stale match would answer a client, or push a
    /// delivery, with the result of a different command.
    var nextProposalID = UInt64.random(in: 1...(UInt64.max >> 1))
    var waiting: [UInt64: (responders: [Responder?], deadline: NIODeadline)] = [:]
    /// The leader clock last stamped or applied; stamps never go backwards across leaders.
    var lastTimeMs: Int64 = 0
    var lastProposalAt = NIODeadline.now()

    // Clients, deliveries, checkbacks.
    var connections: [UInt64: ClientConnection] = [:]
    var subscriptions = SubscriptionTable()
    /// Connections written to since the last flush; flushed once per read or apply batch.
    var dirtyConnections: [ClientConnection] = []

    // Checkpoints and snapshots.
    var checkpointIndex: LogIndex = .zero
    var checkpointAt = NIODeadline.now()
    var checkpointing = false
    /// Set while a Ready that writes snapshot chunks or installs a snapshot is being persisted.
    var installingSnapshot = false
    var bytesSinceCheckpoint = 0
    var snapshots = SnapshotCatalog()

    // Linearizable reads (ReadIndex, thesis §6.4).
    var pendingReads: [UInt64: PendingRead] = [:]
    var nextReadContext: UInt64 = 1

    // Admin waits.
    var membershipWaiters: [MembershipWaiter] = []
    var leadershipWaiters: [MembershipWaiter] = []

    var tickTask: RepeatedTask?
    var shutdownPromise: EventLoopPromise<Void>?

    init(
        config: ServerConfig, loop: any EventLoop, logger: Logger, metrics: NodeMetrics, storage opened: NodeStorage,
        diskPool: NIOThreadPool, checkpointPool: NIOThreadPool
    ) {
        self.config = config
        self.loop = loop
        self.logger = logger
        self.metrics = metrics
        self.disk = opened.disk
        self.diskPool = diskPool
        self.checkpointPool = checkpointPool
        self.nodeStore = opened.nodeStore
        self.broker = opened.broker
        let recovered = opened.recovered
        let appliedIndex = opened.appliedIndex
        self.untrustedReason = recovered.untrustedReason
        self.repairPending = opened.repairPending
        if opened.repairPending { untrustedReason = untrustedReason ?? "repaired log not yet caught up" }
        self.logBytes = recovered.logBytes
        self.checkpointIndex = appliedIndex
        for file in opened.snapshots { snapshots.add(file) }
        let storage = opened.raftStorage
        self.storage = storage
        self.durableTermVote = (recovered.hardState.term, recovered.hardState.vote)
        var raftConfig = RaftConfig(id: config.nodeID)
        raftConfig.electionTick = config.electionTicks
        raftConfig.heartbeatTick = config.heartbeatTicks
        raftConfig.applied = max(appliedIndex, recovered.snapshot.index)
        raftConfig.randomSeed = Node.seed(for: config.nodeID)
        // Bootstrap membership, used only when nothing is persisted yet. A joining node leaves itself out: it
        // becomes a voter when the leader's committed change reaches it.
        raftConfig.voters = config.peers.map(\.id).filter { !config.join || $0 != config.nodeID }
        raftConfig.compactionHintEntries = UInt64(max(1000, config.logRetainEntries))
        raftConfig.maxUncommittedEntries = 1 << 16
        self.raft = RawNode(config: raftConfig, storage: storage)
        self.transport = PeerTransport(
            loop: loop, selfID: config.nodeID, advertisedClientAddress: config.advertisedClientAddress.description,
            logger: logger)
        for record in opened.nodeStore.loadNodeMeta().addresses { addresses[record.node] = record }
        for peer in config.peers {
            addresses[peer.id] = AddressRecord(
                node: peer.id, peerAddress: peer.peerAddress.description,
                clientAddress: peer.clientAddress?.description ?? addresses[peer.id]?.clientAddress ?? "")
        }
        transport.delegate = self
    }

    /// A per-node seed for election jitter: deterministic given the id, different between nodes.
    static func seed(for id: NodeID) -> UInt64 { 0x5EED_0000_0000_0000 ^ (id.rawValue &* 0x9E37_79B9_7F4A_7C15) }

    /// Starts ticking and dialing peers. Runs on `loop`.
    func start() {
        loop.preconditionInEventLoop()
        refreshPeerLinks()
        let tick = TimeAmount.milliseconds(Int64(config.tickIntervalMs))
        let bound = NIOLoopBound(self, eventLoop: loop)
        tickTask = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in bound.value.onTick() }
        if repairPending {
            logger.warning(
                """
                repaired log: this node will not vote or lead until it has caught up from the leader, which \
                re-sends what it lost (through the log or a snapshot) when it sees this node's rejections.
                """)
        } else if let reason = untrustedReason {
            logger.critical(
                "log is untrusted: this node will not vote or lead until `skiff node repair` wipes it",
                metadata: ["reason": "\(reason)"])
        }
        process()
    }

    /// The leader's clock for a new proposal: wall time, but never behind what was already stamped.
    func stampTimeMs() -> Int64 {
        lastTimeMs = max(lastTimeMs, wallClockMs())
        return lastTimeMs
    }

    private func onTick() {
        guard !stopped else { return }
        // An untrusted node does not tick: it never times out into an election (it may lack acknowledged
        // entries). Heartbeats from the leader still reach it, so it keeps replicating.
        if untrustedReason == nil { raft.tick() }
        checkLeadershipWaiters()
        expireMembershipWaiters()
        clearUntrustedAfterCatchUp()
        expireWaiters()
        expireReads()
        maybeProposeIdleTick()
        maybeCheckpoint()
        process()
    }

    /// The dialing set follows the membership: every member with a known peer address.
    func refreshPeerLinks() {
        var peers: [NodeID: HostPort] = [:]
        for member in raft.confState.members where member != config.nodeID {
            guard let record = addresses[member], let address = try? HostPort(parsing: record.peerAddress) else {
                continue
            }
            peers[member] = address
        }
        transport.setPeers(peers)
    }

    /// Trusts a repaired (wiped) log again once it holds everything the leader had when it first heard from it:
    /// every entry this node could have acknowledged before the wipe is then back on its disk.
    func clearUntrustedAfterCatchUp() {
        guard repairPending, let target = catchUpTarget, raft.appliedIndex >= target, !persisting else { return }
        logger.notice("repaired node caught up; it may vote and lead again", metadata: ["index": "\(target)"])
        repairPending = false
        untrustedReason = nil
        catchUpTarget = nil
        nodeStore.clearRepairMarker()
    }

    /// The client address of `id` for NOT_LEADER hints, or "" when unknown.
    func clientAddress(of id: NodeID?) -> String {
        guard let id else { return "" }
        if id == config.nodeID { return config.advertisedClientAddress.description }
        return addresses[id]?.clientAddress ?? ""
    }

    /// A NOT_LEADER error pointing at the leader this node knows, if any.
    func notLeaderError() -> WireError {
        let leader = raft.leader
        return WireError(
            .notLeader, "node \(config.nodeID.rawValue) is not the leader",
            leaderID: leader ?? .none, leaderAddress: clientAddress(of: leader))
    }

    var isLeader: Bool { raft.role == .leader && untrustedReason == nil }
}

extension Node: PeerTransportDelegate {
    func peerTransport(received frame: ByteBuffer, from: NodeID) {
        guard !stopped else { return }
        let message: SkiffRaft.Message
        do {
            message = try disk.shipper.decode(frame)
        } catch {
            logger.warning("undecodable peer message", metadata: ["from": "\(from)", "error": "\(error)"])
            return
        }
        guard message.from == from, message.to == config.nodeID else {
            logger.warning("misaddressed peer message", metadata: ["link": "\(from)", "message": "\(message)"])
            return
        }
        if repairPending, catchUpTarget == nil, message.kind == .append {
            catchUpTarget = max(message.commit, LogIndex(message.index.rawValue + UInt64(message.entries.count)))
        }
        if message.kind == .appendResponse, message.reject, raft.role == .leader,
            let match = raft.matchIndex(of: from), message.rejectHint < match
        {
            // The follower holds less than it acknowledged: its log was wiped by `skiff node repair` (a stale
            // rejection can look the same; treating it so only re-sends entries the follower already has).
            logger.notice(
                "follower holds less log than it acknowledged; re-sending from its last index",
                metadata: ["follower": "\(from)", "match": "\(match)", "last": "\(message.rejectHint)"])
            raft.reportLogLost(from, lastIndex: message.rejectHint)
        }
        if untrustedReason != nil, message.kind == .vote || message.kind == .preVote || message.kind == .timeoutNow {
            // An untrusted log must not grant votes or take leadership (it might lack acknowledged entries).
            return
        }
        if logger.logLevel <= .trace {
            logger.trace("step", metadata: ["message": "\(message)"])
        }
        raft.step(message)
        process()
    }

    func peerTransport(helloFrom: NodeID, clientAddress: String) {
        // A peer that (re)connects may have restarted with less log than the leader believes it holds (a
        // repaired node restarts empty). Probe it again, and make sure an append goes out so the probe
        // happens even when the cluster is idle.
        if isLeader, raft.confState.isMember(helloFrom) {
            raft.reportUnreachable(helloFrom)
            submit(.tick, bytes: 1, responder: nil)
        }
        var record = addresses[helloFrom] ?? AddressRecord(node: helloFrom, peerAddress: "", clientAddress: "")
        guard record.clientAddress != clientAddress else { return }
        record.clientAddress = clientAddress
        addresses[helloFrom] = record
    }
}

/// Milliseconds since the Unix epoch from the real-time clock (the leader's stamp; only the shell reads it).
func wallClockMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
