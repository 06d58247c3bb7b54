/// The file operations SkiffLog and SkiffStore need, behind a protocol so tests and the simulator can inject
/// crashes, torn writes, bit flips, failed fsyncs and a full disk (`SimFileSystem`).
///
/// Paths are plain strings joined with "/". Implementations MUST be safe to call from several threads.
public protocol FileSystem: Sendable {
    /// Opens `path` for reading and writing, creating it empty when `create` is true and it does not exist.
    ///
    /// A created file's directory entry is durable only after `syncDirectory` on its parent.
    func open(_ path: String, create: Bool) throws -> any StorageFile
    /// Atomically replaces `to` with `from` (POSIX `rename`). Durable after `syncDirectory`.
    func rename(from: String, to: String) throws
    /// Removes a file. Durable after `syncDirectory`.
    func unlink(_ path: String) throws
    /// The names (not paths) of the entries in `directory`, sorted, without "." and "..".
    func list(directory: String) throws -> [String]
    /// Creates `path` and any missing parents; no error when it exists.
    func makeDirectory(_ path: String) throws
    /// Makes creations, renames and removals in `directory` durable (fsync of the directory).
    func syncDirectory(_ path: String) throws
    /// Whether `path` names an existing file or directory.
    func exists(_ path: String) -> Bool
}

/// An open file. Positions and sizes are in bytes.
public protocol StorageFile: AnyObject, Sendable {
    /// The path the file was opened with.
    var path: String { get }
    /// The current size.
    func size() throws -> Int
    /// Reads up to `count` bytes at `offset`; returns fewer only at end of file.
    func read(at offset: Int, count: Int) throws -> [UInt8]
    /// Writes all of `bytes` at `offset` (`pwrite`), extending the file if needed.
    ///
    /// On failure a prefix of `bytes` may have been written (a short write before ENOSPC).
    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws
    /// Sets the size (`ftruncate`).
    func truncate(to size: Int) throws
    /// `fsync`: data and metadata durable.
    func sync() throws
    /// `fdatasync`: data and the metadata needed to read it (the size) durable.
    func dataSync() throws
    /// Closes the file; further calls are errors.
    func close()
}

extension StorageFile {
    /// Writes a byte array at `offset`.
    public func write(at offset: Int, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(at: offset, $0) }
    }

    /// Appends at the current end of the file. Callers serialize appends to one file; the log itself writes
    /// at offsets it tracks, so that a failed write can be cut back exactly.
    public func append(_ bytes: [UInt8]) throws {
        try write(at: try size(), bytes)
    }
}

/// A file-system failure, with the operation, the path and the `errno`.
public struct FileSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broad class of failure, which decides how the log reacts.
    public enum Kind: Sendable, Hashable {
        /// ENOSPC or EDQUOT: the disk is full. Writes stop; reads go on.
        case noSpace
        /// EIO or another failure of the device. After a failed sync this is fatal.
        case io
        /// ENOENT.
        case notFound
        /// Any other errno.
        case other
    }

    public var kind: Kind
    public var errno: Int32
    public var operation: String
    public var path: String

    public init(kind: Kind, errno: Int32, operation: String, path: String) {
        self.kind = kind
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    public var description: String { "\(operation)(\(path)) failed: \(kind) (errno \(errno))" }
}

/// Joins path components with "/".
package func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The parent directory of a path ("." when there is none).
package func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}
