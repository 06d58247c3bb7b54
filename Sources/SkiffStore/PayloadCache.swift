import SkiffLog

/// A thread-safe LRU cache of message payloads bounded by total bytes.
///
/// The shell fetches pending messages' bodies through it from the recent log or from SQLite, so a large
/// backlog costs disk, not RAM.
public final class PayloadCache<Key: Hashable & Sendable>: @unchecked Sendable {
    private let lock = StorageLock()
    private var cache: LRUCache<Key, [UInt8]>
    private var hitCount = 0
    private var missCount = 0

    /// Creates a cache holding at most `bytesMax` payload bytes.
    public init(bytesMax: Int) {
        cache = LRUCache(weightMax: bytesMax)
    }

    /// The payload for `key` if cached.
    public func get(_ key: Key) -> [UInt8]? {
        lock.withLock {
            let value = cache.value(for: key)
            if value == nil { missCount += 1 } else { hitCount += 1 }
            return value
        }
    }

    /// Caches a payload (not cached when larger than the whole bound).
    public func put(_ key: Key, _ payload: [UInt8]) {
        lock.withLock { cache.insert(payload, for: key, weight: payload.count) }
    }

    /// Forgets a payload (message acknowledged).
    public func remove(_ key: Key) {
        lock.withLock { cache.removeValue(for: key) }
    }

    /// The cached payload, or `load()`'s result, which is then cached. `load` runs without the lock held.
    public func fetch(_ key: Key, load: () throws -> [UInt8]?) rethrows -> [UInt8]? {
        if let cached = get(key) { return cached }
        guard let loaded = try load() else { return nil }
        put(key, loaded)
        return loaded
    }

    /// Bytes currently cached.
    public var bytes: Int { lock.withLock { cache.weight } }
    /// (hits, misses) since creation.
    public var stats: (hits: Int, misses: Int) { lock.withLock { (hitCount, missCount) } }
}
