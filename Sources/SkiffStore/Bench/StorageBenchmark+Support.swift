import SkiffLog
import SkiffRaft

#if canImport(Glibc)
    import Glibc
#endif

extension StorageBenchmark {
    struct RawResult {
        var mbs: Double
        var syncsPerSecond: Double
        var seconds: Double
    }

    /// `pwrite` + `fdatasync` of `batchBytes` at a time, appending to one file, for the phase bounds.
    static func rawBaseline(root: String, batchBytes: Int, secondsMax: Double = phaseSecondsMax) throws -> RawResult {
        let path = joinBenchPath(root, "raw-\(batchBytes)")
        let file = try RealFileSystem().open(path, create: true)
        let batch = benchPayload(batchBytes)
        var offset = 0
        var syncs = 0
        let start = ContinuousClock.now
        while offset < phaseBytesMax && seconds(since: start) < secondsMax {
            try file.write(at: offset, batch)
            try file.dataSync()
            offset += batchBytes
            syncs += 1
        }
        let elapsed = seconds(since: start)
        file.close()
        unlink(path)
        return RawResult(
            mbs: Double(offset) / elapsed / 1e6, syncsPerSecond: Double(syncs) / elapsed, seconds: elapsed)
    }

    static func seconds(since start: ContinuousClock.Instant, to end: ContinuousClock.Instant = .now) -> Double {
        let duration = start.duration(to: end)
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Text-like bytes (words from a small vocabulary with varying numbers), about 2:1 with LZ4.
    static func benchPayload(_ size: Int, seed: Int = 1) -> [UInt8] {
        let words = ["queue", "orders", "message", "id", "amount", "status", "pending", "customer", "total", "ts"]
        var generator = SeededRandom(seed: UInt64(seed))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size + 16)
        while bytes.count < size {
            bytes += Array(words[Int(generator.next() % UInt64(words.count))].utf8)
            bytes += Array("\":\(generator.next() % 100_000),\"".utf8)
        }
        return Array(bytes.prefix(size))
    }

    static func directoryBytes(_ directory: String) throws -> Int {
        let fileSystem = RealFileSystem()
        return try fileSystem.list(directory: directory).reduce(0) { total, name in
            let file = try fileSystem.open(joinBenchPath(directory, name), create: false)
            defer { file.close() }
            return total + (try file.size())
        }
    }

    /// The log's size estimated from its index range (cheap enough to poll).
    static func directoryBytesEstimate(_ log: SegmentedLog) throws -> Int {
        try directoryBytes(log.directory)
    }

    static func label(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1024 && bytes % 1024 == 0 { return "\(bytes >> 10) KiB" }
        if bytes >= 10 * 1024 { return "\(bytes / 1024) KiB" }
        return "\(bytes) B"
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        if value >= 100 { return String(Int(value.rounded())) }
        let tenths = (value * 10).rounded() / 10
        return String(tenths)
    }

    /// Removes a directory and the files in it (the bench creates no deeper trees).
    static func removeTree(_ path: String) {
        guard let names = try? RealFileSystem().list(directory: path) else { return }
        for name in names {
            let child = joinBenchPath(path, name)
            if (try? RealFileSystem().list(directory: child)) != nil {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }
}

func joinBenchPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// Counts completions from the committer thread; the bench thread waits on it.
final class BenchCounter: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var completed = 0
    private var failed = 0

    init() { pthread_mutex_init(&mutex, nil) }

    func complete(_ result: Result<Void, any Error>) {
        pthread_mutex_lock(&mutex)
        completed += 1
        if case .failure = result { failed += 1 }
        pthread_mutex_unlock(&mutex)
    }

    var failures: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return failed
    }

    func wait(for target: Int) {
        while true {
            pthread_mutex_lock(&mutex)
            let done = completed
            pthread_mutex_unlock(&mutex)
            if done >= target { return }
            usleep(100)
        }
    }
}

/// Hands out log indexes to the group-commit writers and submits in index order, within the phase bounds.
final class BenchSequencer: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var next = 0
    let entriesMax: Int

    init(entriesMax: Int) {
        self.entriesMax = entriesMax
        pthread_mutex_init(&mutex, nil)
    }

    var submitted: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return next
    }

    /// Submits the next entry; false once the phase's entry or time bound is reached.
    func submitNext(
        until start: ContinuousClock.Instant, committer: GroupCommitter, counter: BenchCounter, pool: [[UInt8]]
    ) -> Bool {
        // The time bound is checked every 256 entries: reading the clock per entry would cost more than a
        // submit.
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard next < entriesMax,
            next % 256 != 0 || StorageBenchmark.seconds(since: start) < StorageBenchmark.phaseSecondsMax
        else { return false }
        let entry = Entry(term: Term(1), index: LogIndex(UInt64(next + 1)), data: pool[next % pool.count])
        committer.submit(.entries([entry])) { counter.complete($0) }
        next += 1
        return true
    }
}

/// A joinable POSIX thread for the bench's writers.
final class BenchThread {
    private var thread = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context)
        precondition(status == 0, "pthread_create failed: \(status)")
    }

    func join() { pthread_join(thread, nil) }
}
