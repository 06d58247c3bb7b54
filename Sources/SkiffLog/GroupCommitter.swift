import SkiffRaft

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Group commit: appends submitted while a flush is in progress are written together with one `fdatasync`.
///
/// A dedicated thread takes everything queued (up to `batchBytesMax`), merges consecutive entry requests
/// into one block, calls `SegmentedLog.appendBatch`, and then runs each request's completion on that thread.
/// Completions MUST be quick and MUST NOT block on the committer (hop to your own event loop instead).
/// Requests in one flush succeed or fail together. Submission blocks while more than `queueBytesMax` bytes
/// wait (back-pressure), so memory stays bounded.
public final class GroupCommitter: @unchecked Sendable {
    /// Called once per request, after its data is durable or the flush failed.
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private struct Request {
        var item: AppendItem
        var bytes: Int
        var completion: Completion
    }

    /// Default bound on the bytes written by one flush.
    public static let defaultBatchBytesMax = 8 << 20
    /// Default bound on bytes waiting in the queue.
    public static let defaultQueueBytesMax = 64 << 20

    public let log: SegmentedLog
    public let batchBytesMax: Int
    public let queueBytesMax: Int
    private let lock = StorageLock()
    private var queue: [Request] = []
    private var queuedBytes = 0
    private var stopping = false
    private var stopped = false
    /// Flushes done (for tests and metrics).
    private var flushCount = 0

    /// Starts the committer thread.
    public init(
        log: SegmentedLog, batchBytesMax: Int = defaultBatchBytesMax, queueBytesMax: Int = defaultQueueBytesMax
    ) {
        precondition(batchBytesMax > 0 && queueBytesMax >= batchBytesMax, "bounds \(batchBytesMax) \(queueBytesMax)")
        self.log = log
        self.batchBytesMax = batchBytesMax
        self.queueBytesMax = queueBytesMax
        startThread { [self] in run() }
    }

    /// The number of `fdatasync` batches written so far.
    public var flushes: Int { lock.withLock { flushCount } }

    /// Queues an item. The completion runs on the committer thread. After `shutdown` it fails with `.closed`.
    public func submit(_ item: AppendItem, completion: @escaping Completion) {
        let bytes = Self.size(of: item)
        let accepted = lock.withLock { () -> Bool in
            while !stopping && queuedBytes > 0 && queuedBytes + bytes > queueBytesMax { lock.wait() }
            guard !stopping else { return false }
            queue.append(Request(item: item, bytes: bytes, completion: completion))
            queuedBytes += bytes
            lock.broadcast()
            return true
        }
        if !accepted { completion(.failure(LogError(.closed))) }
    }

    /// Appends entries and waits until they are durable (or the flush failed).
    public func append(_ entries: [Entry]) throws {
        let waiter = Waiter()
        submit(.entries(entries)) { waiter.finish($0) }
        try waiter.wait().get()
    }

    /// Finishes the queued requests, then stops the thread. Blocks until it has stopped.
    public func shutdown() {
        lock.withLock {
            stopping = true
            lock.broadcast()
            while !stopped { lock.wait() }
        }
    }

    private func run() {
        while let batch = nextBatch() {
            let result: Result<Void, any Error>
            do {
                try log.appendBatch(Self.merge(batch.map(\.item)))
                result = .success(())
            } catch {
                result = .failure(error)
            }
            lock.withLock { flushCount += 1 }
            for request in batch { request.completion(result) }
        }
    }

    /// Waits for work; nil when stopping and drained.
    private func nextBatch() -> [Request]? {
        lock.withLock {
            while queue.isEmpty && !stopping { lock.wait() }
            if queue.isEmpty {
                stopped = true
                lock.broadcast()
                return nil
            }
            var taken = 0
            var bytes = 0
            while taken < queue.count && (taken == 0 || bytes + queue[taken].bytes <= batchBytesMax) {
                bytes += queue[taken].bytes
                taken += 1
            }
            let batch = Array(queue[0..<taken])
            queue.removeFirst(taken)
            queuedBytes -= bytes
            lock.broadcast()
            return batch
        }
    }

    /// Joins consecutive entry requests that continue each other, so one flush writes one block.
    static func merge(_ items: [AppendItem]) -> [AppendItem] {
        var merged: [AppendItem] = []
        for item in items {
            if case .entries(let next) = item, let first = next.first,
                case .entries(var previous)? = merged.last, let last = previous.last, first.index == last.index.next
            {
                previous += next
                merged[merged.count - 1] = .entries(previous)
            } else {
                merged.append(item)
            }
        }
        return merged
    }

    static func size(of item: AppendItem) -> Int {
        switch item {
        case .entries(let entries): return entries.reduce(0) { $0 + $1.data.count + BlockCodec.entryOverheadBytes }
        case .block(let block): return block.bytes.count
        case .truncation: return BlockCodec.fixedHeaderBytes
        }
    }
}

/// A one-shot result slot a thread can wait on.
final class Waiter: @unchecked Sendable {
    private let lock = StorageLock()
    private var result: Result<Void, any Error>?

    func finish(_ value: Result<Void, any Error>) {
        lock.withLock {
            result = value
            lock.broadcast()
        }
    }

    func wait() -> Result<Void, any Error> {
        lock.withLock {
            while result == nil { lock.wait() }
            return result!
        }
    }
}

/// Runs `body` on a new detached POSIX thread.
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
    precondition(status == 0, "pthread_create failed: \(status)")
    pthread_detach(thread)
}
