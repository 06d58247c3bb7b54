import SkiffRaft

/// Simulated time in microseconds.
typealias SimTime = UInt64

/// What one simulated run does. The defaults are the `make test` sweep's per-seed size.
public struct SimOptions: Sendable {
    public var seed: UInt64
    /// 3 or 5.
    public var nodeCount: Int
    public var injectedBug: InjectedBug?
    /// A broker-level bug (forces the broker application).
    public var brokerBug: BrokerBug? {
        didSet { if brokerBug != nil { app = .broker } }
    }
    /// The application the nodes run; by default every fourth seed runs the broker (`defaultApp(seed:)`).
    public var app: SimApp
    /// Length of the phase with faults, in ticks of one node.
    public var faultTicks: Int = 400
    /// Liveness bound: after the faults heal, a leader must exist and every pending proposal must be applied
    /// on every node within this many ticks.
    public var livenessTicks: Int = 300
    /// Microseconds per tick.
    public var tickMicros: UInt64 = 10_000
    /// Mean microseconds between two client proposals during the fault phase.
    public var proposalMeanMicros: UInt64 = 15_000
    /// Mean microseconds between two fault events.
    public var faultMeanMicros: UInt64 = 120_000
    /// A node takes a snapshot and compacts its log after applying this many entries.
    public var compactionEntries: UInt64 = 40
    /// Bytes per snapshot chunk (small, so that snapshots travel in many chunks).
    public var snapshotChunkBytes: Int = 96
    /// Collect a human-readable event log (slow; for replaying one seed).
    public var verbose = false

    public init(seed: UInt64, nodeCount: Int, injectedBug: InjectedBug? = nil) {
        precondition(nodeCount == 3 || nodeCount == 5, "nodeCount must be 3 or 5, not \(nodeCount)")
        self.seed = seed
        self.nodeCount = nodeCount
        self.injectedBug = injectedBug
        self.app = Self.defaultApp(seed: seed)
    }

    /// The application a seed runs unless told otherwise: the broker on every fourth seed, so that a sweep
    /// covers both applications.
    public static func defaultApp(seed: UInt64) -> SimApp { seed % 4 == 0 ? .broker : .counter }

    /// The command that replays this run.
    public var replayCommand: String {
        "swift run skiff-sim --seed \(seed) --nodes \(nodeCount)"
            + (injectedBug.map { " --inject-bug \($0.rawValue)" } ?? "")
            + (brokerBug.map { " --inject-bug \($0.rawValue)" } ?? "")
            + (app == Self.defaultApp(seed: seed) || brokerBug != nil ? "" : " --app \(app.rawValue)")
    }
}

/// A violated invariant.
public struct SimFailure: Sendable, CustomStringConvertible {
    /// The invariant's name, for example "election-safety".
    public var invariant: String
    public var detail: String
    /// Simulated microseconds since the start.
    public var atMicros: UInt64

    public var description: String { "\(invariant) at t=\(atMicros)us: \(detail)" }
}

/// The outcome of one run.
public struct SimResult: Sendable {
    public var options: SimOptions
    public var traceHash: UInt64
    public var failure: SimFailure?
    public var events: Int
    public var proposalsAcknowledged: Int
    public var leaderElections: Int
    public var crashes: Int
    public var snapshotsInstalled: Int
    public var membershipChanges: Int
    public var readsServed: Int
    /// Broker mode: acknowledged publishes, leases granted, leases expired, retries absorbed by idempotence.
    public var brokerSummary: String?
    /// The event log when `options.verbose`.
    public var log: [String]

    public var summary: String {
        let hash = "0x" + String(traceHash, radix: 16)
        return "seed \(options.seed) nodes \(options.nodeCount): \(failure == nil ? "ok" : "FAIL") trace=\(hash) "
            + "events=\(events) acked=\(proposalsAcknowledged) elections=\(leaderElections) crashes=\(crashes) "
            + "snapshots=\(snapshotsInstalled) membership=\(membershipChanges) reads=\(readsServed)"
            + (brokerSummary.map { " broker: \($0)" } ?? "")
    }
}
