import NIOConcurrencyHelpers
import SkiffBroker
import SkiffLog
import SkiffRaft
import SkiffStore

/// What a checkpoint did.
enum CheckpointOutcome: Sendable, Hashable {
    /// A snapshot was installed since the delta was taken: nothing was written (the delta is stale).
    case skipped
    /// The checkpoint is durable; `snapshot` is the file made of it, when one was asked for.
    case written(snapshot: SnapshotFile?)
}

/// A snapshot file this node holds: a `VACUUM INTO` copy of the checkpoint database at `metadata.index`.
struct SnapshotFile: Sendable, Hashable {
    var metadata: SkiffRaft.SnapshotMetadata
    /// The store's description of the file (size, whole-file CRC32C), sent ahead of the bytes.
    var storeMetadata: SkiffStore.SnapshotMetadata
    var path: String
    var size: UInt64 { storeMetadata.byteCount }
}

/// The node's non-log state on disk: the SQLite checkpoint database, snapshot files, the membership and
/// address book, and the repair marker.
///
/// Layout under the data directory: `log/` (the Raft log), `state.db`, `snapshots/snap-<index>.db` with
/// `.meta` beside it, `snapshots/incoming.stream` (a snapshot being received), `node.meta` (membership and
/// addresses) and `REPAIR_PENDING`.
///
/// Threads: checkpoints run on the checkpoint thread, snapshot installs on the disk thread, payload reads and
/// chunk reads on the loop. `lock` serialises the database swap of an install against checkpoints (it is held
/// for a whole checkpoint transaction). Payload reads never take it: they use their own connection (`reader`,
/// WAL lets it read while the writer's transaction runs) behind `readerLock`, held only to copy the reference.
final class NodeStore: @unchecked Sendable {
    static let payloadCacheBytesMax = 64 << 20
    /// The snapshot stream starts with `u32` big-endian header length, then the store metadata, then the file.
    static let streamHeaderBytesMax = 2 << 20

    let directory: String
    let fileSystem = RealFileSystem()
    private let lock = NIOLock()
    private var writer: StateStore
    /// The payload-read connection. Guarded by `readerLock` (swapped by an install under both locks).
    private(set) var reader: StateStore
    let readerLock = NIOLock()
    /// Bumped when an installed snapshot replaces the database; a checkpoint taken from the broker state of an
    /// older generation MUST NOT be written into the new database.
    private var generation: UInt64 = 0
    let payloads = PayloadCache<UInt64>(bytesMax: payloadCacheBytesMax)
    /// The delta being checkpointed: the payloads the broker released from RAM when it detached the delta,
    /// readable from here until its transaction commits. Guarded by `stagedLock`.
    private var staged: CheckpointDelta?
    private let stagedLock = NIOLock()
    private let metaLock = NIOLock()
    private var meta = NodeMetaFile()

    var databasePath: String { directory + "/state.db" }
    var snapshotDirectory: String { directory + "/snapshots" }
    var incomingStreamPath: String { snapshotDirectory + "/incoming.stream" }
    var repairMarkerPath: String { directory + "/REPAIR_PENDING" }
    var logDirectory: String { directory + "/log" }

    init(directory: String) throws {
        self.directory = directory
        for path in [directory, directory + "/snapshots", directory + "/log"] where !fileSystem.exists(path) {
            try fileSystem.makeDirectory(path)
        }
        (writer, reader) = try Self.openDatabase(directory + "/state.db")
        if let bytes = try? readWholeFile(directory + "/node.meta") {
            meta = NodeMetaFile(decoding: String(decoding: bytes, as: UTF8.self))
        }
    }

    /// The on-disk format of `state.db` (SQLite's `PRAGMA user_version`): 0 for files from before it was recorded,
    /// whose payload rows are all raw; 2 when payload rows may be LZ4 frames (`RowCompression`). Opening a file of
    /// an older version upgrades it in place (its raw rows stay readable); a newer version is refused.
    static let schemaVersion: Int64 = 2
    /// The byte offset of `user_version` (`u32` big-endian) in a SQLite database file's header.
    static let userVersionHeaderOffset = 60

