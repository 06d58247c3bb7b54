import Collections

/// The checkpoint tracker's message rows by sequence, with no hashing on the publish path.
///
/// Sequences are assigned in increasing order, so the rows of messages published since the previous checkpoint
/// form an append-ordered run: they live in `dense`, slot `seq - base`, with nil tombstones for sequences that
/// have no row (acked messages, topic records, gaps). Rows of older messages (a lease or nack of a message stored
/// before the checkpoint) and rows far beyond the run go to `sparse`, a dictionary.
///
/// Invariant: every `sparse` key is below `base`; `live` counts the non-nil `dense` slots; `dense` never starts
/// with a tombstone. A sequence is in at most one of the two parts, so lookups check one part only.
struct MessageRowTable: Sendable {
    private var dense: Deque<MessageRow?> = []
    private var base: UInt64 = 0
    private var live = 0
    private var sparse: [UInt64: MessageRow] = [:]

    /// The most tombstones a new row may skip to stay in the append-ordered run (topic records, messages acked
    /// before their neighbours were published). A larger gap, or one that would leave the run too sparse, moves
    /// the run's rows to `sparse` and starts anew.
    static let appendGapMax: UInt64 = 4_096

    /// Below this many slots the run is never compacted.
    static let compactionSlotsMin = 4_096

    /// The run is compacted into `sparse` when fewer than 1 slot in this many holds a row (checked on removal and
    /// before padding), so it never holds more than `compactionSlotsMin` slots or this many per row.
    static let compactionSparsity = 4

    /// The number of rows.
    var count: Int { live + sparse.count }

    var isEmpty: Bool { count == 0 }

    /// The slots of the append-ordered run, tombstones included (its memory footprint).
    var denseSlots: Int { dense.count }

    private var end: UInt64 { base + UInt64(dense.count) }

    /// Reserves room for `capacity` rows in the append-ordered run.
    mutating func reserveCapacity(_ capacity: Int) {
        dense.reserveCapacity(capacity)
    }

    /// The row of `seq`; setting nil removes it.
    subscript(seq: UInt64) -> MessageRow? {
        get {
            if seq >= base, seq < end { return dense[Int(seq - base)] }
            return sparse[seq]
        }
        set {
            if let newValue { insert(newValue, at: seq) } else { removeValue(forKey: seq) }
        }
    }

    /// Runs `body` on the row of `seq` in place; nil (and `body` is not run) when there is none.
    mutating func modify<Result>(_ seq: UInt64, _ body: (inout MessageRow) -> Result) -> Result? {
        if seq >= base, seq < end {
            let slot = Int(seq - base)
            guard dense[slot] != nil else { return nil }
            return body(&dense[slot]!)
        }
        guard let index = sparse.index(forKey: seq) else { return nil }
        return body(&sparse.values[index])
    }

    /// Removes and returns the row of `seq`, if any.
    @discardableResult
    mutating func removeValue(forKey seq: UInt64) -> MessageRow? {
        guard seq >= base, seq < end else { return sparse.removeValue(forKey: seq) }
        let slot = Int(seq - base)
        guard let removed = dense[slot] else { return nil }
        dense[slot] = nil
        live -= 1
        while let first = dense.first, first == nil {
            dense.removeFirst()
            base += 1
        }
        if dense.count >= Self.compactionSlotsMin, live * Self.compactionSparsity < dense.count {
            restartRun(at: end)
        }
        return removed
    }

    /// Calls `body` on every row in ascending sequence order.
    func forEachAscending(_ body: (UInt64, MessageRow) throws -> Void) rethrows {
        for seq in sparse.keys.sorted() { try body(seq, sparse[seq]!) }
        for (offset, row) in dense.enumerated() {
            if let row { try body(base + UInt64(offset), row) }
        }
    }

    private mutating func insert(_ row: MessageRow, at seq: UInt64) {
        if seq < base {
            sparse[seq] = row
            return
        }
        if seq < end {
            let slot = Int(seq - base)
            if dense[slot] == nil { live += 1 }
            dense[slot] = row
            return
        }
        if live > 0, seq - end > Self.appendGapMax || !isDenseEnough(slots: dense.count + Int(seq - end) + 1) {
            restartRun(at: seq)
        }
        if live == 0 {
            dense.removeAll(keepingCapacity: true)
            base = seq
        }
        for _ in end..<seq { dense.append(nil) }
        dense.append(row)
        live += 1
    }

    /// Whether a run of `slots` slots holding one more row than now is dense enough to keep (or small).
    private func isDenseEnough(slots: Int) -> Bool {
        slots < Self.compactionSlotsMin || (live + 1) * Self.compactionSparsity >= slots
    }

    /// Moves the run's rows to `sparse` and starts an empty run at `newBase`, which must be at or past `end`.
    private mutating func restartRun(at newBase: UInt64) {
        precondition(newBase >= end, "run restarted at \(newBase), inside [\(base), \(end))")
        for (offset, row) in dense.enumerated() {
            if let row { sparse[base + UInt64(offset)] = row }
        }
        dense.removeAll(keepingCapacity: true)
        base = newBase
        live = 0
    }
}
