import SkiffLog
import SkiffRaft

@testable import SkiffServer

#if canImport(Glibc)
    import Glibc
#endif

/// A node data directory under /tmp, removed with everything in it when the value is released.
final class TemporaryDataDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/skiff-server-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TemporaryDirectoryError() }
        path = String(cString: made)
    }

    deinit { Self.remove(path) }

    private static func remove(_ path: String) {
        guard let directory = opendir(path) else {
            unlink(path)
            return
        }
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name != "." && name != ".." else { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) { remove(path + "/" + name) } else { unlink(path + "/" + name) }
        }
        closedir(directory)
        rmdir(path)
    }
}

struct TemporaryDirectoryError: Error {}

/// A `LogDisk` over a fresh node data directory (SQLite store, real files).
func makeLogDisk(
    _ directory: TemporaryDataDirectory, options: LogOptions = LogOptions(), messageBytesMax: Int = 1 << 20
) throws -> LogDisk {
    let store = try NodeStore(directory: directory.path)
    let log = try SegmentedLog.open(directory: store.logDirectory, options: options)
    return LogDisk(log: log, store: store, messageBytesMax: messageBytesMax)
}

/// Entries `first...last` at `term`, with payloads that differ per index and compress.
func sampleEntries(_ first: UInt64, _ last: UInt64, term: UInt64 = 1, size: Int = 300) -> [Entry] {
    (first...last).map { index in
        let text = "message \(index) of term \(term): " + String(repeating: "payload-\(index % 7) ", count: size / 10)
        return Entry(term: Term(term), index: LogIndex(index), data: Array(text.utf8.prefix(size)))
    }
}

/// An AppendEntries from node 1 to node 2 carrying `entries` after `previous`.
func appendMessage(after previous: LogPosition, _ entries: [Entry], commit: UInt64 = 0) -> SkiffRaft.Message {
    var message = SkiffRaft.Message(kind: .append, from: NodeID(1), to: NodeID(2), term: entries.last?.term ?? Term(1))
    message.index = previous.index
    message.logTerm = previous.term
    message.entries = entries
    message.commit = LogIndex(commit)
    return message
}

/// The bytes of every segment file of a log directory, by name.
func segmentBytes(_ directory: String) throws -> [String: [UInt8]] {
    let fileSystem = RealFileSystem()
    var result: [String: [UInt8]] = [:]
    for name in try fileSystem.list(directory: directory) where name.hasPrefix("seg-") {
        let file = try fileSystem.open(directory + "/" + name, create: false)
        result[name] = try file.read(at: 0, count: try file.size())
        file.close()
    }
    return result
}
