import SkiffRaft

/// The durable Raft log: LZ4-compressed, checksummed blocks in segment files, plus the hard state.
///
/// All methods are thread-safe (one internal lock). Appends return once the data is durable (`fdatasync`).
/// For group commit across concurrent callers use `GroupCommitter`. The on-disk format, the durability
/// contract and the recovery rules are in docs/storage.md.
///
/// Health: after corruption the log is `.untrusted` (the node MUST NOT vote or lead); after ENOSPC it is
/// `.readOnly`; after a failed sync it is `.failed` for good and the process MUST exit.
public final class SegmentedLog: @unchecked Sendable {
    final class Segment {
        let sequence: UInt64
        let path: String
        let file: any StorageFile
        /// End of the data: where the next block goes.
        var size: Int
        /// Bytes the file is known to hold: `size` plus a zero-filled tail (`LogOptions.preallocateBytes`).
        var allocated: Int

        init(sequence: UInt64, path: String, file: any StorageFile, size: Int, allocated: Int? = nil) {
            self.sequence = sequence
            self.path = path
            self.file = file
            self.size = size
            self.allocated = max(size, allocated ?? size)
        }
    }

    /// A block whose entries are (partly) live, in log order.
    struct BlockRef {
        var segment: UInt64
        var offset: Int
        var header: BlockHeader
        /// Entries from `header.firstIndex` that are still in the log (a later block may have cut the rest).
        var liveCount: UInt32
        var firstIndex: LogIndex { header.firstIndex }
        var lastLive: LogIndex { LogIndex(header.firstIndex.rawValue + UInt64(liveCount) - 1) }
        var isFullyLive: Bool { liveCount == header.entryCount }
    }

    struct CacheKey: Hashable, Sendable {
        var segment: UInt64
        var offset: Int
    }

    /// The directory holding the segment files and the state file.
    public let directory: String
    let fileSystem: any FileSystem
    let options: LogOptions
    /// Guards the in-memory state below. Held briefly; never across a write or sync of an append.
    let lock = StorageLock()
    /// Serializes everything that changes the files (appends, hard state, compaction, reset, close).
    /// Lock order: `writeLock`, then `lock`.
    let writeLock = StorageLock()

    // Guarded by `lock` (mutated only with `writeLock` held as well, except health and the cache).
    var state = LogState()
    var segments: [Segment] = []
    var blocks: [BlockRef] = []
    var lastIndexValue = LogIndex.zero
    var healthValue = LogHealth.healthy
    var cache: LRUCache<CacheKey, [Entry]>
    var isClosed = false
    var report = RecoveryReport()

    /// What recovery found when the log was opened.
    public var recovery: RecoveryReport { lock.withLock { report } }

    init(directory: String, fileSystem: any FileSystem, options: LogOptions) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.options = options
        self.cache = LRUCache(weightMax: options.blockCacheBytesMax)
    }

    /// Opens (creating if needed) the log in `directory`, recovering from any crash.
    ///
    /// A torn tail is truncated and reported in `recovery.tornTail`. Corruption anywhere else does not throw:
    /// the log opens `.untrusted` with `recovery.corruption` naming the file and offset, serving the entries
    /// before the damage. Throws `LogError.io` when the directory or a file cannot be read at all.
    public static func open(
        directory: String, fileSystem: any FileSystem = RealFileSystem(), options: LogOptions = LogOptions()
    ) throws -> SegmentedLog {
        let log = SegmentedLog(directory: directory, fileSystem: fileSystem, options: options)
        do {
            try log.lock.withLock { try log.recover() }
        } catch let error as FileSystemError {
            throw LogError(.io(error))
        }
        return log
    }

    // MARK: Read-only properties

    /// The log's health; see `LogHealth`.
    public var health: LogHealth { lock.withLock { healthValue } }

    /// The index of the first entry in the log (`logStart.index + 1`; greater than `lastIndex` when empty).
    public var firstIndex: LogIndex { lock.withLock { state.logStart.index.next } }

    /// The index of the last entry (`logStart.index` when the log is empty).
    public var lastIndex: LogIndex { lock.withLock { lastIndexValue } }

    /// The term of the last entry (`logStart.term` when the log is empty).
    public var lastTerm: Term { lock.withLock { lastTermLocked() } }

    /// The position just before the first entry: the last entry covered by a snapshot or compaction.
    public var logStart: LogPosition { lock.withLock { state.logStart } }

    /// The persisted hard state.
    public var hardState: HardState { lock.withLock { state.hardState } }

    /// How many decoded blocks the cache holds, and their uncompressed bytes (bounded by
    /// `LogOptions.blockCacheBytesMax`). Opening the log decodes nothing, so both start at zero.
    public var cachedBlocks: (count: Int, bytes: Int) { lock.withLock { (cache.count, cache.weight) } }

    func lastTermLocked() -> Term {
        guard let last = blocks.last, last.lastLive == lastIndexValue else { return state.logStart.term }
        return last.header.term(at: lastIndexValue)
    }

    /// Closes the segment files. Further calls fail with `LogError.closed`.
    public func close() {
        writeLock.withLock {
            lock.withLock {
                isClosed = true
                for segment in segments { segment.file.close() }
                segments.removeAll()
                blocks.removeAll()
                cache.removeAll()
            }
        }
    }

    /// Leaves the read-only state entered on ENOSPC, once the operator has freed space.
    public func resumeWrites() {
        lock.withLock {
            if case .readOnly = healthValue { healthValue = .healthy }
        }
    }

    /// Throws unless appends are allowed. MUST be called with the lock held.
    func checkWritable() throws {
        guard !isClosed else { throw LogError(.closed) }
        switch healthValue {
        case .healthy: return
        case .untrusted(let corruption): throw LogError(.untrusted(corruption))
        case .readOnly(let error): throw LogError(.noSpace(error))
        case .failed(let error): throw LogError(.failed(error))
        }
    }

    /// Throws unless reads are allowed. MUST be called with the lock held.
    func checkReadable() throws {
        guard !isClosed else { throw LogError(.closed) }
    }

    func segment(_ sequence: UInt64) -> Segment {
        guard let first = segments.first else { preconditionFailure("no segments, wanted \(sequence)") }
        let position = Int(sequence - first.sequence)
        precondition(position < segments.count && segments[position].sequence == sequence, "segment \(sequence)")
        return segments[position]
    }
}