    private static func openDatabase(_ path: String) throws -> (StateStore, StateStore) {
        let writer = try StateStore.open(path: path)
        let found = try writer.query("PRAGMA user_version").first?.first?.integer ?? 0
        guard found <= schemaVersion else {
            writer.close()
            throw StoreError(.unsupportedSchemaVersion(found: found, supported: schemaVersion), context: path)
        }
        for statement in BrokerStateMachine.schema { try writer.execute(statement) }
        if found < schemaVersion { try writer.execute("PRAGMA user_version = \(schemaVersion)") }
        // A second connection for payload reads, so the loop never waits behind a checkpoint transaction.
        let reader = try StateStore.open(path: path)
        return (writer, reader)
    }

    /// The applied index of the last checkpoint.
    func appliedIndex() throws -> LogIndex { try lock.withLock { try writer.checkpointMeta().appliedIndex } }

    /// Rebuilds the broker from the checkpoint tables, wired to read released payloads from this store.
    func loadBroker() throws -> BrokerStateMachine {
        try lock.withLock {
            let db = writer
            var broker = try BrokerStateMachine.restore { sql in try db.query(sql).map(Self.storeValues) }
            broker.payloadSource = StorePayloadSource(store: self)
            return broker
        }
    }

    /// The `payload` column value a checkpoint stores for a payload's encoding: an LZ4 frame when that is clearly
    /// smaller (`RowCompression`), else the encoding itself.
    static func encodePayloadRow(_ encoded: [UInt8], _ compressor: RowCompression.Compressor) -> [UInt8] {
        compressor.encode(encoded)
    }

    /// The payload encoding (`Payload.encoded()`) held by a `broker_payloads.payload` value; nil when damaged.
    /// Every reader of that column MUST go through this: since schema version 2 a value may be an LZ4 frame.
    static func decodePayloadRow(_ stored: [UInt8]) -> [UInt8]? { RowCompression.decode(stored) }

    /// The payload held by a `broker_payloads.payload` value, raw or compressed; nil when it does not decode.
    static func decodeStoredPayload(_ stored: [UInt8]) -> Payload? {
        decodePayloadRow(stored).flatMap { try? Payload.decode($0) }
    }

    /// Reads a released payload (the broker's `PayloadSource`).
    func payload(for sequence: MessageSeq) -> Payload? {
        if let payload = stagedLock.withLock({ staged?.payload(for: sequence) }) { return payload }
        let bytes = payloads.fetch(sequence.rawValue) { readPayloads(from: sequence) }
        return bytes.flatMap { try? Payload.decode($0) }
    }

    /// Payloads read ahead on a miss: the sequences in `seq ..< seq + payloadReadAheadRows`, since a queue is
    /// mostly consumed in sequence order (one query instead of one per message).
    static let payloadReadAheadRows: Int64 = 64
    /// Only payloads up to this size are read ahead (so one miss reads at most 64 x 64 KiB besides its own).
    static let payloadReadAheadBytesMax = 64 << 10

    /// Reads the payload of `sequence` from SQLite and caches the small payloads that follow it.
    private func readPayloads(from sequence: MessageSeq) -> [UInt8]? {
        let reader = readerLock.withLock { self.reader }
        let rows = try? reader.query(
            """
            SELECT seq, payload FROM broker_payloads WHERE seq >= ?1 AND seq < ?1 + ?2
            AND (seq = ?1 OR length(payload) <= ?3) ORDER BY seq
            """,
            [
                .integer(Int64(bitPattern: sequence.rawValue)), .integer(Self.payloadReadAheadRows),
                .integer(Int64(Self.payloadReadAheadBytesMax)),
            ])
        var wanted: [UInt8]?
        for row in rows ?? [] {
            guard row.count == 2, let seq = row[0].integer, let stored = row[1].blob else { continue }
            if UInt64(bitPattern: seq) == sequence.rawValue {
                wanted = Self.decodePayloadRow(stored)
            } else if let length = RowCompression.originalLength(stored), length <= Self.payloadReadAheadBytesMax,
                let bytes = Self.decodePayloadRow(stored)
            {
                payloads.put(UInt64(bitPattern: seq), bytes)
            }
        }
        return wanted
    }

    /// Keeps the payloads of a checkpoint delta readable until its transaction commits: the broker released
    /// them from RAM when it detached the delta. MUST be called on the loop right after `detachCheckpointDelta`,
    /// before any other broker read. O(1): the delta is kept as it is.
    func stage(_ delta: CheckpointDelta) {
        // One checkpoint at a time (`Node.checkpointing`); a delta left by a checkpoint that never ran (the pool
        // shut down) is stale, and is replaced.
        stagedLock.withLock { staged = delta }
    }

