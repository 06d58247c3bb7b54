import SkiffRaft

/// A deterministic in-memory file system that models what a crash can do to unsynced data.
///
/// Each file keeps two views: what a reader sees now, and what survives a crash (`durable`). `sync` and
/// `dataSync` make the current contents durable; `syncDirectory` makes creations, renames and removals in a
/// directory durable. `crash` throws away everything that was not durable, optionally keeping a torn prefix
/// of the unsynced writes, and invalidates every open handle.
///
/// Faults: `failSyncs` (EIO on fsync, after which the kernel "forgets" the dirty data, as Linux does),
/// `capacityBytes` (ENOSPC after a short write), `flipBit` (silent corruption of durable data).
/// Every random choice comes from the seed, so a run is reproducible.
public final class SimFileSystem: FileSystem, @unchecked Sendable {
    /// How a crash treats each file's unsynced writes.
    public enum CrashMode: Sendable, Hashable {
        /// Every unsynced write is lost.
        case dropUnsynced
        /// The file at `path` keeps the first `bytes` bytes of its unsynced writes (in write order; the write
        /// in progress at that byte is torn there), and its directory entry survives even if the directory
        /// was not synced. Other files lose their unsynced writes.
        case keepUnsyncedBytes(path: String, bytes: Int)
        /// Each file keeps a seeded-random prefix of its unsynced writes.
        case random
    }

    /// One pending (unsynced) change to a file.
    enum PendingChange {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    final class Inode {
        var data: [UInt8] = []
        var durable: [UInt8] = []
        var pending: [PendingChange] = []
    }

    let lock = StorageLock()
    var files: [String: Inode] = [:]
    var durableFiles: [String: Inode] = [:]
    var directories: Set<String> = ["/", "."]
    var durableDirectories: Set<String> = ["/", "."]
    var random: SeededRandom
    /// Incremented by `crash`; handles from an older generation fail with EIO.
    var generation: UInt64 = 0
    var syncFailuresRemaining = 0
    var armedCrash: (mode: CrashMode, path: String?, skip: Int)?
    var syncsHeld = false
    var syncsWaiting = 0
    var syncFailurePathFilter: String?

    /// The total bytes of file data allowed; a write beyond it is cut short and fails with ENOSPC.
    public var capacityBytes: Int? {
        get { lock.withLock { capacity } }
        set { lock.withLock { capacity = newValue } }
    }
    var capacity: Int?

    /// Creates an empty file system whose random choices derive from `seed`.
    public init(seed: UInt64 = 1) {
        random = SeededRandom(seed: seed)
    }

    // MARK: Fault injection

    /// Makes the next `count` sync calls (fsync, fdatasync, directory fsync) on paths containing `pathContaining`
    /// (any path when nil) fail with EIO.
    public func failSyncs(count: Int = 1, pathContaining: String? = nil) {
        lock.withLock {
            syncFailuresRemaining = count
            syncFailurePathFilter = pathContaining
        }
    }

    /// Flips one bit of a file, in both the current and the durable contents (silent media corruption).
    public func flipBit(path: String, byteOffset: Int, bit: Int = 0) {
        lock.withLock {
            guard let inode = files[path] else { preconditionFailure("flipBit: no file \(path)") }
            precondition(byteOffset < inode.data.count, "flipBit: offset \(byteOffset) beyond \(path)")
            inode.data[byteOffset] ^= UInt8(1) << UInt8(bit & 7)
            if byteOffset < inode.durable.count { inode.durable[byteOffset] ^= UInt8(1) << UInt8(bit & 7) }
        }
    }

    /// Simulates power loss: unsynced data and directory changes vanish (except torn prefixes chosen by
    /// `mode`), and every open handle becomes invalid.
    public func crash(_ mode: CrashMode = .dropUnsynced) {
        lock.withLock { crashLocked(mode) }
    }

    /// Arms a crash that happens instead of the next sync (file or directory) on a path containing
    /// `pathContaining` (any path when nil), after letting `skipping` such syncs succeed: the writes before
    /// it are in flight, so `mode` decides what survives. The interrupted sync throws EIO.
    public func crashAtNextSync(_ mode: CrashMode, pathContaining: String? = nil, skipping: Int = 0) {
        lock.withLock { armedCrash = (mode, pathContaining, skipping) }
    }

    /// Makes syncs wait until `releaseSyncs()` (to hold a flush in progress in concurrency tests).
    public func holdSyncs() {
        lock.withLock { syncsHeld = true }
    }

    /// Lets held syncs complete.
    public func releaseSyncs() {
        lock.withLock {
            syncsHeld = false
            lock.broadcast()
        }
    }

    /// How many syncs are waiting because of `holdSyncs()`.
    public var heldSyncCount: Int { lock.withLock { syncsWaiting } }

    func crashLocked(_ mode: CrashMode) {
        generation &+= 1
        directories = durableDirectories
        var survivors: [String: Inode] = [:]
        var candidates = durableFiles
        if case .keepUnsyncedBytes(let tornPath, _) = mode, let inode = files[tornPath] {
            // The torn file's directory entry made it to disk (as a journaling file system may do).
            candidates[tornPath] = inode
        }
        // Sorted, so the seeded choices do not depend on dictionary order.
        for path in candidates.keys.sorted() {
            let inode = candidates[path]!
            let keep: Int
            switch mode {
            case .dropUnsynced: keep = 0
            case .keepUnsyncedBytes(let tornPath, let bytes): keep = tornPath == path ? bytes : 0
            case .random: keep = Int(random.next() % UInt64(Self.pendingBytes(inode) + 1))
            }
            inode.data = Self.replay(inode, keepingBytes: keep)
            inode.durable = inode.data
            inode.pending = []
            survivors[path] = inode
        }
        files = survivors
        durableFiles = survivors
    }

    /// The bytes of unsynced writes a file holds (what `keepUnsyncedBytes` counts).
    public func unsyncedBytes(path: String) -> Int {
        lock.withLock { files[path].map(Self.pendingBytes) ?? 0 }
    }

    /// A copy of a file's current contents (for tests).
    public func contents(of path: String) -> [UInt8]? {
        lock.withLock { files[path]?.data }
    }

    /// Replaces a file's contents, durably (for tests that craft damaged files).
    public func setContents(of path: String, to bytes: [UInt8]) {
        lock.withLock {
            let inode = files[path] ?? Inode()
            inode.data = bytes
            inode.durable = bytes
            inode.pending = []
            files[path] = inode
            durableFiles[path] = inode
        }
    }

    static func pendingBytes(_ inode: Inode) -> Int {
        inode.pending.reduce(0) { total, change in
            if case .write(_, let bytes) = change { return total + bytes.count }
            return total
        }
    }

    /// The durable contents plus the unsynced changes in order, stopping after `keepingBytes` written bytes.
    static func replay(_ inode: Inode, keepingBytes: Int) -> [UInt8] {
        var data = inode.durable
        var budget = keepingBytes
        for change in inode.pending {
            switch change {
            case .truncate(let size):
                if budget <= 0 { return data }
                data = resized(data, to: size)
            case .write(let offset, let bytes):
                let take = min(budget, bytes.count)
                if take == 0 { return data }
                if data.count < offset + take { data = resized(data, to: offset + take) }
                data.replaceSubrange(offset..<(offset + take), with: bytes[0..<take])
                budget -= take
            }
        }
        return data
    }

    static func resized(_ data: [UInt8], to size: Int) -> [UInt8] {
        if size <= data.count { return Array(data[0..<size]) }
        return data + [UInt8](repeating: 0, count: size - data.count)
    }
}
