import SkiffLog
import SkiffRaft

#if canImport(Glibc)
    import Glibc
#endif

/// `skiff bench storage`: append throughput with group commit next to a raw `pwrite`+`fdatasync` baseline
/// measured in the same run on the same disk, LZ4 ratio and speed, recovery speed, snapshot speed.
///
/// Every phase is bounded in bytes and time (about a minute in total). All files go to a fresh
/// subdirectory of `dir`, removed at the end.
public enum StorageBenchmark {
    /// Bound on the wall time of one throughput phase.
    static let phaseSecondsMax = 3.0
    /// Bound on the payload bytes of one throughput phase.
    static let phaseBytesMax = 384 << 20
    /// Alternating log/raw slices of the durable-append row.
    static let syncAppendSlices = 6
    /// Writer threads of the concurrent group-commit row.
    static let concurrentWriters = 4
    /// Size of the log written for the recovery measurement.
    static let recoveryLogBytes = 256 << 20
    /// Approximate size of the database used for the snapshot measurement.
    static let snapshotDatabaseBytes = 64 << 20

    /// The phases of the benchmark, each selectable on its own (`skiff bench storage --only ...`).
    public enum Phase: String, CaseIterable, Sendable {
        case groupCommit = "group-commit"
        case concurrent
        case syncAppend = "sync-append"
        case codec
        case recovery
        case snapshot
    }

    /// Runs the given phases (all by default) and returns the report as a Markdown table.
    public static func run(dir: String, phases: Set<Phase> = Set(Phase.allCases)) throws -> String {
        let root = joinBenchPath(dir, "skiff-bench-\(getpid())")
        let fileSystem = RealFileSystem()
        try fileSystem.makeDirectory(root)
        defer { removeTree(root) }
        var lines = ["| measurement | result | raw baseline (same run) | ratio |", "|---|---|---|---|"]
        if phases.contains(.groupCommit) {
            for entryBytes in [100, 1024, 65536] {
                lines.append(try groupCommitRow(root: root, entryBytes: entryBytes))
            }
        }
        if phases.contains(.concurrent) {
            lines.append(try groupCommitRow(root: root, entryBytes: 1024, writers: concurrentWriters))
        }
        if phases.contains(.syncAppend) { lines.append(try syncAppendRow(root: root, entryBytes: 65536)) }
        if phases.contains(.codec) { lines += codecRows() }
        if phases.contains(.recovery) { lines.append(try recoveryRow(root: root)) }
        if phases.contains(.snapshot) { lines += try snapshotRows(root: root) }
        return lines.joined(separator: "\n")
    }

    // MARK: Phases

    /// Group commit: `writers` threads submit single-entry requests as fast as back-pressure allows. Several
    /// writers take turns through one lock that assigns the next index and submits (log order), as a Raft
    /// leader's proposals do.
    static func groupCommitRow(root: String, entryBytes: Int, writers: Int = 1) throws -> String {
        let directory = joinBenchPath(root, "gc-\(entryBytes)-\(writers)")
        let log = try SegmentedLog.open(directory: directory)
        let committer = GroupCommitter(log: log)
        // Distinct payloads, cycled over a span larger than LZ4's 64 KiB window, so repetition is not free.
        let pool = (0..<max(16, (1 << 20) / entryBytes)).map { benchPayload(entryBytes, seed: $0 + 1) }
        let counter = BenchCounter()
        let sequencer = BenchSequencer(entriesMax: phaseBytesMax / entryBytes)
        let start = ContinuousClock.now
        let threads = (0..<writers).map { _ in
            BenchThread {
                while sequencer.submitNext(until: start, committer: committer, counter: counter, pool: pool) {}
            }
        }
        for thread in threads { thread.join() }
        let submitted = sequencer.submitted
        counter.wait(for: submitted)
        let elapsed = seconds(since: start)
        committer.shutdown()
        let flushes = committer.flushes
        let diskBytes = try directoryBytes(directory)
        log.close()
        removeTree(directory)
        let payloadBytes = Double(submitted * entryBytes)
        let batchBytes = max(4096, Int(payloadBytes) / max(1, flushes))
        let raw = try rawBaseline(root: root, batchBytes: batchBytes)
        let mbs = payloadBytes / elapsed / 1e6
        let threadLabel = writers == 1 ? "1 writer thread" : "\(writers) concurrent writer threads"
        return "| group commit, \(label(entryBytes)) entries, \(threadLabel) (\(counter.failures) errors) | "
            + "\(format(Double(submitted) / elapsed)) entries/s, \(format(mbs)) MB/s payload, \(flushes) fdatasyncs "
            + "(avg batch \(label(batchBytes)), \(format(Double(diskBytes) / 1e6)) MB on disk) | "
            + "\(format(raw.mbs)) MB/s, \(format(raw.syncsPerSecond)) syncs/s at \(label(batchBytes)) | "
            + "\(format(mbs / raw.mbs * 100))% |"
    }

