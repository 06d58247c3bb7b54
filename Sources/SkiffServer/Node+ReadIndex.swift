import NIOCore
import SkiffRaft
import SkiffWire

/// Linearizable metadata and statistics reads on the leader, without writing to the log (ReadIndex, Raft
/// thesis §6.4): the leader notes its commit index, confirms with a heartbeat round that it still leads, waits
/// until it has applied through that index, and only then answers from its state. A deposed leader that has
/// not noticed yet cannot confirm, so it never answers from stale state; the client gets NOT_LEADER or a
/// timeout and retries on the new leader.
extension Node {
    /// How long a read may wait for its confirmation and apply before it is answered `TIMEOUT`.
    static let readWaitMax: TimeAmount = .seconds(5)
    /// Reads waiting at once; more are refused with `UNAVAILABLE` (the leader is not confirming leadership).
    static let pendingReadsMax = 10_000

    struct PendingRead {
        let request: Request
        let id: RequestID
        weak var connection: ClientConnection?
        let deadline: NIODeadline
        /// Set when the leader confirmed the read: answer once applied through it.
        var index: LogIndex?
    }

    func linearizableRead(_ request: Request, id: RequestID, from connection: ClientConnection) {
        guard pendingReads.count < Self.pendingReadsMax else {
            connection.reply(id, .error(WireError(.unavailable, "too many reads waiting for leadership confirmation")))
            return
        }
        let context = nextReadContext
        nextReadContext += 1
        do {
            try raft.readIndex(context: Self.encodeReadContext(context))
        } catch {
            connection.reply(
                id, .error(error.kind == .notLeader ? notLeaderError() : WireError(.unavailable, "\(error)")))
            return
        }
        pendingReads[context] = PendingRead(
            request: request, id: id, connection: connection, deadline: .now() + Self.readWaitMax)
        if !persisting { process() }
    }

    /// The core confirmed reads at these indexes; answer those already applied.
    func readIndexConfirmed(_ states: [ReadState]) {
        for state in states {
            guard let context = Self.decodeReadContext(state.context) else { continue }
            pendingReads[context]?.index = state.index
        }
        answerConfirmedReads()
    }

    /// Answers every confirmed read whose index this node has applied.
    func answerConfirmedReads() {
        guard !pendingReads.isEmpty else { return }
        let applied = raft.appliedIndex
        for (context, read) in pendingReads {
            guard let index = read.index, index <= applied else { continue }
            pendingReads[context] = nil
            read.connection?.reply(read.id, self.read(read.request))
        }
    }

    func failPendingReads(_ error: WireError) {
        let reads = pendingReads
        pendingReads = [:]
        for read in reads.values { read.connection?.reply(read.id, .error(error)) }
    }

    func expireReads() {
        let now = NIODeadline.now()
        let expired = pendingReads.filter { $0.value.deadline <= now }
        guard !expired.isEmpty else { return }
        for (context, read) in expired {
            pendingReads[context] = nil
            read.connection?.reply(
                read.id, .error(WireError(.timeout, "leadership not confirmed within \(Self.readWaitMax)")))
        }
        flushConnections()
    }

    static func encodeReadContext(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    static func decodeReadContext(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
