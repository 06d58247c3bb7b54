import Logging
import NIOCore
import SkiffRaft
import SkiffWire

/// Graceful shutdown.
extension Node {
    /// Before stopping: a leader hands leadership to the most up-to-date voter and waits (bounded) until it
    /// has moved, so clients see one short NOT_LEADER instead of an election timeout. Then in-flight disk work
    /// drains. Acknowledged writes are durable on a majority already, so nothing acknowledged is lost.
    func prepareShutdown(transferWait: TimeAmount) -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: Void.self)
        if raft.role == .leader, let target = bestTransferTarget() {
            logger.info("shutting down: transferring leadership", metadata: ["to": "\(target)"])
            try? raft.transferLeadership(to: target)
            process()
        }
        pollShutdown(promise: promise, deadline: .now() + transferWait)
        return promise.futureResult
    }

    private func pollShutdown(promise: EventLoopPromise<Void>, deadline: NIODeadline) {
        let leaderGone = raft.role != .leader || raft.confState.voters.count <= 1
        if (leaderGone && !persisting) || NIODeadline.now() >= deadline {
            promise.succeed(())
            return
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: .milliseconds(5)) { bound.value.pollShutdown(promise: promise, deadline: deadline) }
    }

    /// Stops ticking, answers waiting clients, closes peer links and the stores.
    func close() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        tickTask?.cancel()
        failAllWaiting(WireError(.unavailable, "node \(config.nodeID.rawValue) is shutting down"))
        for connection in connections.values { connection.closeNow() }
        flushConnections()
        let transportClosed = transport.close()
        stopped = true
        let disk = self.disk
        let nodeStore = self.nodeStore
        let diskPool = self.diskPool
        let loop = self.loop
        return transportClosed.flatMap { _ in
            diskPool.runIfActive(eventLoop: loop) {
                disk.close()
                nodeStore.close()
            }
        }
    }
}
