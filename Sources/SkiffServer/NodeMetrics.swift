import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// The node's Prometheus registry and the instruments the shell updates as it runs.
///
/// Instruments go through swift-metrics with an explicit factory (never the global bootstrap), so several nodes can
/// live in one test process. Gauges that mirror node state (role, term, indexes) are refreshed from a `NodeStatus`
/// at scrape time; counters and the fsync histogram are updated on the hot path.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    /// fsync latency of log appends (the `SkiffLog` flush), seconds.
    let fsyncLatency: CoreMetrics.Timer
    /// Entries per group-commit proposal.
    let proposalRequests: Recorder
    let proposals: CoreMetrics.Counter
    /// From a proposal entering the log to its entry being applied on the leader, seconds.
    let commitLatency: CoreMetrics.Timer
    let appliedEntries: CoreMetrics.Counter
    let snapshotsSent: CoreMetrics.Counter
    let snapshotsInstalled: CoreMetrics.Counter
    let checkpoints: CoreMetrics.Counter

    private let state: NIOLockedValueBox<[String: CoreMetrics.Gauge]>

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["skiff_fsync_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
            .seconds(1),
        ]
        factory.durationHistogramBuckets["skiff_commit_latency_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.valueHistogramBuckets["skiff_proposal_requests"] = [1, 2, 4, 8, 16, 64, 256, 1024, 4096]
        self.registry = registry
        self.factory = factory
        self.fsyncLatency = CoreMetrics.Timer(label: "skiff_fsync_seconds", factory: factory)
        self.proposalRequests = Recorder(label: "skiff_proposal_requests", aggregate: true, factory: factory)
        self.proposals = CoreMetrics.Counter(label: "skiff_proposals_total", factory: factory)
        self.commitLatency = CoreMetrics.Timer(label: "skiff_commit_latency_seconds", factory: factory)
        self.appliedEntries = CoreMetrics.Counter(label: "skiff_applied_entries_total", factory: factory)
        self.snapshotsSent = CoreMetrics.Counter(label: "skiff_snapshots_sent_total", factory: factory)
        self.snapshotsInstalled = CoreMetrics.Counter(label: "skiff_snapshots_installed_total", factory: factory)
        self.checkpoints = CoreMetrics.Counter(label: "skiff_checkpoints_total", factory: factory)
        self.state = NIOLockedValueBox([:])
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
        let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return state.withLockedValue { gauges in
            if let g = gauges[key] { return g }
            let g = CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
            gauges[key] = g
            return g
        }
    }

    /// Copies state figures into gauges, then renders the registry in the Prometheus text format.
    public func render(_ status: NodeStatus) -> [UInt8] {
        for role in ["leader", "follower", "candidate", "precandidate", "learner"] {
            gauge("skiff_role", [("role", role)]).record(status.role.lowercased() == role ? 1 : 0)
        }
        gauge("skiff_term").record(Int64(status.term.rawValue))
        gauge("skiff_leader_id").record(Int64(status.leaderID.rawValue))
        gauge("skiff_commit_index").record(Int64(status.commitIndex.rawValue))
        gauge("skiff_applied_index").record(Int64(status.appliedIndex.rawValue))
        gauge("skiff_last_log_index").record(Int64(status.lastLogIndex.rawValue))
        gauge("skiff_log_bytes").record(Int64(status.logBytes))
        gauge("skiff_checkpoint_index").record(Int64(status.checkpointIndex.rawValue))
        gauge("skiff_snapshot_age_seconds").record(status.snapshotAgeSeconds ?? -1)
        gauge("skiff_log_untrusted").record(status.logUntrusted ? 1 : 0)
        gauge("skiff_ready").record(status.isReady ? 1 : 0)
        gauge("skiff_connections", [("kind", "client")]).record(status.clientConnections)
        gauge("skiff_connections", [("kind", "peer")]).record(status.peerConnections)
        gauge("skiff_members").record(status.members.count)
        for q in status.queues {
            gauge("skiff_queue_ready", [("queue", q.name)]).record(q.ready)
            gauge("skiff_queue_leased", [("queue", q.name)]).record(q.leased)
            gauge("skiff_queue_delayed", [("queue", q.name)]).record(q.delayed)
            gauge("skiff_queue_dead_lettered_total", [("queue", q.name)]).record(Int64(q.deadLettered))
            // Monotonic counters kept in the replicated state; `rate()` over them gives per-queue rates.
            gauge("skiff_queue_published_total", [("queue", q.name)]).record(Int64(clamping: q.published))
            gauge("skiff_queue_delivered_total", [("queue", q.name)]).record(Int64(clamping: q.delivered))
            gauge("skiff_queue_acked_total", [("queue", q.name)]).record(Int64(clamping: q.acked))
            gauge("skiff_queue_discarded_total", [("queue", q.name)]).record(Int64(clamping: q.discarded))
        }
        return registry.emitToBuffer()
    }
}