    /// Synchronous `append` of one batch per call, each durable before the next. The log and the raw loop run
    /// in alternating slices (`syncAppendSlices` of each), so load from other processes on a shared disk
    /// falls on both sides alike instead of on whichever phase it happened to hit.
    static func syncAppendRow(root: String, entryBytes: Int) throws -> String {
        let directory = joinBenchPath(root, "sync-\(entryBytes)")
        let options = LogOptions()
        let log = try SegmentedLog.open(directory: directory, options: options)
        let pool = (0..<16).map { benchPayload(entryBytes, seed: $0 + 1) }
        let sliceSeconds = phaseSecondsMax / Double(syncAppendSlices)
        var appended = 0
        var logSeconds = 0.0
        var rawBytes = 0.0
        var rawSeconds = 0.0
        var rawSyncs = 0.0
        for _ in 0..<syncAppendSlices {
            let start = ContinuousClock.now
            while appended * entryBytes < phaseBytesMax && seconds(since: start) < sliceSeconds {
                let data = pool[appended % pool.count]
                try log.append([Entry(term: Term(1), index: LogIndex(UInt64(appended + 1)), data: data)])
                appended += 1
            }
            logSeconds += seconds(since: start)
            let raw = try rawBaseline(root: root, batchBytes: entryBytes, secondsMax: sliceSeconds)
            rawBytes += raw.mbs * raw.seconds * 1e6
            rawSyncs += raw.syncsPerSecond * raw.seconds
            rawSeconds += raw.seconds
        }
        log.close()
        removeTree(directory)
        // The CPU part of a call: encoding the block (LZ4 + CRC) as `append` does, timed alone on the same payloads.
        let encodeStart = ContinuousClock.now
        var encodeRounds = 0
        while encodeRounds < 64 || (seconds(since: encodeStart) < 0.3 && encodeRounds < 4096) {
            let data = pool[encodeRounds % pool.count]
            _ = BlockCodec.encodeBlocks(
                [Entry(term: Term(1), index: LogIndex(1), data: data)], compress: options.compress, callerWaits: true)
            encodeRounds += 1
        }
        let encodeMicros = seconds(since: encodeStart) / Double(encodeRounds) * 1e6
        let mbs = Double(appended * entryBytes) / logSeconds / 1e6
        let rawMBs = rawBytes / rawSeconds / 1e6
        return "| durable append, \(label(entryBytes)) batch per call (\(syncAppendSlices) alternating slices) | "
            + "\(format(mbs)) MB/s payload, \(format(Double(appended) / logSeconds)) appends/s "
            + "(\(format(logSeconds / Double(appended) * 1e6)) µs per call, of which block encoding "
            + "\(format(encodeMicros)) µs) | "
            + "\(format(rawMBs)) MB/s, \(format(rawSyncs / rawSeconds)) syncs/s "
            + "(\(format(rawSeconds / rawSyncs * 1e6)) µs per call) | \(format(mbs / rawMBs * 100))% |"
    }

    /// LZ4 block encoding (compress + CRC) and decoding (CRC + decompress + parse) on the bench payload.
    static func codecRows() -> [String] {
        let entries = (1...1024).map {
            Entry(term: Term(1), index: LogIndex(UInt64($0)), data: benchPayload(1024, seed: $0))
        }
        let rawBytes = Double(entries.count * (1024 + BlockCodec.entryOverheadBytes))
        var block: [UInt8] = []
        var rounds = 0
        let start = ContinuousClock.now
        while rounds < 2 || (seconds(since: start) < 1 && rounds < 200) {
            block = BlockCodec.encode(entries[...])
            rounds += 1
        }
        let encodeMBs = rawBytes * Double(rounds) / seconds(since: start) / 1e6
        var decoded = 0
        let decodeStart = ContinuousClock.now
        for _ in 0..<rounds { decoded += (try? BlockCodec.decode(block).count) ?? 0 }
        let decodeMBs = rawBytes * Double(rounds) / seconds(since: decodeStart) / 1e6
        let ratio = rawBytes / Double(block.count)
        let crcInput = benchPayload(1 << 20)
        var crc: UInt32 = 0
        let crcStart = ContinuousClock.now
        for _ in 0..<256 { crc = CRC32C.checksum(of: crcInput, continuing: crc) }
        let crcMBs = Double(256 << 20) / seconds(since: crcStart) / 1e6
        let softwareStart = ContinuousClock.now
        for _ in 0..<64 { crc = crcInput.withUnsafeBytes { CRC32C.softwareChecksum(of: $0, continuing: crc) } }
        let softwareMBs = Double(64 << 20) / seconds(since: softwareStart) / 1e6
        let used = CRC32C.hardwareAvailable ? "SSE4.2 crc32 instruction" : "software, no CPU support"
        return [
            "| CRC32C (\(used)); software slicing-by-16 | \(format(crcMBs)) MB/s; \(format(softwareMBs)) MB/s "
                + "(\(crc % 10)) | | |",
            "| LZ4 block encode (1 MiB block of 1 KiB entries, text-like payload) | \(format(encodeMBs)) MB/s, "
                + "ratio \(format(ratio)):1 | | |",
            "| block decode with CRC check | \(format(decodeMBs)) MB/s (\(decoded / max(rounds, 1)) entries) | | |",
        ]
    }

