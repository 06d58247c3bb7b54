#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The POSIX file system (open/pread/pwrite/fsync/fdatasync/rename/unlink/ftruncate).
public struct RealFileSystem: FileSystem {
    /// The mode for created files.
    public static let fileMode: mode_t = 0o644
    /// The mode for created directories.
    public static let directoryMode: mode_t = 0o755

    public init() {}

    public func open(_ path: String, create: Bool) throws -> any StorageFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = posixOpen(path, flags, Self.fileMode)
        guard fd >= 0 else { throw posixError("open", path) }
        return RealFile(fd: fd, path: path)
    }

    public func rename(from: String, to: String) throws {
        guard posixRename(from, to) == 0 else { throw posixError("rename", from + " -> " + to) }
    }

    public func unlink(_ path: String) throws {
        guard posixUnlink(path) == 0 else { throw posixError("unlink", path) }
    }

    public func list(directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw posixError("opendir", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func makeDirectory(_ path: String) throws {
        if exists(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path && parent != "." && parent != "/" && !exists(parent) { try makeDirectory(parent) }
        guard mkdir(path, Self.directoryMode) == 0 || errno == EEXIST else { throw posixError("mkdir", path) }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = posixOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw posixError("open(dir)", path) }
        defer { posixClose(fd) }
        guard fsync(fd) == 0 else { throw posixError("fsync(dir)", path) }
    }

    public func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}

// File-scope wrappers: inside the types, `open`, `rename`, `unlink` and `close` name the protocol methods.
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func posixRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func posixUnlink(_ path: String) -> Int32 { unlink(path) }
private func posixClose(_ fd: Int32) { _ = close(fd) }

/// Builds a `FileSystemError` from the current `errno`.
func posixError(_ operation: String, _ path: String, code: Int32 = errno) -> FileSystemError {
    let kind: FileSystemError.Kind
    switch code {
    case ENOSPC, EDQUOT: kind = .noSpace
    case EIO: kind = .io
    case ENOENT: kind = .notFound
    default: kind = .other
    }
    return FileSystemError(kind: kind, errno: code, operation: operation, path: path)
}

/// A POSIX file descriptor. The descriptor is immutable after open; the kernel serializes the calls.
final class RealFile: StorageFile, @unchecked Sendable {
    /// Largest single read or write request, to stay below the kernel's 2 GiB per-call limit.
    static let ioChunkBytesMax = 1 << 30

    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { if fd >= 0 { posixClose(fd) } }

    func size() throws -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw posixError("fstat", path) }
        return Int(info.st_size)
    }

    func read(at offset: Int, count: Int) throws -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "read(at: \(offset), count: \(count)) of \(path)")
        var done = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while done < count {
                let want = min(count - done, Self.ioChunkBytesMax)
                let got = pread(fd, buffer.baseAddress! + done, want, off_t(offset + done))
                if got < 0 {
                    if errno == EINTR { continue }
                    initialized = done
                    throw posixError("pread", path)
                }
                if got == 0 { break }
                done += got
            }
            initialized = done
        }
        return bytes
    }

    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws {
        precondition(offset >= 0, "write(at: \(offset)) of \(path)")
        var done = 0
        while done < bytes.count {
            let want = min(bytes.count - done, Self.ioChunkBytesMax)
            let wrote = pwrite(fd, bytes.baseAddress! + done, want, off_t(offset + done))
            if wrote < 0 {
                if errno == EINTR { continue }
                throw posixError("pwrite", path)
            }
            done += wrote
        }
    }

    func truncate(to size: Int) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw posixError("ftruncate", path) }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw posixError("fsync", path) }
    }

    func dataSync() throws {
        #if canImport(Glibc)
            guard fdatasync(fd) == 0 else { throw posixError("fdatasync", path) }
        #else
            guard fsync(fd) == 0 else { throw posixError("fsync", path) }
        #endif
    }

    func close() {
        // The descriptor closes in deinit; an explicit close would race with readers holding the object.
    }
}
