import SkiffRaft

/// A deterministic whole-cluster run: real `RawNode`s, a simulated clock, network and disks, seeded faults,
/// a client with unique proposal ids, and the invariants checked after every event. Same options, same run.
public final class Simulation {
    let options: SimOptions
    var random: SimRandom
    var queue = EventQueue()
    var now: SimTime = 0
    var nodes: [SimNode] = []
    var checker = Checker()
    var trace = TraceHash()
    var failure: SimFailure?
    var eventCount = 0
    var log: [String] = []
    let faultEnd: SimTime
    let end: SimTime
    var healed = false
    // Network.
    var blockedLinks: Set<Int> = []
    var dropRate = 0.0
    var duplicateRate = 0.0
    var delayMicros: ClosedRange<UInt64> = 500...8_000
    // Client.
    var nextProposalID: UInt64 = 1
    var pendingIDs: [UInt64] = []
    var lastSubmit: [UInt64: SimTime] = [:]
    var acknowledged: Set<UInt64> = []
    /// Proposals in `checker.globalOrder` up to the last acknowledged one: a read that starts now must see
    /// at least this many.
    var acknowledgedPrefix = 0
    var nextReadID: UInt64 = 1
    /// For each read in flight: how many proposals it must observe (linearizability).
    var readsRequired: [UInt64: Int] = [:]
    var readsServed = 0
    /// The cluster's Raft settings, drawn once per seed so that the sweep covers many of them.
    var profile = RaftConfig(id: NodeID(1))
    // Broker application (nil in counter mode).
    var brokerWorkload: BrokerWorkload?
    var brokerChecker = BrokerChecker()
    /// Broker restores (crash restarts and snapshot installs) whose state hash was compared.
    var brokerRestoresChecked = 0
    // Statistics.
    var crashes = 0
    var snapshotsInstalled = 0
    var membershipChanges = 0

    /// Microseconds after which the client resubmits an unacknowledged proposal.
    static let resubmitMicros: SimTime = 400_000
    /// At most this many resubmissions per client event.
    static let resubmitsPerEventMax = 8
    /// The chance that a node crashes between writing a Ready and its fsync completing (the window in which
    /// an unsynced write is lost or torn).
    static let crashInFsyncWindowRate = 0.01
    /// The same chance for a Ready that changes the term or the vote: elections are rare, and this window is
    /// where a vote that was not made durable does its damage.
    static let crashInElectionFsyncWindowRate = 0.3
    /// A run processes at most this many events (a normal run needs about 10,000).
    static let eventsMax = 400_000
    /// At most this many events may be pending at once.
    static let queuedEventsMax = 50_000
    /// The chance per client event (every tick) of issuing a linearizable read.
    static let readRate = 0.5
    /// The leader refuses proposals beyond this many uncommitted entries (back-pressure on the client).
    static let uncommittedEntriesMax = 256

    public init(options: SimOptions) {
        self.options = options
        self.random = SimRandom(seed: options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(options.nodeCount))
        self.faultEnd = UInt64(options.faultTicks) * options.tickMicros
        self.end = faultEnd + UInt64(options.livenessTicks) * options.tickMicros
    }

    /// Runs to the end or to the first violated invariant.
    public func run() -> SimResult {
        start()
        while failure == nil, let (time, event) = queue.pop(), time <= end {
            now = time
            eventCount += 1
            handle(event)
            checkAfterEvent()
            if eventCount > Self.eventsMax || queue.count > Self.queuedEventsMax {
                fail(
                    "bounded-work", "\(eventCount) events processed, \(queue.count) queued: a message storm or livelock"
                )
            }
        }
        if failure == nil { checkAtEnd() }
        return SimResult(
            options: options, traceHash: trace.value, failure: failure, events: eventCount,
            proposalsAcknowledged: acknowledged.count, leaderElections: checker.elections, crashes: crashes,
            snapshotsInstalled: snapshotsInstalled, membershipChanges: membershipChanges, readsServed: readsServed,
            brokerSummary: brokerSummary, log: log)
    }

