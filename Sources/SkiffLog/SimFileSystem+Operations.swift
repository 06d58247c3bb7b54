#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SimFileSystem {
    public func open(_ path: String, create: Bool) throws -> any StorageFile {
        try lock.withLock {
            guard directories.contains(parentDirectory(of: path)) else {
                throw FileSystemError(kind: .notFound, errno: ENOENT, operation: "open", path: path)
            }
            if files[path] == nil {
                guard create else {
                    throw FileSystemError(kind: .notFound, errno: ENOENT, operation: "open", path: path)
                }
                files[path] = Inode()
            }
            return SimFile(fileSystem: self, path: path, inode: files[path]!, generation: generation)
        }
    }

    public func rename(from: String, to: String) throws {
        try lock.withLock {
            guard let inode = files[from] else {
                throw FileSystemError(kind: .notFound, errno: ENOENT, operation: "rename", path: from)
            }
            files[from] = nil
            files[to] = inode
        }
    }

    public func unlink(_ path: String) throws {
        try lock.withLock {
            guard files.removeValue(forKey: path) != nil else {
                throw FileSystemError(kind: .notFound, errno: ENOENT, operation: "unlink", path: path)
            }
        }
    }

    public func list(directory: String) throws -> [String] {
        try lock.withLock {
            guard directories.contains(directory) else {
                throw FileSystemError(kind: .notFound, errno: ENOENT, operation: "opendir", path: directory)
            }
            let fileNames = files.keys.filter { parentDirectory(of: $0) == directory }
            let dirNames = directories.filter { $0 != directory && parentDirectory(of: $0) == directory }
            return (fileNames + dirNames).map { String($0.split(separator: "/").last ?? "") }.sorted()
        }
    }

    public func makeDirectory(_ path: String) throws {
        lock.withLock {
            var current = path
            // Directories are made durable immediately: the log's directory is created once, before any data.
            while !directories.contains(current) {
                directories.insert(current)
                durableDirectories.insert(current)
                current = parentDirectory(of: current)
            }
        }
    }

    public func syncDirectory(_ path: String) throws {
        try lock.withLock {
            try consumeSyncFailure(path: path, operation: "fsync(dir)")
            for (name, _) in durableFiles where parentDirectory(of: name) == path && files[name] == nil {
                durableFiles[name] = nil
            }
            for (name, inode) in files where parentDirectory(of: name) == path {
                durableFiles[name] = inode
            }
        }
    }

    public func exists(_ path: String) -> Bool {
        lock.withLock { files[path] != nil || directories.contains(path) }
    }

    /// Throws EIO when an injected sync failure applies. MUST be called with the lock held.
    func consumeSyncFailure(path: String, operation: String) throws {
        while syncsHeld {
            syncsWaiting += 1
            lock.wait()
            syncsWaiting -= 1
        }
        if let armed = armedCrash, armed.path.map({ path.contains($0) }) ?? true {
            guard armed.skip == 0 else {
                armedCrash?.skip -= 1
                return
            }
            armedCrash = nil
            crashLocked(armed.mode)
            throw FileSystemError(kind: .io, errno: EIO, operation: operation + " (crashed)", path: path)
        }
        guard syncFailuresRemaining > 0 else { return }
        if let filter = syncFailurePathFilter, !path.contains(filter) { return }
        syncFailuresRemaining -= 1
        throw FileSystemError(kind: .io, errno: EIO, operation: operation, path: path)
    }

    /// The sum of all file sizes. MUST be called with the lock held.
    func usedBytes() -> Int {
        files.values.reduce(0) { $0 + $1.data.count }
    }
}

/// A handle on a `SimFileSystem` file. All state lives in the file system, under its lock.
final class SimFile: StorageFile, @unchecked Sendable {
    let fileSystem: SimFileSystem
    let path: String
    let inode: SimFileSystem.Inode
    let generation: UInt64

    init(fileSystem: SimFileSystem, path: String, inode: SimFileSystem.Inode, generation: UInt64) {
        self.fileSystem = fileSystem
        self.path = path
        self.inode = inode
        self.generation = generation
    }

    private func checkAlive(_ operation: String) throws {
        guard fileSystem.generation == generation else {
            throw FileSystemError(kind: .io, errno: EIO, operation: operation + " after crash", path: path)
        }
    }

    func size() throws -> Int {
        try fileSystem.lock.withLock {
            try checkAlive("fstat")
            return inode.data.count
        }
    }

    func read(at offset: Int, count: Int) throws -> [UInt8] {
        try fileSystem.lock.withLock {
            try checkAlive("pread")
            guard offset < inode.data.count else { return [] }
            return Array(inode.data[offset..<min(inode.data.count, offset + count)])
        }
    }

    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws {
        try fileSystem.lock.withLock {
            try checkAlive("pwrite")
            var allowed = bytes.count
            let growth = max(0, offset + bytes.count - inode.data.count)
            if let capacity = fileSystem.capacity, fileSystem.usedBytes() + growth > capacity {
                let room = max(0, capacity - fileSystem.usedBytes())
                allowed = max(0, min(bytes.count, inode.data.count - offset + room))
            }
            if allowed > 0 {
                let chunk = [UInt8](bytes[0..<allowed])
                if inode.data.count < offset + allowed {
                    inode.data = SimFileSystem.resized(inode.data, to: offset + allowed)
                }
                inode.data.replaceSubrange(offset..<(offset + allowed), with: chunk)
                inode.pending.append(.write(offset: offset, bytes: chunk))
            }
            if allowed < bytes.count {
                throw FileSystemError(kind: .noSpace, errno: ENOSPC, operation: "pwrite", path: path)
            }
        }
    }

    func truncate(to size: Int) throws {
        try fileSystem.lock.withLock {
            try checkAlive("ftruncate")
            inode.data = SimFileSystem.resized(inode.data, to: size)
            inode.pending.append(.truncate(size: size))
        }
    }

    func sync() throws { try syncData("fsync") }

    func dataSync() throws { try syncData("fdatasync") }

    private func syncData(_ operation: String) throws {
        try fileSystem.lock.withLock {
            try checkAlive(operation)
            do {
                try fileSystem.consumeSyncFailure(path: path, operation: operation)
            } catch {
                // Like Linux after a writeback error: the dirty pages are dropped from the durable future.
                inode.pending = []
                throw error
            }
            inode.durable = inode.data
            inode.pending = []
        }
    }

    func close() {}
}
