import SkiffRaft

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Group commit: appends submitted while a flush is in progress are written together with one `fdatasync`.
///
/// Two threads form a pipeline. The encoder thread takes everything queued (up to `batchBytesMax`), merges
/// consecutive entry requests into one block and compresses it; the flusher thread writes encoded batches
/// with `SegmentedLog.appendBatch` (one write, one `fdatasync`) and then runs each request's completion.
/// So the next batch is compressed while the previous one is being synced. At most one encoded batch waits
/// for the flusher, which bounds memory and keeps batches large.
///
/// Completions run on the flusher thread: they MUST be quick and MUST NOT block on the committer (hop to
/// your own event loop instead). A request of at least `preEncodeBytesMin` payload bytes is compressed into
/// its own block by the submitting thread. Requests MUST be submitted in log order (several submitting
/// threads serialize their `submit` calls, as the Raft leader that assigns indexes does anyway). Requests in
/// one flush succeed or fail together. Submission blocks while more than `queueBytesMax` bytes wait
/// (back-pressure). Call `shutdown()` before dropping the committer.
///
/// The node does not use it: its Ready loop already commits in groups (proposals that queue while one
/// batch is fsynced become the next batch, one `appendBatch` and one `fdatasync`; docs/storage.md §5).
public final class GroupCommitter: @unchecked Sendable {
    /// Called once per request, after its data is durable or the flush failed.
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private struct Request {
        var item: AppendItem
        var bytes: Int
        var completion: Completion
    }

    /// A batch encoded by the encoder thread, waiting for the flusher.
    private struct EncodedBatch {
        var items: [AppendItem]
        var completions: [Completion]
    }

    /// Default bound on the bytes written by one flush.
    public static let defaultBatchBytesMax = 8 << 20
    /// Default bound on bytes waiting in the queue.
    public static let defaultQueueBytesMax = 64 << 20
    /// Default size from which a request is encoded on the submitting thread.
    public static let defaultPreEncodeBytesMin = 32 << 10

    public let log: SegmentedLog
    public let batchBytesMax: Int
    public let queueBytesMax: Int
    public let preEncodeBytesMin: Int
    private let lock = StorageLock()
    private var queue: [Request] = []
    private var queuedBytes = 0
    /// Submitters blocked by back-pressure.
    private var submittersWaiting = 0
    /// Invariant: holds at most one batch (the pipeline depth).
    private var encoded: [EncodedBatch] = []
    private var stopping = false
    private var encoderStopped = false
    private var stopped = false
    /// Flushes done (for tests and metrics).
    private var flushCount = 0

    /// Starts the encoder and flusher threads.
    public init(
        log: SegmentedLog, batchBytesMax: Int = defaultBatchBytesMax, queueBytesMax: Int = defaultQueueBytesMax,
        preEncodeBytesMin: Int = defaultPreEncodeBytesMin
    ) {
        precondition(batchBytesMax > 0 && queueBytesMax >= batchBytesMax, "bounds \(batchBytesMax) \(queueBytesMax)")
        self.log = log
        self.batchBytesMax = batchBytesMax
        self.queueBytesMax = queueBytesMax
        self.preEncodeBytesMin = preEncodeBytesMin
        startThread { [self] in runEncoder() }
        startThread { [self] in runFlusher() }
    }

    /// The number of `fdatasync` batches written so far.
    public var flushes: Int { lock.withLock { flushCount } }

