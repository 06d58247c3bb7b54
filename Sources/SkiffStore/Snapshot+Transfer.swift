import SkiffLog
import SkiffRaft

/// Serves a snapshot file in chunks by offset, so an interrupted transfer resumes where it stopped.
public final class SnapshotReader: @unchecked Sendable {
    /// Default chunk size.
    public static let defaultChunkBytes = 1 << 20
    /// Bound on the chunk size (a chunk travels in one message).
    public static let chunkBytesMax = 16 << 20

    public let metadata: SnapshotMetadata
    public let chunkBytes: Int
    private let file: any StorageFile

    /// Opens a snapshot made by `StateStore.createSnapshot`.
    public init(
        path: String, metadata: SnapshotMetadata, chunkBytes: Int = defaultChunkBytes,
        fileSystem: any FileSystem = RealFileSystem()
    ) throws {
        precondition(chunkBytes > 0 && chunkBytes <= Self.chunkBytesMax, "chunkBytes \(chunkBytes)")
        self.metadata = metadata
        self.chunkBytes = chunkBytes
        do {
            file = try fileSystem.open(path, create: false)
            guard try file.size() == Int(metadata.byteCount) else {
                throw StoreError(.snapshotMismatch("size differs from metadata"), context: path)
            }
        } catch let error as FileSystemError {
            throw StoreError(.file("\(error)"), context: path)
        }
    }

    /// The chunk starting at `offset` (a multiple of nothing in particular: any offset below the size).
    public func chunk(at offset: UInt64) throws -> SnapshotChunk {
        precondition(offset <= metadata.byteCount, "chunk at \(offset) beyond \(metadata.byteCount)")
        let count = Int(min(UInt64(chunkBytes), metadata.byteCount - offset))
        let bytes: [UInt8]
        do {
            bytes = try file.read(at: Int(offset), count: count)
        } catch let error as FileSystemError {
            throw StoreError(.file("\(error)"), context: file.path)
        }
        guard bytes.count == count else { throw StoreError(.snapshotMismatch("short read at \(offset)")) }
        return SnapshotChunk(
            offset: offset, bytes: bytes, checksum: CRC32C.checksum(of: bytes),
            isLast: offset + UInt64(count) == metadata.byteCount)
    }

    /// Every chunk offset, in order.
    public var offsets: StrideTo<UInt64> {
        stride(from: 0, to: max(metadata.byteCount, 1), by: UInt64.Stride(chunkBytes))
    }
}

/// Receives snapshot chunks into a temp file and installs the result atomically.
///
/// A chunk with a bad CRC is rejected with `.chunkCorrupted` (ask for it again); a chunk for the wrong
/// offset with `.unexpectedOffset` (resume from `nextOffset`). `install(at:)` checks the whole-file CRC,
/// fsyncs, renames over the destination and fsyncs the directory.
public final class SnapshotWriter: @unchecked Sendable {
    public let metadata: SnapshotMetadata
    public let tempPath: String
    private let fileSystem: any FileSystem
    private let file: any StorageFile
    private let lock = SnapshotWriterState()

    /// The offset of the next chunk to send.
    public var nextOffset: UInt64 { lock.withState { $0.nextOffset } }

    /// Starts receiving into `tempPath` (truncated if it exists).
    public init(metadata: SnapshotMetadata, tempPath: String, fileSystem: any FileSystem = RealFileSystem()) throws {
        self.metadata = metadata
        self.tempPath = tempPath
        self.fileSystem = fileSystem
        do {
            file = try fileSystem.open(tempPath, create: true)
            try file.truncate(to: 0)
        } catch let error as FileSystemError {
            throw StoreError(.file("\(error)"), context: tempPath)
        }
    }

    /// Verifies and writes one chunk.
    public func accept(_ chunk: SnapshotChunk) throws {
        try lock.withState { state in
            guard chunk.offset == state.nextOffset else {
                throw StoreError(.unexpectedOffset(expected: state.nextOffset, got: chunk.offset), context: tempPath)
            }
            guard chunk.bytes.count <= SnapshotReader.chunkBytesMax,
                chunk.offset + UInt64(chunk.bytes.count) <= metadata.byteCount
            else {
                throw StoreError(.snapshotMismatch("chunk at \(chunk.offset) exceeds the snapshot"), context: tempPath)
            }
            guard CRC32C.checksum(of: chunk.bytes) == chunk.checksum else {
                throw StoreError(.chunkCorrupted(offset: chunk.offset), context: tempPath)
            }
            do {
                try file.write(at: Int(chunk.offset), chunk.bytes)
            } catch let error as FileSystemError {
                throw StoreError(.file("\(error)"), context: tempPath)
            }
            state.crc = CRC32C.checksum(of: chunk.bytes, continuing: state.crc)
            state.nextOffset += UInt64(chunk.bytes.count)
        }
    }

    /// Whether every byte has arrived.
    public var isComplete: Bool { nextOffset == metadata.byteCount }

    /// Checks the whole file against the metadata, then atomically replaces `destination` with it.
    ///
    /// When `destination` is a database, its `StateStore` MUST be closed first; a non-empty write-ahead log
    /// next to it makes this throw `.databaseInUse` (its frames would otherwise apply to the new file).
    public func install(at destination: String) throws {
        try lock.withState { state in
            guard state.nextOffset == metadata.byteCount, state.crc == metadata.checksum else {
                throw StoreError(
                    .snapshotMismatch("have \(state.nextOffset) of \(metadata.byteCount) bytes, crc \(state.crc)"),
                    context: tempPath)
            }
            do {
                try checkNoLiveWAL(destination)
                try file.sync()
                file.close()
                for suffix in ["-shm", "-wal"] where fileSystem.exists(destination + suffix) {
                    try fileSystem.unlink(destination + suffix)
                }
                try fileSystem.rename(from: tempPath, to: destination)
                try fileSystem.syncDirectory(parentDirectoryPath(destination))
            } catch let error as FileSystemError {
                throw StoreError(.file("\(error)"), context: destination)
            }
        }
    }

    private func checkNoLiveWAL(_ destination: String) throws {
        let wal = destination + "-wal"
        guard fileSystem.exists(wal) else { return }
        let walFile = try fileSystem.open(wal, create: false)
        defer { walFile.close() }
        guard try walFile.size() == 0 else { throw StoreError(.databaseInUse(wal), context: destination) }
    }
}

/// The mutable progress of a `SnapshotWriter`, under a lock.
final class SnapshotWriterState: @unchecked Sendable {
    struct Progress {
        var nextOffset: UInt64 = 0
        var crc: UInt32 = 0
    }

    private let lock = StorageLock()
    private var progress = Progress()

    func withState<T>(_ body: (inout Progress) throws -> T) rethrows -> T {
        try lock.withLock { try body(&progress) }
    }
}
