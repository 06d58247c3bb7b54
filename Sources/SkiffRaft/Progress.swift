/// The leader's view of one follower's replication (thesis §3.5; the probe/replicate/snapshot states).
struct Progress: CustomStringConvertible {
    enum State: Sendable, Hashable {
        /// Unknown match: one append at a time, until the follower accepts one.
        case probe
        /// Known match: appends are pipelined, bounded by `Inflights`.
        case replicate
        /// The follower needs a snapshot; appends wait until it has installed it.
        case snapshot
    }

    /// Highest index known to be replicated on the follower.
    var match: LogIndex = .zero
    /// Next index to send.
    var next: LogIndex
    var state: State = .probe
    /// In probe state: an append is outstanding, wait for its answer or the next heartbeat.
    var probeSent = false
    /// Heard from since the last check-quorum round.
    var recentActive = false
    var inflights: Inflights
    /// In snapshot state: the snapshot being streamed and the next byte the follower expects.
    var pendingSnapshot: SnapshotMetadata?
    var snapshotOffset: UInt64 = 0
    /// In snapshot state: a chunk is outstanding.
    var snapshotChunkInFlight = false
    /// In snapshot state: ticks since the last chunk was sent or answered.
    var snapshotStallTicks = 0

    init(next: LogIndex, maxInflightMsgs: Int, maxInflightBytes: Int) {
        self.next = next
        self.inflights = Inflights(countMax: maxInflightMsgs, bytesMax: maxInflightBytes)
    }

    /// Whether the leader must hold back appends to this follower.
    var isPaused: Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.isFull
        case .snapshot: true
        }
    }

    mutating func becomeProbe() {
        if state == .snapshot, let snapshot = pendingSnapshot {
            next = max(match.next, snapshot.index.next)
        } else {
            next = match.next
        }
        resetState(.probe)
    }

    mutating func becomeReplicate() {
        next = match.next
        resetState(.replicate)
    }

    mutating func becomeSnapshot(_ snapshot: SnapshotMetadata) {
        resetState(.snapshot)
        pendingSnapshot = snapshot
    }

    private mutating func resetState(_ newState: State) {
        state = newState
        probeSent = false
        inflights.reset()
        pendingSnapshot = nil
        snapshotOffset = 0
        snapshotChunkInFlight = false
        snapshotStallTicks = 0
    }

    /// A successful append answer through `index`; false when it is stale.
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index.next)
        return updated
    }

    /// A rejected append at `rejected` with the follower's hint; false when the rejection is stale.
    mutating func maybeDecrease(rejected: LogIndex, matchHint: LogIndex) -> Bool {
        if state == .replicate {
            // Only the answer to the oldest outstanding append can lower `next` (later ones are in flight).
            guard rejected > match else { return false }
            next = match.next
            return true
        }
        guard next.rawValue > 0, rejected == next.previous else { return false }
        next = max(min(rejected, matchHint.next), match.next)
        probeSent = false
        return true
    }

    var description: String {
        "\(state) match=\(match) next=\(next) inflight=\(inflights.count)"
            + (pendingSnapshot.map { " snap=\($0.index) off=\(snapshotOffset)" } ?? "")
    }
}

/// The appends in flight to one follower, bounded by count and by payload bytes (pipelining bound).
struct Inflights {
    let countMax: Int
    let bytesMax: Int
    /// Last index and payload bytes of each append in flight, oldest first.
    private var items: [(last: LogIndex, bytes: Int)] = []
    private var head = 0
    private(set) var bytes = 0

    init(countMax: Int, bytesMax: Int) {
        self.countMax = countMax
        self.bytesMax = bytesMax
    }

    var count: Int { items.count - head }
    var isFull: Bool { count >= countMax || bytes >= bytesMax }

    mutating func add(last: LogIndex, bytes size: Int) {
        precondition(!isFull, "Inflights.add while full: count=\(count) bytes=\(bytes)")
        items.append((last, size))
        bytes += size
    }

    /// Frees every append whose last index is <= `index`.
    mutating func free(through index: LogIndex) {
        while head < items.count && items[head].last <= index {
            bytes -= items[head].bytes
            head += 1
        }
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Frees the oldest append: a heartbeat answer proves the follower is alive, so a lost append must not
    /// stall the pipeline forever (the follower rejects the gap and the leader backs up).
    mutating func freeFirst() {
        guard head < items.count else { return }
        free(through: items[head].last)
    }

    mutating func reset() {
        items.removeAll(keepingCapacity: true)
        head = 0
        bytes = 0
    }
}