    /// The database generation now (see `generation`); read on the loop when a checkpoint delta is taken.
    func currentGeneration() -> UInt64 { lock.withLock { generation } }

    /// Writes the broker's delta with the checkpoint metadata in one transaction (durable on return) and, when
    /// `snapshot` is set, then copies the result into a snapshot file; all under the lock so an install cannot
    /// swap the database in between. Returns `.skipped` (writing nothing) when a snapshot was installed since
    /// the delta was taken in `generation`.
    ///
    /// `rows` emits the delta's statements (`CheckpointDelta.write`); they are encoded and bound one at a time
    /// inside the transaction. Clears the staged delta when done, whatever the outcome.
    func checkpoint(
        rows: (_ emit: (StoreStatement) throws -> Void) throws -> Void, metadata: SkiffRaft.SnapshotMetadata,
        generation taken: UInt64, snapshot: Bool
    ) throws -> CheckpointOutcome {
        defer { stagedLock.withLock { staged = nil } }
        let path = snapshotDirectory + "/snap-\(metadata.index.rawValue).db"
        let outcome = try lock.withLock { () throws -> (SkiffStore.SnapshotMetadata?, Bool) in
            guard generation == taken else { return (nil, false) }
            let slicer = CheckpointSlicer(walPath: databasePath + "-wal")
            defer { slicer.close() }
            // `rows` is called only inside this call; escaping in type only, for the nested closures.
            try withoutActuallyEscaping(rows) { rows in
                try writer.checkpoint(
                    appliedIndex: metadata.index, term: metadata.term,
                    membership: MembershipCodec.encode(metadata.confState)
                ) { run in
                    let compressor = RowCompression.Compressor()
                    try rows { statement in
                        let (sql, bytes) = Self.sqlStatement(statement, compressor)
                        try run(sql)
                        try slicer.statementWritten(bytes: bytes)
                    }
                }
            }
            guard snapshot else { return (nil, true) }
            if fileSystem.exists(path) { try fileSystem.unlink(path) }
            return (try writer.createSnapshot(at: path), true)
        }
        guard outcome.1 else { return .skipped }
        guard let storeMetadata = outcome.0 else { return .written(snapshot: nil) }
        precondition(storeMetadata.lastIndex == metadata.index, "snapshot at \(storeMetadata.lastIndex) != \(metadata)")
        try writeFileAtomically(path + ".meta", storeMetadata.encode())
        return .written(snapshot: SnapshotFile(metadata: metadata, storeMetadata: storeMetadata, path: path))
    }

    /// Snapshot files left by a previous run, oldest first (their `.meta` must decode).
    func existingSnapshots() -> [SnapshotFile] {
        guard let names = try? fileSystem.list(directory: snapshotDirectory) else { return [] }
        var files: [SnapshotFile] = []
        for name in names where name.hasPrefix("snap-") && name.hasSuffix(".db") {
            let path = snapshotDirectory + "/" + name
            guard let bytes = try? readWholeFile(path + ".meta"),
                let meta = try? SkiffStore.SnapshotMetadata.decode(bytes),
                let conf = try? MembershipCodec.decode(meta.membership)
            else {
                // A snapshot whose creation was interrupted by a crash: never complete, never sent.
                for leftover in [path, path + "-journal", path + ".meta", path + ".meta.tmp"] {
                    try? fileSystem.unlink(leftover)
                }
                continue
            }
            let raft = SkiffRaft.SnapshotMetadata(index: meta.lastIndex, term: meta.term, confState: conf)
            files.append(SnapshotFile(metadata: raft, storeMetadata: meta, path: path))
        }
        return files.sorted { $0.metadata.index < $1.metadata.index }
    }

    func deleteSnapshot(_ file: SnapshotFile) {
        try? fileSystem.unlink(file.path)
        try? fileSystem.unlink(file.path + ".meta")
    }

    /// The chunk of the snapshot stream at `offset`, and whether it is the last one.
    func readSnapshotChunk(_ file: SnapshotFile, offset: UInt64, chunkBytes: Int) throws -> ([UInt8], Bool) {
        let header = Self.streamHeader(file.storeMetadata)
        let total = UInt64(header.count) + file.size
        guard offset <= total else { throw StoreError(.snapshotMismatch("offset \(offset) beyond \(total)")) }
        var bytes: [UInt8] = []
        var position = offset
        let end = min(total, offset + UInt64(chunkBytes))
        if position < UInt64(header.count) {
            let upto = min(end, UInt64(header.count))
            bytes.append(contentsOf: header[Int(position)..<Int(upto)])
            position = upto
        }
        if position < end {
            let handle = try fileSystem.open(file.path, create: false)
            defer { handle.close() }
            let fileOffset = Int(position - UInt64(header.count))
            bytes.append(contentsOf: try handle.read(at: fileOffset, count: Int(end - position)))
        }
        return (bytes, end == total)
    }

