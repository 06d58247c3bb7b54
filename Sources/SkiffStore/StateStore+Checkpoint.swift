import CSQLite
import SkiffLog
import SkiffRaft

/// The metadata stored with every checkpoint and carried by every snapshot.
public struct CheckpointMeta: Sendable, Hashable {
    /// The last log index whose effects the database contains.
    public var appliedIndex: LogIndex
    /// The term of the entry at `appliedIndex`.
    public var term: Term
    /// The encoded cluster membership as of `appliedIndex` (opaque to the store).
    public var membership: [UInt8]

    public init(appliedIndex: LogIndex, term: Term, membership: [UInt8]) {
        self.appliedIndex = appliedIndex
        self.term = term
        self.membership = membership
    }
}

extension StateStore {
    /// The metadata of the last checkpoint (zero for a new database).
    public func checkpointMeta() throws -> CheckpointMeta {
        try lock.withLock { try checkpointMetaLocked() }
    }

    /// The last applied index recorded by a checkpoint; the node replays the log after it on restart.
    public var appliedIndex: LogIndex {
        get throws { try checkpointMeta().appliedIndex }
    }

    func checkpointMetaLocked() throws -> CheckpointMeta {
        let rows = try runLocked(
            SQLStatement("SELECT applied_index, term, membership FROM \(Self.metaTable) WHERE id = 1"))
        guard let row = rows.first, row.count == 3, let index = row[0].integer, let term = row[1].integer else {
            throw StoreError(.sqlite(code: SQLITE_CORRUPT, message: "checkpoint row missing"), context: path)
        }
        return CheckpointMeta(
            appliedIndex: LogIndex(UInt64(bitPattern: index)), term: Term(UInt64(bitPattern: term)),
            membership: row[2].blob ?? [])
    }

    /// Writes a checkpoint: the broker's delta statements and the new metadata in ONE transaction, durable
    /// when this returns (WAL, `synchronous=FULL`).
    ///
    /// `appliedIndex` MUST NOT go backwards; the log may be compacted up to it afterwards.
    public func checkpoint(
        appliedIndex: LogIndex, term: Term, membership: [UInt8], statements: [SQLStatement]
    ) throws {
        try checkpoint(appliedIndex: appliedIndex, term: term, membership: membership) { run in
            for statement in statements { try run(statement) }
        }
    }

    /// Writes a checkpoint like `checkpoint(appliedIndex:term:membership:statements:)`, with the delta's
    /// statements streamed: `rows` calls `run` once per statement, inside the transaction, so a large delta is
    /// never held in RAM as a whole. If `rows` or a statement throws, the transaction is rolled back.
    public func checkpoint(
        appliedIndex: LogIndex, term: Term, membership: [UInt8],
        rows: (_ run: (SQLStatement) throws -> Void) throws -> Void
    ) throws {
        try lock.withLock {
            let previous = try checkpointMetaLocked()
            precondition(
                appliedIndex >= previous.appliedIndex, "checkpoint at \(appliedIndex) below \(previous.appliedIndex)")
            let meta = SQLStatement(
                "UPDATE \(Self.metaTable) SET applied_index = ?, term = ?, membership = ? WHERE id = 1",
                [
                    .integer(Int64(bitPattern: appliedIndex.rawValue)), .integer(Int64(bitPattern: term.rawValue)),
                    .blob(membership),
                ])
            try transactionLocked {
                try rows { statement in _ = try runLocked(statement) }
                _ = try runLocked(meta)
            }
        }
    }
}
