#if canImport(Glibc)
    import Glibc
#endif

/// A unique directory under /tmp, removed (with its files) when the value is released.
final class TempDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/skiff-store-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TempDirectoryError() }
        path = String(cString: made)
    }

    deinit {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

struct TempDirectoryError: Error {}