    static func streamHeader(_ meta: SkiffStore.SnapshotMetadata) -> [UInt8] {
        let encoded = meta.encode()
        let n = UInt32(encoded.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + encoded
    }

    /// Writes one received chunk of the snapshot stream; offset 0 starts a new stream.
    func writeIncomingSnapshotChunk(_ chunk: SkiffRaft.SnapshotChunk) throws {
        let handle = try fileSystem.open(incomingStreamPath, create: true)
        defer { handle.close() }
        if chunk.offset == 0 { try handle.truncate(to: 0) }
        try handle.write(at: Int(chunk.offset), chunk.data)
        try handle.dataSync()
    }

    /// Verifies the received stream against its header and atomically replaces the database with it.
    func installIncomingSnapshot(_ metadata: SkiffRaft.SnapshotMetadata) throws {
        let stream = try fileSystem.open(incomingStreamPath, create: false)
        defer { stream.close() }
        let prefix = try stream.read(at: 0, count: 4)
        guard prefix.count == 4 else { throw StoreError(.snapshotMismatch("stream shorter than its header")) }
        let headerLength = Int(prefix[0]) << 24 | Int(prefix[1]) << 16 | Int(prefix[2]) << 8 | Int(prefix[3])
        guard headerLength <= Self.streamHeaderBytesMax else {
            throw StoreError(.snapshotMismatch("stream header of \(headerLength) bytes"))
        }
        let storeMeta = try SkiffStore.SnapshotMetadata.decode(try stream.read(at: 4, count: headerLength))
        guard storeMeta.lastIndex == metadata.index, storeMeta.term == metadata.term else {
            throw StoreError(.snapshotMismatch("stream is \(storeMeta.lastIndex)@\(storeMeta.term), want \(metadata)"))
        }
        try Self.checkSchemaVersion(stream, fileOffset: 4 + headerLength)
        let installer = try SnapshotWriter(metadata: storeMeta, tempPath: snapshotDirectory + "/incoming.db")
        var offset: UInt64 = 0
        while offset < storeMeta.byteCount {
            let count = Int(min(UInt64(SnapshotReader.defaultChunkBytes), storeMeta.byteCount - offset))
            let bytes = try stream.read(at: 4 + headerLength + Int(offset), count: count)
            guard bytes.count == count else { throw StoreError(.snapshotMismatch("stream truncated at \(offset)")) }
            let isLast = offset + UInt64(count) == storeMeta.byteCount
            try installer.accept(
                SkiffStore.SnapshotChunk(
                    offset: offset, bytes: bytes, checksum: CRC32C.checksum(of: bytes), isLast: isLast))
            offset += UInt64(count)
        }
        try lock.withLock {
            try readerLock.withLock {
                writer.close()
                reader.close()
                try installer.install(at: databasePath)
                (writer, reader) = try Self.openDatabase(databasePath)
            }
            generation += 1
        }
        // The payload cache stays valid: a sequence number is never reused and its payload never changes.
        try? fileSystem.unlink(incomingStreamPath)
    }

    /// Refuses a received database of a newer format than this build reads, before it replaces anything (the
    /// `user_version` field of the SQLite header of the file at `fileOffset` in `stream`).
    private static func checkSchemaVersion(_ stream: any StorageFile, fileOffset: Int) throws {
        let field = try stream.read(at: fileOffset + userVersionHeaderOffset, count: 4)
        guard field.count == 4 else { throw StoreError(.snapshotMismatch("database shorter than its header")) }
        let found = Int64(Int32(bitPattern: field.reduce(0) { $0 << 8 | UInt32($1) }))
        guard found <= schemaVersion else {
            throw StoreError(.unsupportedSchemaVersion(found: found, supported: schemaVersion), context: "snapshot")
        }
    }

    // MARK: Membership, addresses, repair marker.

    /// Persists a new membership, keeping the address book (atomic replace; disk thread).
    func updateNodeMeta(confState: ConfState) {
        metaLock.withLock {
            meta.confState = confState
            saveMetaLocked()
        }
    }

    /// Persists a new address book, keeping the membership (atomic replace).
    func updateNodeMeta(addresses: [AddressRecord]) {
        metaLock.withLock {
            meta.addresses = addresses.sorted { $0.node < $1.node }
            saveMetaLocked()
        }
    }

    private func saveMetaLocked() {
        do { try writeFileAtomically(directory + "/node.meta", Array(meta.encoded().utf8)) } catch {
            preconditionFailure("cannot persist node.meta in \(directory): \(error)")
        }
    }

    func loadNodeMeta() -> NodeMetaFile { metaLock.withLock { meta } }

    var repairPending: Bool { fileSystem.exists(repairMarkerPath) }

    func clearRepairMarker() { try? fileSystem.unlink(repairMarkerPath) }

    func close() {
        lock.withLock {
            readerLock.withLock {
                writer.close()
                reader.close()
            }
        }
    }

    // MARK: Helpers.

    func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let temp = path + ".tmp"
        let handle = try fileSystem.open(temp, create: true)
        try handle.truncate(to: 0)
        try handle.write(at: 0, bytes)
        try handle.sync()
        handle.close()
        try fileSystem.rename(from: temp, to: path)
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? directory
        try fileSystem.syncDirectory(parent)
    }