    private func start() {
        profile.heartbeatTick = random.int(1...3)
        profile.maxSizePerMsg = random.pick([128, 512, 4_096])
        profile.maxInflightMsgs = random.pick([2, 4, 16])
        profile.maxInflightBytes = profile.maxSizePerMsg * random.int(2...8)
        profile.preVote = random.int(0...3) > 0
        for index in 0..<options.nodeCount {
            let node = SimNode(
                id: NodeID(UInt64(index + 1)), index: index, broker: options.app == .broker, bug: options.brokerBug)
            nodes.append(node)
            node.restart(config: config(for: node))
            queue.schedule(.tick(node: index), at: random.uint(1...options.tickMicros))
        }
        queue.schedule(.client, at: options.tickMicros)
        if options.app == .broker { brokerWorkload = BrokerWorkload() }
        queue.schedule(.fault, at: random.uint(options.faultMeanMicros...(3 * options.faultMeanMicros)))
        queue.schedule(.heal, at: faultEnd)
    }

    func config(for node: SimNode) -> RaftConfig {
        var config = RaftConfig(id: node.id)
        config.voters = (1...options.nodeCount).map { NodeID(UInt64($0)) }
        config.electionTick = 10
        config.heartbeatTick = profile.heartbeatTick
        config.maxInflightMsgs = profile.maxInflightMsgs
        config.maxSizePerMsg = profile.maxSizePerMsg
        config.maxInflightBytes = profile.maxInflightBytes
        config.preVote = profile.preVote
        config.maxUncommittedEntries = Self.uncommittedEntriesMax
        config.randomSeed = options.seed &+ UInt64(node.incarnation) &* 7_919
        config.injectedBug = options.injectedBug
        return config
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case .tick(let index): handleTick(nodes[index])
        case .deliver(let message): handleDelivery(message)
        case .fsyncDone(let index, let incarnation):
            let node = nodes[index]
            guard incarnation == node.incarnation, let ready = node.pendingReady else { return }
            trace.mix(4, UInt64(index))
            complete(node, ready)
        case .crash(let index, let incarnation):
            guard incarnation == nodes[index].incarnation else { return }
            crash(nodes[index])
        case .restart(let index): restart(nodes[index])
        case .resume(let index): resume(nodes[index])
        case .fault: injectFault()
        case .client: runClient()
        case .heal: heal()
        }
    }

    private func handleTick(_ node: SimNode) {
        queue.schedule(.tick(node: node.index), at: now + options.tickMicros)
        guard let raft = node.raft, !node.paused else { return }
        trace.mix(1, UInt64(node.index))
        raft.tick()
        if brokerWorkload != nil { proposeBrokerTick(node) }
        pump(node)
    }

    private func handleDelivery(_ message: Message) {
        let node = nodes[Int(message.to.rawValue) - 1]
        guard let raft = node.raft else { return }
        if node.paused {
            node.inbox.append(message)
            return
        }
        trace.mix(2, message.from.rawValue, message.to.rawValue, UInt64(message.kind.rawValue))
        trace.mix(message.term.rawValue, message.index.rawValue, UInt64(message.entries.count))
        if options.verbose { record("deliver \(message)") }
        raft.step(message)
        pump(node)
    }

    func record(_ line: @autoclosure () -> String) {
        if options.verbose { log.append("t=\(now) \(line())") }
    }

    func fail(_ invariant: String, _ detail: String) {
        guard failure == nil else { return }
        failure = SimFailure(invariant: invariant, detail: detail, atMicros: now)
        record("FAIL \(invariant): \(detail)")
    }

    private func checkAfterEvent() {
        for node in nodes {
            guard let raft = node.raft else { continue }
            if let violation = raft.coreViolation {
                fail("core-invariant", "\(node.id): \(violation)")
                return
            }
            if let (invariant, detail) = checker.checkLeader(node) {
                fail(invariant, detail)
                return
            }
        }
    }
}