    /// Writes a log of `recoveryLogBytes` and times `SegmentedLog.open` on it (page cache warm).
    static func recoveryRow(root: String) throws -> String {
        let directory = joinBenchPath(root, "recovery")
        let log = try SegmentedLog.open(directory: directory)
        let committer = GroupCommitter(log: log)
        let pool = (0..<256).map { benchPayload(4096, seed: $0 + 1) }
        let counter = BenchCounter()
        var index: UInt64 = 0
        while try directoryBytesEstimate(log) < recoveryLogBytes {
            let batch = (0..<256).map { _ in
                index += 1
                return Entry(term: Term(1), index: LogIndex(index), data: pool[Int(index % 256)])
            }
            committer.submit(.entries(batch)) { counter.complete($0) }
            if index % (256 * 64) == 0 { counter.wait(for: Int(index / 256)) }
        }
        counter.wait(for: Int(index / 256))
        committer.shutdown()
        log.close()
        let bytes = try directoryBytes(directory)
        let start = ContinuousClock.now
        let reopened = try SegmentedLog.open(directory: directory)
        let elapsed = seconds(since: start)
        let report = reopened.recovery
        reopened.close()
        removeTree(directory)
        let mbs = Double(bytes) / elapsed / 1e6
        return
            "| recovery scan (open: read, CRC every block, rebuild index; warm cache) | \(format(mbs)) MB/s on disk, "
            + "\(format(elapsed / (Double(bytes) / Double(1 << 30)))) s per GiB (\(report.blocksScanned) blocks, "
            + "\(format(Double(bytes) / 1e6)) MB) | | |"
    }

    /// Times `createSnapshot` and a chunked transfer plus install of a database of `snapshotDatabaseBytes`.
    static func snapshotRows(root: String) throws -> [String] {
        let store = try StateStore.open(path: joinBenchPath(root, "bench.db"))
        try store.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        let bodies = (0..<64).map { SQLValue.blob(benchPayload(1024, seed: $0 + 1)) }
        var id: Int64 = 0
        for _ in 0..<(snapshotDatabaseBytes / (1024 * 2048)) {
            let inserts = (0..<2048).map { _ in
                id += 1
                return SQLStatement(
                    "INSERT INTO messages (id, body) VALUES (?, ?)", [.integer(id), bodies[Int(id % 64)]])
            }
            try store.checkpoint(
                appliedIndex: LogIndex(UInt64(id)), term: Term(1), membership: [1], statements: inserts)
        }
        let start = ContinuousClock.now
        let metadata = try store.createSnapshot(at: joinBenchPath(root, "snap.db"))
        let createSeconds = seconds(since: start)
        store.close()
        let installStart = ContinuousClock.now
        let reader = try SnapshotReader(path: joinBenchPath(root, "snap.db"), metadata: metadata)
        let writer = try SnapshotWriter(metadata: metadata, tempPath: joinBenchPath(root, "incoming.tmp"))
        while !writer.isComplete { try writer.accept(try reader.chunk(at: writer.nextOffset)) }
        try writer.install(at: joinBenchPath(root, "installed.db"))
        let installSeconds = seconds(since: installStart)
        let megabytes = Double(metadata.byteCount) / 1e6
        return [
            "| snapshot create (VACUUM INTO + fsync + CRC), \(format(megabytes)) MB | "
                + "\(format(megabytes / createSeconds)) MB/s | | |",
            "| snapshot transfer (1 MiB chunks, CRC each) + atomic install | "
                + "\(format(megabytes / installSeconds)) MB/s | | |",
        ]
    }
}