    func readWholeFile(_ path: String) throws -> [UInt8] {
        let handle = try fileSystem.open(path, create: false)
        defer { handle.close() }
        return try handle.read(at: 0, count: try handle.size())
    }

    /// The SQL form of one delta statement, with payload rows compressed (`encodePayloadRow`), and about how many
    /// bytes it writes (its bound values after compression).
    static func sqlStatement(
        _ statement: StoreStatement, _ compressor: RowCompression.Compressor
    ) -> (SQLStatement, Int) {
        let isPayload = statement.sql == BrokerStateMachine.upsertPayloadSQL
        var bytes = 0
        let bindings = statement.bindings.map { value -> SQLValue in
            switch value {
            case .blob(let raw) where isPayload:
                let stored = encodePayloadRow(raw, compressor)
                bytes += stored.count
                return .blob(stored)
            case .blob(let raw):
                bytes += raw.count
                return .blob(raw)
            case .text(let text):
                bytes += text.utf8.count
                return .text(text)
            default:
                bytes += MemoryLayout<Int64>.size
                return sqlValue(value)
            }
        }
        return (SQLStatement(statement.sql, bindings), bytes)
    }

    static func sqlValue(_ value: StoreValue) -> SQLValue {
        switch value {
        case .null: return .null
        case .int(let i): return .integer(i)
        case .real(let d): return .real(d)
        case .text(let s): return .text(s)
        case .blob(let b): return .blob(b)
        }
    }

    static func storeValues(_ row: [SQLValue]) -> [StoreValue] {
        row.map { value in
            switch value {
            case .null: return .null
            case .integer(let i): return .int(i)
            case .real(let d): return .real(d)
            case .text(let s): return .text(s)
            case .blob(let b): return .blob(b)
            }
        }
    }
}

/// The broker's window onto released payloads.
struct StorePayloadSource: PayloadSource {
    let store: NodeStore
    func payload(for sequence: MessageSeq) -> Payload? { store.payload(for: sequence) }
}

/// Membership bytes carried by checkpoints and snapshots: `u32` voter count, voters, `u32` learner count,
/// learners, all `u64` big-endian.
enum MembershipCodec {
    struct DecodeError: Error {}

    static func encode(_ conf: ConfState) -> [UInt8] {
        var bytes: [UInt8] = []
        for list in [conf.voters, conf.learners] {
            let n = UInt32(list.count)
            bytes += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
            for id in list { appendBigEndian(id.rawValue, to: &bytes) }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ConfState {
        var position = 0
        var lists: [[NodeID]] = []
        for _ in 0..<2 {
            guard position + 4 <= bytes.count else { throw DecodeError() }
            let n =
                Int(bytes[position]) << 24 | Int(bytes[position + 1]) << 16 | Int(bytes[position + 2]) << 8
                | Int(bytes[position + 3])
            position += 4
            guard n <= 1024, position + 8 * n <= bytes.count else { throw DecodeError() }
            lists.append((0..<n).map { NodeID(readBigEndian(bytes, at: position + 8 * $0)) })
            position += 8 * n
        }
        guard position == bytes.count else { throw DecodeError() }
        return ConfState(voters: lists[0], learners: lists[1])
    }
}
