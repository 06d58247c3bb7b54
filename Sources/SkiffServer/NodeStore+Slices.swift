#if canImport(Glibc)
    import Glibc
#endif

/// Writes a checkpoint's SQLite data out in bounded slices while its transaction runs.
///
/// A checkpoint writes megabytes into the WAL. A log append's `fdatasync` ends with a cache flush of the shared
/// disk, which waits for whatever SQLite writeback is already queued there (on a journaling file system the
/// journal commit adds the same dependency). Without slices, a log fsync that comes while the checkpoint's data
/// is being written out waits for all of it: 50-200 ms on
/// every node at once (docs/benchmarks.md, "Latency at 1000 msg/s"). Syncing the WAL every `sliceBytes` of
/// statement data from the checkpoint thread keeps what is dirty, and so what a log fsync can wait for, to about
/// one slice. The checkpoint thread waits for these syncs; nothing on the publish path waits for a checkpoint.
///
/// Slices are measured in bytes bound (after payload compression), not in statements: a compressed payload row
/// may be a few hundred bytes, and a sync per 256 of them would triple the syncs for the same data.
///
/// Invariant: used only on the checkpoint thread, for one checkpoint.
final class CheckpointSlicer {
    /// Bytes of bound statement data (about what SQLite writes to its WAL, before page overhead) between two syncs.
    static let sliceBytes = 256 << 10
    /// What one statement counts for at least (its row's key, cell and index overhead in its page).
    static let statementBytesMin = 32

    private var descriptor: Int32
    private var bytes = 0
    /// Syncs done so far (for tests).
    private(set) var slicesSynced = 0

    /// Opens `walPath` (the database's write-ahead log) for syncing. When it cannot be opened, slicing is off and
    /// `statementWritten` does nothing: SQLite's own commit sync still makes the checkpoint durable.
    init(walPath: String) { descriptor = open(walPath, O_RDONLY | O_CLOEXEC) }

    deinit { close() }

    /// Counts one statement that bound `bytes` of values; once `sliceBytes` were counted since the last sync,
    /// waits until the WAL's dirty pages are on disk.
    ///
    /// A failed sync throws, which fails the checkpoint and stops the node: after a failed fsync the kernel may
    /// have dropped the dirty pages, so no later sync (SQLite's at commit included) could be trusted.
    func statementWritten(bytes written: Int) throws(SliceSyncError) {
        bytes += max(written, Self.statementBytesMin)
        guard descriptor >= 0, bytes >= Self.sliceBytes else { return }
        bytes = 0
        guard fdatasync(descriptor) == 0 else { throw SliceSyncError(errno: errno) }
        slicesSynced += 1
    }

    /// Closes the WAL descriptor (idempotent).
    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }
}

/// A failed `fdatasync` of the WAL during a checkpoint slice.
struct SliceSyncError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { "fdatasync of the checkpoint WAL failed: \(String(cString: strerror(errno)))" }
}
