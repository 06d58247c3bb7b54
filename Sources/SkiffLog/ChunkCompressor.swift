#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Compresses the chunks of one large block payload in parallel: the calling thread and a few shared worker
/// threads take chunks from the same job until none is left.
///
/// The caller never waits for a worker to wake up before it starts: it compresses chunks itself from the
/// first moment, and a worker that arrives late finds nothing left to take. So on a busy machine a large
/// block costs what a serial compression costs, and on a machine with an idle core it costs about half.
/// What each chunk holds depends only on the payload size (`BlockCodec.chunkRanges`), never on how many
/// threads ran, so the encoded bytes are the same everywhere.
final class ChunkCompressor: @unchecked Sendable {
    /// The process-wide compressor: one worker per online core beyond the first, at most `workersMax`.
    static let shared = ChunkCompressor(workers: min(workersMax, max(0, onlineCores() - 1)))
    /// Bound on worker threads (a block has at most `BlockCodec.chunkCountMax` chunks anyway).
    static let workersMax = 3

    /// One payload's chunks. Mutable fields are guarded by the compressor's lock.
    private final class Job {
        let source: UnsafeRawBufferPointer
        let destination: UnsafeMutableRawBufferPointer
        let chunks: [BlockCodec.ChunkPlan]
        var next = 0
        var finished = 0
        var storedBytes: [Int]

        init(source: UnsafeRawBufferPointer, destination: UnsafeMutableRawBufferPointer, chunks: [BlockCodec.ChunkPlan])
        {
            self.source = source
            self.destination = destination
            self.chunks = chunks
            self.storedBytes = Array(repeating: 0, count: chunks.count)
        }
    }

    private let lock = StorageLock()
    /// Jobs with chunks nobody has taken yet, oldest first.
    private var open: [Job] = []
    /// Until when (monotonic nanoseconds) idle workers poll for the next job instead of sleeping.
    private var awakeUntilNanos: UInt64 = 0
    let workers: Int
    /// How long workers stay awake after a job whose caller waits for it (`callerWaits`): longer than a fast
    /// disk's fdatasync, so the caller's next block finds them running. A sleeping worker takes tens of
    /// microseconds to wake on a VM, as long as compressing a chunk.
    static let awakeAfterWaitedJobNanos: UInt64 = 500_000
    /// How long a caller whose own chunks are done polls for the workers' chunks before it sleeps.
    static let callerPollNanos: UInt64 = 200_000

    init(workers: Int) {
        self.workers = workers
        for _ in 0..<workers { startThread { [self] in runWorker() } }
    }

    /// Compresses `source[chunk.source]` into `destination[chunk.destination]` for every chunk and returns each
    /// chunk's compressed size (0 when a chunk did not fit its destination). Returns only when every chunk is
    /// done, so the buffers need only live for the call.
    func compress(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
        chunks: [BlockCodec.ChunkPlan], callerWaits: Bool = false
    ) -> [Int] {
        let job = Job(source: source, destination: destination, chunks: chunks)
        if workers > 0 && chunks.count > 1 {
            lock.withLock {
                open.append(job)
                lock.broadcast()
            }
        }
        while let chunk = lock.withLock({ take(from: job) }) { run(job, chunk) }
        return lock.withLock {
            // The chunks left are running on workers and take about as long as one chunk: poll for them a while
            // instead of sleeping, since waking from the condition costs as much again.
            let pollUntil = Self.nowNanos() + Self.callerPollNanos
            while job.finished < job.chunks.count && Self.nowNanos() < pollUntil { lock.withoutLock { sched_yield() } }
            while job.finished < job.chunks.count { lock.wait() }
            if callerWaits && workers > 0 { awakeUntilNanos = Self.nowNanos() + Self.awakeAfterWaitedJobNanos }
            return job.storedBytes
        }
    }

    /// The next untaken chunk of `job`, removing the job from `open` once all are taken. MUST hold `lock`.
    private func take(from job: Job) -> Int? {
        guard job.next < job.chunks.count else { return nil }
        let chunk = job.next
        job.next += 1
        if job.next == job.chunks.count { open.removeAll { $0 === job } }
        return chunk
    }

    private func run(_ job: Job, _ chunk: Int) {
        let plan = job.chunks[chunk]
        let stored = LZ4.compress(
            UnsafeRawBufferPointer(rebasing: job.source[plan.source]),
            into: UnsafeMutableRawBufferPointer(rebasing: job.destination[plan.destination]))
        lock.withLock {
            job.storedBytes[chunk] = stored
            job.finished += 1
            if job.finished == job.chunks.count { lock.broadcast() }
        }
    }

    private func runWorker() {
        while true {
            let (job, chunk) = lock.withLock { () -> (Job, Int) in
                while true {
                    if let job = open.first, let chunk = take(from: job) { return (job, chunk) }
                    if Self.nowNanos() >= awakeUntilNanos {
                        lock.wait()
                    } else {
                        // Poll: release the lock briefly and let other threads on this core run.
                        lock.withoutLock { sched_yield() }
                    }
                }
            }
            run(job, chunk)
        }
    }

    private static func nowNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    private static func onlineCores() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}
