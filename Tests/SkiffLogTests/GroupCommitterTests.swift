import SkiffLog
import SkiffRaft
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct GroupCommitterTests {
    /// Requests submitted while a flush is in progress are written together (ten requests, at most two more
    /// syncs: the pipeline may have started encoding the first of them), merged into few blocks, and every
    /// completion reports success after the data is durable.
    @Test func appendsDuringAFlushShareOneSync() throws {
        let (fileSystem, log) = try makeSimLog()
        let committer = GroupCommitter(log: log)
        defer { committer.shutdown() }
        let done = Counter()
        fileSystem.holdSyncs()
        committer.submit(.entries(makeEntries(1, 1))) { result in done.record(result) }
        while fileSystem.heldSyncCount == 0 { usleep(100) }
        for index in 2...11 {
            committer.submit(.entries(makeEntries(UInt64(index), UInt64(index)))) { result in done.record(result) }
        }
        fileSystem.releaseSyncs()
        done.waitFor(11)
        #expect(done.failures == 0)
        #expect(committer.flushes <= 3)
        #expect(try allEntries(log) == makeEntries(1, 11))
        #expect(try log.readBlocks(from: LogIndex(2), maxBytes: 1 << 20).count <= 2)
        fileSystem.crash()
        let reopened = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: testLogOptions())
        #expect(try allEntries(reopened) == makeEntries(1, 11))
    }

    /// Several threads appending through the blocking API each get their own entries durably, in the
    /// order the shared index counter handed them out.
    @Test func concurrentWriters() throws {
        let (_, log) = try makeSimLog()
        let committer = GroupCommitter(log: log)
        let sequencer = Sequencer()
        let done = Counter()
        for _ in 0..<4 {
            Thread.start {
                for _ in 0..<50 {
                    let result = Result { try sequencer.appendNext(committer) }
                    done.record(result)
                }
            }
        }
        done.waitFor(200)
        committer.shutdown()
        #expect(done.failures == 0)
        #expect(log.lastIndex == LogIndex(200))
        #expect(try allEntries(log) == makeEntries(1, 200))
        #expect(committer.flushes <= 200)
    }

    /// Large requests are encoded on the submitting thread into their own blocks, still share the flush,
    /// and read back intact.
    @Test func largeRequestsArePreEncoded() throws {
        let (fileSystem, log) = try makeSimLog()
        let committer = GroupCommitter(log: log, preEncodeBytesMin: 4096)
        defer { committer.shutdown() }
        let done = Counter()
        fileSystem.holdSyncs()
        committer.submit(.entries(makeEntries(1, 1))) { done.record($0) }
        while fileSystem.heldSyncCount == 0 { usleep(100) }
        committer.submit(.entries(makeEntries(2, 3, size: 5000))) { done.record($0) }
        committer.submit(.entries(makeEntries(4, 5, size: 5000))) { done.record($0) }
        fileSystem.releaseSyncs()
        done.waitFor(3)
        #expect(done.failures == 0 && committer.flushes <= 3)
        #expect(try log.readBlocks(from: LogIndex(2), maxBytes: 1 << 20).map(\.header.firstIndex.rawValue) == [2, 4])
        #expect(try allEntries(log) == makeEntries(1, 1) + makeEntries(2, 5, size: 5000))
    }

    /// Readers are not held up by an append's fdatasync: while a sync is stuck, reads of durable entries
    /// complete, and the new entries appear only once the sync is done.
    @Test func readsProceedDuringASync() throws {
        let (fileSystem, log) = try makeSimLog()
        try log.append(makeEntries(1, 5))
        fileSystem.holdSyncs()
        let appended = Counter()
        Thread.start { appended.record(Result { try log.append(makeEntries(6, 8)) }) }
        while fileSystem.heldSyncCount == 0 { usleep(100) }
        let read = Counter()
        Thread.start { read.record(Result { _ = try log.entries(LogIndex(1)..<LogIndex(6)) }) }
        var waitedMs = 0
        while read.total == 0 && waitedMs < 5_000 {
            usleep(1_000)
            waitedMs += 1
        }
        #expect(read.total == 1 && read.failures == 0)
        #expect(log.lastIndex == LogIndex(5))
        fileSystem.releaseSyncs()
        appended.waitFor(1)
        #expect(log.lastIndex == LogIndex(8))
    }

    /// A flush failure reaches every request of the batch, and later submissions fail too (failed state).
    @Test func failureReachesEveryRequest() throws {
        let (fileSystem, log) = try makeSimLog()
        let committer = GroupCommitter(log: log)
        defer { committer.shutdown() }
        fileSystem.failSyncs(count: 1)
        #expect(throws: LogError.self) { try committer.append(makeEntries(1, 2)) }
        #expect(throws: LogError.self) { try committer.append(makeEntries(1, 2)) }
    }
}

/// Hands out consecutive indexes and submits in that order (the Raft leader's role).
final class Sequencer: @unchecked Sendable {
    private let lock = NSLockLite()
    private var next: UInt64 = 1

    func appendNext(_ committer: GroupCommitter) throws {
        let waiter = ResultBox()
        lock.locked {
            let index = next
            next += 1
            committer.submit(.entries(makeEntries(index, index))) { waiter.set($0) }
        }
        try waiter.wait().get()
    }
}

/// Counts completions and lets the test wait for a number of them.
final class Counter: @unchecked Sendable {
    private let lock = NSLockLite()
    private var count = 0
    private(set) var failures = 0

    func record(_ result: Result<Void, any Error>) {
        lock.locked {
            count += 1
            if case .failure = result { failures += 1 }
        }
    }

    var total: Int { lock.locked { count } }

    func waitFor(_ target: Int) {
        while lock.locked({ count < target }) { usleep(200) }
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLockLite()
    private var result: Result<Void, any Error>?

    func set(_ value: Result<Void, any Error>) { lock.locked { result = value } }

    func wait() -> Result<Void, any Error> {
        while true {
            if let value = lock.locked({ result }) { return value }
            usleep(50)
        }
    }
}

/// A pthread mutex for test helpers.
final class NSLockLite: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// Starts detached threads for tests.
enum Thread {
    static func start(_ body: @escaping @Sendable () -> Void) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context)
        pthread_detach(thread)
    }
}
