import Foundation

/// Disk-full faults: each node's data directory is a small tmpfs (root only), and the fault fills it.
enum DiskFiller {
    /// Size of each node's tmpfs data directory.
    static let tmpfsMiB = 256
    static let fillerName = ".chaos-disk-filler"
    static let chunkBytes = 1 << 20

    /// Mounts a tmpfs of `tmpfsMiB` at `dataDir`.
    static func mount(_ dataDir: String) async throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let result = await CommandRunner.run(["mount", "-t", "tmpfs", "-o", "size=\(tmpfsMiB)m", "tmpfs", dataDir])
        guard result.status == 0 else { throw ChaosError("cannot mount tmpfs at \(dataDir): \(result.output)") }
    }

    /// Unmounts it (lazily, so a process still holding a file does not block teardown).
    static func unmount(_ dataDir: String) async {
        _ = await CommandRunner.run(["umount", "-l", dataDir])
    }

    /// Writes a filler file until the filesystem is full (bounded by the tmpfs size); returns bytes written.
    static func fill(_ dataDir: String) -> Int {
        let path = dataDir + "/" + fillerName
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { return 0 }
        defer { try? handle.close() }
        var written = 0
        // Big chunks first, then small ones, so the filesystem ends up with (almost) no free block.
        for chunkSize in [chunkBytes, 4096] {
            let chunk = Data(count: chunkSize)
            while written < tmpfsMiB * chunkBytes {
                do { try handle.write(contentsOf: chunk) } catch { break }
                written += chunkSize
            }
        }
        return written
    }

    /// Removes the filler: the disk has room again.
    static func free(_ dataDir: String) {
        try? FileManager.default.removeItem(atPath: dataDir + "/" + fillerName)
    }
}
