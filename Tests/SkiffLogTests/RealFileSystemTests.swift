import SkiffLog
import SkiffRaft
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct RealFileSystemTests {
    /// On the real file system: entries survive a reopen, a torn tail made by cutting the file is truncated
    /// and reported, and wipe leaves an empty healthy log.
    @Test func logOnDisk() throws {
        var template = Array("/tmp/skiff-log-test-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { removeDirectory(directory) }
        let fileSystem = RealFileSystem()
        let log = try SegmentedLog.open(directory: directory + "/log", fileSystem: fileSystem)
        try log.append(makeEntries(1, 50, size: 300))
        try log.append(makeEntries(51, 60, size: 300))
        log.close()
        let segment = directory + "/log/seg-00000000000000000001.log"
        let file = try fileSystem.open(segment, create: false)
        try file.truncate(to: dataEnd(try file.read(at: 0, count: try file.size())) - 7)
        file.close()
        let reopened = try SegmentedLog.open(directory: directory + "/log", fileSystem: fileSystem)
        #expect(reopened.recovery.tornTail?.file == segment)
        #expect(try allEntries(reopened) == makeEntries(1, 50, size: 300))
        reopened.close()
        let report = try SegmentedLog.wipe(directory: directory + "/log", fileSystem: fileSystem)
        #expect(report.removedSegments == ["seg-00000000000000000001.log"])
        let wiped = try SegmentedLog.open(directory: directory + "/log", fileSystem: fileSystem)
        #expect(wiped.health == .healthy && wiped.lastIndex == LogIndex(0))
        wiped.close()
    }

    private func removeDirectory(_ path: String) {
        let fileSystem = RealFileSystem()
        for name in (try? fileSystem.list(directory: path)) ?? [] {
            let child = path + "/" + name
            if (try? fileSystem.list(directory: child)) != nil { removeDirectory(child) } else { unlink(child) }
        }
        rmdir(path)
    }
}
