/// The core's view of the log: the persisted part in `RaftStorage` plus the unstable tail (and possibly an
/// incoming snapshot) that a `Ready` has asked the shell to persist.
struct RaftLog {
    let storage: any RaftStorage
    /// Entries not yet persisted; `unstable[0].index == unstableOffset`.
    private(set) var unstable: [Entry] = []
    private(set) var unstableOffset: LogIndex
    /// A snapshot received from the leader, not yet installed by the shell.
    private(set) var pendingSnapshot: SnapshotMetadata?
    /// Invariant: `applied <= committed <= lastIndex`.
    private(set) var committed: LogIndex
    private(set) var applied: LogIndex

    init(storage: any RaftStorage, committed: LogIndex, applied: LogIndex) {
        self.storage = storage
        self.unstableOffset = storage.lastIndex.next
        let floor = storage.firstIndex.previous
        self.committed = max(committed, floor)
        self.applied = max(applied, floor)
        precondition(self.committed <= storage.lastIndex, "commit \(committed) beyond last \(storage.lastIndex)")
        precondition(self.applied <= self.committed, "applied \(applied) beyond commit \(committed)")
    }

    var firstIndex: LogIndex { pendingSnapshot.map { $0.index.next } ?? storage.firstIndex }

    var lastIndex: LogIndex {
        if let last = unstable.last { return last.index }
        if let snapshot = pendingSnapshot { return snapshot.index }
        return storage.lastIndex
    }

    var lastTerm: Term { term(lastIndex) ?? .zero }

    /// The last index that is already durable (handed out and acknowledged by `advance`).
    var stableLastIndex: LogIndex { unstableOffset.previous }

    /// The term at `index`, or nil when it is compacted or beyond the end.
    func term(_ index: LogIndex) -> Term? {
        if index >= unstableOffset {
            let position = Int(index.rawValue - unstableOffset.rawValue)
            return position < unstable.count ? unstable[position].term : nil
        }
        if let snapshot = pendingSnapshot {
            return index == snapshot.index ? snapshot.term : nil
        }
        return try? storage.term(index)
    }

    func matchTerm(_ index: LogIndex, _ term: Term) -> Bool { self.term(index) == term }

    /// §5.4.1: a candidate's log is at least as up to date as ours.
    func isUpToDate(lastIndex candidateIndex: LogIndex, lastTerm candidateTerm: Term) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Entries `lo..<hi`, bounded by `maxBytes` (at least one entry); nil when `lo` is compacted.
    func entries(from lo: LogIndex, to hi: LogIndex, maxBytes: Int) -> [Entry]? {
        if lo < firstIndex { return nil }
        if lo >= hi { return [] }
        var result: [Entry] = []
        if lo < unstableOffset {
            let storedHi = min(hi, unstableOffset)
            guard let stored = try? storage.entries(lo..<storedHi, maxBytes: maxBytes) else { return nil }
            result = stored
            if result.count < Int(storedHi.rawValue - lo.rawValue) { return result }
        }
        if hi > unstableOffset {
            var bytes = result.reduce(0) { $0 + $1.data.count }
            let start = Int(max(lo, unstableOffset).rawValue - unstableOffset.rawValue)
            let end = Int(hi.rawValue - unstableOffset.rawValue)
            for entry in unstable[start..<end] {
                bytes += entry.data.count
                if !result.isEmpty && bytes > maxBytes { break }
                result.append(entry)
            }
        }
        return result
    }

    /// The largest index <= `index` whose term is <= `term`: the fast-backtracking probe (thesis §5.3 note).
    func findConflict(atOrBefore index: LogIndex, term: Term) -> LogIndex {
        var probe = min(index, lastIndex)
        while probe >= firstIndex, let found = self.term(probe), found > term {
            probe = probe.previous
        }
        return probe
    }

    /// Appends entries, replacing a conflicting unstable or stable suffix (§5.3 step 3).
    mutating func append(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        precondition(first.index > committed, "append at \(first.index) truncates committed \(committed)")
        precondition(first.index <= lastIndex.next, "append at \(first.index) leaves a gap after \(lastIndex)")
        if first.index == lastIndex.next && !unstable.isEmpty {
            unstable.append(contentsOf: entries)
        } else if first.index <= unstableOffset {
            unstableOffset = first.index
            unstable = entries
        } else {
            unstable.removeSubrange(Int(first.index.rawValue - unstableOffset.rawValue)...)
            unstable.append(contentsOf: entries)
        }
    }

    /// Appends the entries of an AppendEntries after `prev`, skipping those already held and truncating at the
    /// first conflict. Returns the index of the last new entry.
    mutating func appendFromLeader(after prev: LogIndex, _ entries: [Entry]) -> LogIndex {
        for (position, entry) in entries.enumerated() where !matchTerm(entry.index, entry.term) {
            append(Array(entries[position...]))
            break
        }
        return LogIndex(prev.rawValue + UInt64(entries.count))
    }

    mutating func commit(to index: LogIndex) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) beyond last \(lastIndex)")
        committed = index
    }

    mutating func applied(to index: LogIndex) {
        precondition(index <= committed && index >= applied, "applied \(index) outside \(applied)...\(committed)")
        applied = index
    }

    /// Replaces the log with a snapshot received from the leader (§7 step 7).
    mutating func restore(_ snapshot: SnapshotMetadata) {
        pendingSnapshot = snapshot
        unstable = []
        unstableOffset = snapshot.index.next
        committed = snapshot.index
        applied = snapshot.index
    }

    /// What `ready()` hands out; `stable(...)` acknowledges it.
    var unstableEntries: [Entry] { unstable }

    /// The shell has persisted entries through `index` (with `term`) and the pending snapshot if `snapshot`.
    mutating func stable(through index: LogIndex, term: Term, snapshot: SnapshotMetadata?) {
        if let snapshot, pendingSnapshot == snapshot { pendingSnapshot = nil }
        guard index >= unstableOffset, matchTerm(index, term) else { return }
        unstable.removeSubrange(..<Int(index.rawValue - unstableOffset.rawValue + 1))
        unstableOffset = index.next
    }

    /// The next entries to apply, bounded by `maxBytes`.
    func nextCommitted(maxBytes: Int) -> [Entry] {
        guard committed > applied else { return [] }
        return entries(from: applied.next, to: committed.next, maxBytes: maxBytes) ?? []
    }

    var description: String {
        "log(first=\(firstIndex) last=\(lastIndex) stable=\(stableLastIndex) commit=\(committed) "
            + "applied=\(applied) snap=\(pendingSnapshot.map { "\($0)" } ?? "none"))"
    }
}
