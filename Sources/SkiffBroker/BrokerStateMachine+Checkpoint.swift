/// Checkpoints (deltas of SQLite rows), restore, and the state hash.
///
/// Tables (all owned by this module):
/// - `broker_meta(key, value)`: one row per entity (`n/<namespace>`, `q/<id>`, `x/<id>`, `t/<id>`, `g/<id>`,
///   `p/<id>`, `tx/<id>`, `h/<id>`) and the `global` row (counters, clock, applied index).
/// - `broker_messages(seq, queue, meta)`: every held queue message (ready, delayed or leased).
/// - `broker_records(seq, topic, partition, offset, meta)`: every retained topic record.
/// - `broker_payloads(seq, payload)`: bodies, headers, ids and keys, keyed by sequence (`Payload.encoded()`).
extension BrokerStateMachine {
    /// CREATE TABLE statements for the broker's checkpoint tables.
    public static var schema: [String] {
        [
            "CREATE TABLE IF NOT EXISTS broker_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS broker_messages(seq INTEGER PRIMARY KEY, queue INTEGER NOT NULL, meta BLOB NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS broker_records(seq INTEGER PRIMARY KEY, topic INTEGER NOT NULL, \
            partition INTEGER NOT NULL, offset INTEGER NOT NULL, meta BLOB NOT NULL)
            """,
            "CREATE TABLE IF NOT EXISTS broker_payloads(seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
        ]
    }

    static let upsertMeta = "INSERT OR REPLACE INTO broker_meta(key, value) VALUES (?, ?)"
    static let deleteMeta = "DELETE FROM broker_meta WHERE key = ?"
    static let upsertMessage = "INSERT OR REPLACE INTO broker_messages(seq, queue, meta) VALUES (?, ?, ?)"
    static let deleteMessage = "DELETE FROM broker_messages WHERE seq = ?"
    static let upsertRecord =
        "INSERT OR REPLACE INTO broker_records(seq, topic, partition, offset, meta) VALUES (?, ?, ?, ?, ?)"
    static let deleteRecord = "DELETE FROM broker_records WHERE seq = ?"
    static let upsertPayload = "INSERT OR REPLACE INTO broker_payloads(seq, payload) VALUES (?, ?)"
    /// The SQL of the statement that stores a payload row (`seq`, `Payload.encoded()`): the shell may store the
    /// payload column in another form (compressed) as long as its `PayloadSource` gives the payload back.
    public static var upsertPayloadSQL: String { upsertPayload }
    static let deletePayload = "DELETE FROM broker_payloads WHERE seq = ?"

    static func int(_ value: UInt64) -> StoreValue { .int(Int64(bitPattern: value)) }

    /// The rows changed since the previous call (or since `init`/`restore`), in a deterministic order. The shell
    /// MUST execute all of them in one SQLite transaction. Payloads of messages and records stored since the
    /// previous checkpoint are released from RAM: afterwards they are read through `payloadSource`.
    ///
    /// A message or record that was stored and removed between two checkpoints appears in neither.
    public mutating func takeCheckpointDelta() -> [StoreStatement] {
        detachCheckpointDelta().statements()
    }

    /// Streams the same statements as `takeCheckpointDelta()` one by one, so a large delta is never held in RAM
    /// twice. The change tracker is reset (and payloads released) only after `write` accepted every statement: if
    /// it throws, nothing is forgotten and the next call emits the whole delta again.
    public mutating func writeCheckpointDelta(_ write: (StoreStatement) throws -> Void) rethrows {
        try makeCheckpointDelta().write(write)
        tracker = CheckpointTracker()
    }

    /// Detaches the changes since the previous checkpoint as a `CheckpointDelta`, in time proportional to the
    /// number of changed entities (not messages): message and record rows are encoded later, by the delta's
    /// `write`, which may run on another thread. The tracker is reset, so the payloads of messages and records
    /// stored since the previous checkpoint are released from RAM; until the delta's transaction commits the
    /// shell MUST answer `payloadSource` reads for them from `CheckpointDelta.payload(for:)`.
    ///
    /// Writing the returned delta gives exactly the statements `takeCheckpointDelta()` would have returned.
    public mutating func detachCheckpointDelta() -> CheckpointDelta {
        let delta = makeCheckpointDelta()
        // The next delta is likely as large as this one: room for it up front spares the message table's
        // rehashes as it grows (bounded, so one huge delta does not pin memory).
        let expected = min(tracker.messages.count, Self.trackedMessagesReserveMax)
        tracker = CheckpointTracker()
        tracker.messages.reserveCapacity(expected)
        return delta
    }

    /// The most message rows the tracker reserves room for after a checkpoint.
    static let trackedMessagesReserveMax = 65_536

    private func makeCheckpointDelta() -> CheckpointDelta {
        let entities = tracker.entities.sorted().map { key in (key: key.rowKey, row: encodeEntity(key)) }
        return CheckpointDelta(tracker: tracker, entities: entities, global: encodeGlobal())
    }

    /// Rebuilds a broker from its checkpoint tables. `query` runs a SELECT and returns all rows.
    public static func restore(query: (String) throws -> [[StoreValue]]) throws -> BrokerStateMachine {
        try restore(scan: { sql, visit in
            for row in try query(sql) { try visit(row) }
        })
    }

    /// Rebuilds a broker from its checkpoint tables, streaming rows: `scan(sql, visit)` runs a SELECT and calls
    /// `visit` once per row, in the order the SQL asks for. Use this for large backlogs.
    public static func restore(
        scan: (String, ([StoreValue]) throws -> Void) throws -> Void
    ) throws -> BrokerStateMachine {
        var machine = BrokerStateMachine()
        try scan("SELECT key, value FROM broker_meta ORDER BY key") { row in
            guard row.count == 2, case .text(let key) = row[0], case .blob(let value) = row[1] else {
                throw ByteReader.malformed("broker_meta row shape")
            }
            if key == "global" {
                try machine.decodeGlobal(value)
            } else {
                try machine.decodeEntity(key: key, value)
            }
        }
        machine.rebuildNames()
        try scan("SELECT seq, queue, meta FROM broker_messages ORDER BY seq") { row in
            guard row.count == 3, case .int(let seq) = row[0], case .int(let queue) = row[1],
                case .blob(let meta) = row[2]
            else { throw ByteReader.malformed("broker_messages row shape") }
            try machine.restoreMessage(seq: UInt64(bitPattern: seq), queue: UInt32(truncatingIfNeeded: queue), meta)
        }
        try scan("SELECT seq, topic, partition, offset, meta FROM broker_records ORDER BY seq") { row in
            guard row.count == 5, case .int(let seq) = row[0], case .int(let topic) = row[1],
                case .int(let partition) = row[2], case .int(let offset) = row[3], case .blob(let meta) = row[4]
            else { throw ByteReader.malformed("broker_records row shape") }
            let record = try decodeRecordRow(seq: UInt64(bitPattern: seq), offset: UInt64(bitPattern: offset), meta)
            try machine.restoreRecord(topic: UInt32(truncatingIfNeeded: topic), partition: Int(partition), record)
        }
        try machine.checkRestoredReferences()
        machine.rebuildTimers()
        return machine
    }

    /// Cross-row consistency of restored state, so that a damaged database is an error here rather than a trap
    /// later: groups match their topic, bindings name live queues, ids are below their allocators.
    private func checkRestoredReferences() throws(BrokerError) {
        for group in groups.values {
            guard let topic = topics[group.topic], group.owners.count == topic.partitions.count else {
                throw ByteReader.malformed("group g/\(group.id) does not match its topic \(group.topic)")
            }
            guard group.owners.allSatisfy({ $0 == nil || group.members[$0!] != nil }) else {
                throw ByteReader.malformed("group g/\(group.id) assigns a partition to a non-member")
            }
        }
        for exchange in exchanges.values where !exchange.bindings.allSatisfy({ queues[$0.queue] != nil }) {
            throw ByteReader.malformed("exchange x/\(exchange.id) binds a missing queue")
        }
        let ids = Array(queues.keys) + Array(exchanges.keys) + Array(topics.keys) + Array(groups.keys)
        guard ids.allSatisfy({ $0 < nextEntity }) else { throw ByteReader.malformed("entity id above the allocator") }
        for queue in queues.values {
            guard queue.leases.keys.allSatisfy({ $0 < nextLease }) else {
                throw ByteReader.malformed("lease id above the allocator in queue q/\(queue.id)")
            }
        }
    }

    private mutating func rebuildNames() {
        for queue in queues.values {
            namespaces[queue.namespace, default: NamespaceState()].queues[queue.name] = queue.id
        }
        for exchange in exchanges.values {
            namespaces[exchange.namespace, default: NamespaceState()].exchanges[exchange.name] = exchange.id
        }
        for topic in topics.values {
            namespaces[topic.namespace, default: NamespaceState()].topics[topic.name] = topic.id
        }
        for group in groups.values { topics[group.topic]?.groups[group.name] = group.id }
        for queue in queues.values {
            if let active = queue.activeConsumer { activeConsumerQueues[active, default: []].insert(queue.id) }
        }
    }

    private mutating func restoreMessage(seq: UInt64, queue id: UInt32, _ meta: [UInt8]) throws {
        guard queues[id] != nil else { throw ByteReader.malformed("message m\(seq) of unknown queue \(id)") }
        guard seq < nextSeq, seq < 1 << 58 else { throw ByteReader.malformed("message m\(seq) above the allocator") }
        let (message, place) = try Self.decodeMessageRow(seq: seq, meta)
        switch place {
        case .ready:
            queues[id]!.insertReady(message)
        case .delayed(let visibleAt):
            queues[id]!.delayed[seq] = DelayedMessage(visibleAt: visibleAt, message: message)
            queues[id]!.heldBytes += UInt64(message.size)
        case .leased(let lease, let consumer, let deadline):
            queues[id]!.leases[lease] = Lease(message: message, consumer: consumer, deadline: deadline)
            queues[id]!.heldBytes += UInt64(message.size)
        }
    }

    private mutating func restoreRecord(topic id: UInt32, partition: Int, _ record: RecordMeta) throws {
        guard let topic = topics[id], partition >= 0, partition < topic.partitions.count else {
            throw ByteReader.malformed("record m\(record.seq) of unknown topic partition \(id)/\(partition)")
        }
        topics[id]!.partitions[partition].records.append(record)
        topics[id]!.partitions[partition].bytes += UInt64(record.size)
        if let key = record.key { topics[id]!.partitions[partition].keyIndex[key] = record.offset }
    }

    /// A 64-bit FNV-1a hash of the whole replicated state in canonical form (the same encoding as a full
    /// checkpoint: global row, entity rows by key, message rows and record rows by sequence). Payload bytes,
    /// timers and other derived indexes are not included. Equal states have equal hashes on every replica.
    public func stateHash() -> UInt64 {
        var hasher = FNV1a64()
        hasher.combine(encodeGlobal())
        var keys: [EntityKey] = namespaces.keys.map { .namespace($0) }
        keys += queues.keys.map { .queue($0) } + exchanges.keys.map { .exchange($0) } + topics.keys.map { .topic($0) }
        keys += groups.keys.map { .group($0) } + producers.keys.map { .producer($0) }
        keys += transactions.keys.map { .transaction($0) } + halves.keys.map { .half($0) }
        for key in keys.sorted() {
            hasher.combine(key.rowKey.utf8)
            hasher.combine(encodeEntity(key)!)
        }
        var rows: [(UInt64, UInt32, [UInt8])] = []
        for (id, queue) in queues {
            for level in queue.levels {
                for message in level { rows.append((message.seq, id, Self.encodeMessageRow(message, .ready))) }
            }
            for (seq, delayed) in queue.delayed {
                rows.append((seq, id, Self.encodeMessageRow(delayed.message, .delayed(visibleAt: delayed.visibleAt))))
            }
            for (lease, held) in queue.leases {
                let place = MessagePlace.leased(lease: lease, consumer: held.consumer, deadline: held.deadline)
                rows.append((held.message.seq, id, Self.encodeMessageRow(held.message, place)))
            }
        }
        for (id, topic) in topics {
            for (index, partition) in topic.partitions.enumerated() {
                for record in partition.records {
                    var blob = Self.encodeRecordRow(record)
                    withUnsafeBytes(of: record.offset.littleEndian) { blob.append(contentsOf: $0) }
                    rows.append((record.seq, id << 12 | UInt32(index), blob))
                }
            }
        }
        for (seq, owner, blob) in rows.sorted(by: { $0.0 < $1.0 }) {
            withUnsafeBytes(of: seq.littleEndian) { hasher.combine($0) }
            withUnsafeBytes(of: owner.littleEndian) { hasher.combine($0) }
            hasher.combine(blob)
        }
        return hasher.value
    }
}

/// The rows a checkpoint writes, detached from the broker (`BrokerStateMachine.detachCheckpointDelta()`).
///
/// The entity rows and the global row were encoded when the delta was detached (they depend on the broker's
/// state then); message and record rows are plain values, encoded by `write`. A value: safe to hand to
/// another thread while the broker goes on applying entries.
public struct CheckpointDelta: Sendable {
    let tracker: CheckpointTracker
    /// `broker_meta` rows by key, sorted; nil deletes the row.
    let entities: [(key: String, row: [UInt8]?)]
    let global: [UInt8]

    /// The number of message and record rows the delta upserts (a measure of its size).
    public var rowCount: Int { tracker.messages.count + tracker.records.count }

    /// The payload of a message or record stored since the previous checkpoint, which the broker released from
    /// RAM when the delta was detached; nil for any other sequence.
    public func payload(for sequence: MessageSeq) -> Payload? {
        tracker.messages[sequence.rawValue]?.payload ?? tracker.records[sequence.rawValue]?.payload
    }

    /// Emits the delta's statements in a deterministic order: deletes, message rows, record rows (each by
    /// sequence, each followed by its payload row), entity rows, the global row. The shell MUST execute all of
    /// them in one SQLite transaction.
    public func write(_ write: (StoreStatement) throws -> Void) rethrows {
        typealias Machine = BrokerStateMachine
        for seq in tracker.messageDeletes.sorted() {
            try write(StoreStatement(sql: Machine.deleteMessage, bindings: [Machine.int(seq)]))
            try write(StoreStatement(sql: Machine.deletePayload, bindings: [Machine.int(seq)]))
        }
        for seq in tracker.recordDeletes.sorted() {
            try write(StoreStatement(sql: Machine.deleteRecord, bindings: [Machine.int(seq)]))
            try write(StoreStatement(sql: Machine.deletePayload, bindings: [Machine.int(seq)]))
        }
        try tracker.messages.forEachAscending { seq, row in
            let meta = Machine.encodeMessageRow(row.message, row.place)
            try write(
                StoreStatement(
                    sql: Machine.upsertMessage, bindings: [Machine.int(seq), .int(Int64(row.queue)), .blob(meta)]))
            if let payload = row.payload { try write(Self.payloadStatement(seq, payload)) }
        }
        // Sorted dictionary positions, not keys: reading a row at its position costs no second hash lookup.
        for (seq, position) in Self.sortedPositions(tracker.records) {
            let row = tracker.records[position].value
            let bindings: [StoreValue] = [
                Machine.int(seq), .int(Int64(row.topic)), .int(Int64(row.partition)), Machine.int(row.meta.offset),
                .blob(Machine.encodeRecordRow(row.meta)),
            ]
            try write(StoreStatement(sql: Machine.upsertRecord, bindings: bindings))
            try write(Self.payloadStatement(seq, row.payload))
        }
        for (key, row) in entities {
            if let row {
                try write(StoreStatement(sql: Machine.upsertMeta, bindings: [.text(key), .blob(row)]))
            } else {
                try write(StoreStatement(sql: Machine.deleteMeta, bindings: [.text(key)]))
            }
        }
        try write(StoreStatement(sql: Machine.upsertMeta, bindings: [.text("global"), .blob(global)]))
    }

    /// The rows' keys in ascending order, each with the row's position in `rows`.
    private static func sortedPositions<Row>(_ rows: [UInt64: Row]) -> [(UInt64, Dictionary<UInt64, Row>.Index)] {
        var order = rows.indices.map { (rows[$0].key, $0) }
        order.sort { $0.0 < $1.0 }
        return order
    }

    /// All of `write`'s statements in an array.
    public func statements() -> [StoreStatement] {
        var statements: [StoreStatement] = []
        statements.reserveCapacity(rowCount * 2 + tracker.messageDeletes.count * 2 + entities.count + 8)
        write { statements.append($0) }
        return statements
    }

    private static func payloadStatement(_ seq: UInt64, _ payload: Payload) -> StoreStatement {
        StoreStatement(
            sql: BrokerStateMachine.upsertPayload, bindings: [BrokerStateMachine.int(seq), .blob(payload.encoded())])
    }
}