    /// Queues an item. The completion runs on the committer thread. After `shutdown` it fails with `.closed`.
    public func submit(_ item: AppendItem, completion: @escaping Completion) {
        var item = item
        var bytes = Self.size(of: item)
        if bytes >= preEncodeBytesMin, case .entries(let entries) = item, let encoded = preEncode(entries) {
            item = .block(encoded)
            bytes = encoded.bytes.count
        }
        let accepted = lock.withLock { () -> Bool in
            while !stopping && queuedBytes > 0 && queuedBytes + bytes > queueBytesMax {
                submittersWaiting += 1
                lock.wait()
                submittersWaiting -= 1
            }
            guard !stopping else { return false }
            queue.append(Request(item: item, bytes: bytes, completion: completion))
            queuedBytes += bytes
            // Only the first request can find the encoder idle; waking it per request would cost two
            // context switches per append.
            if queue.count == 1 { lock.broadcast() }
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

    /// Finishes the queued requests, then stops the threads. Blocks until they have stopped.
    public func shutdown() {
        lock.withLock {
            stopping = true
            lock.broadcast()
            while !stopped { lock.wait() }
        }
    }

    /// Encodes a large request as one block on the caller's thread; nil when it does not fit one block or
    /// is not well-formed (the flush then reports the precise error).
    private func preEncode(_ entries: [Entry]) -> RawBlock? {
        guard BlockCodec.fits(entries), BlockCodec.isWellFormed(entries) else { return nil }
        let bytes = BlockCodec.encode(entries[...], compress: log.options.compress)
        guard let header = try? BlockCodec.headerOfEncoded(bytes) else {
            preconditionFailure("block encoded for \(entries[0].index) does not verify")
        }
        return RawBlock(header: header, bytes: bytes, decodedEntries: entries)
    }

    private func runEncoder() {
        while let batch = nextBatch() {
            let items = Self.merge(batch.map(\.item)).map(encodeIfPossible)
            lock.withLock {
                precondition(encoded.isEmpty, "encoder ran ahead of the flusher")
                encoded.append(EncodedBatch(items: items, completions: batch.map(\.completion)))
                lock.broadcast()
            }
        }
        lock.withLock {
            encoderStopped = true
            lock.broadcast()
        }
    }

    private func runFlusher() {
        while let batch = nextEncodedBatch() {
            let result: Result<Void, any Error>
            do {
                try log.appendBatch(batch.items)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            lock.withLock { flushCount += 1 }
            for completion in batch.completions { completion(result) }
        }
    }

    /// Compresses merged entries into a block off the flusher thread, when they form one valid block.
    private func encodeIfPossible(_ item: AppendItem) -> AppendItem {
        guard case .entries(let entries) = item, let block = preEncode(entries) else { return item }
        return .block(block)
    }

    /// Waits for an encoded batch; nil when the encoder has stopped and everything is flushed.
    private func nextEncodedBatch() -> EncodedBatch? {
        lock.withLock {
            while encoded.isEmpty && !encoderStopped { lock.wait() }
            guard !encoded.isEmpty else {
                stopped = true
                lock.broadcast()
                return nil
            }
            let batch = encoded.removeFirst()
            lock.broadcast()
            return batch
        }
    }

    /// Waits for work; nil when stopping and drained.
    private func nextBatch() -> [Request]? {
        lock.withLock {
            // Take work only once the previous encoded batch went to the flusher: what arrives meanwhile
            // joins the next batch instead of becoming a small one.
            while !encoded.isEmpty || (queue.isEmpty && !stopping) { lock.wait() }
            if queue.isEmpty { return nil }
            var taken = 0
            var bytes = 0
            while taken < queue.count && (taken == 0 || bytes + queue[taken].bytes <= batchBytesMax) {
                bytes += queue[taken].bytes
                taken += 1
            }
            let batch = Array(queue[0..<taken])
            queue.removeFirst(taken)
            queuedBytes -= bytes
            if submittersWaiting > 0 { lock.broadcast() }
            return batch
        }
    }

    /// Joins consecutive entry requests that continue each other, so one flush writes one block.
    static func merge(_ items: [AppendItem]) -> [AppendItem] {
        var merged: [AppendItem] = []
        var run: [Entry] = []
        for item in items {
            if case .entries(let next) = item, let first = next.first {
                if let last = run.last, first.index != last.index.next {
                    merged.append(.entries(run))
                    run = []
                }
                run += next
            } else {
                if !run.isEmpty { merged.append(.entries(run)) }
                run = []
                merged.append(item)
            }
        }
        if !run.isEmpty { merged.append(.entries(run)) }
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
