import SkiffLog
import SkiffRaft

/// Deterministic entry payloads: the same (index, seed) always gives the same bytes.
func payload(index: UInt64, size: Int, seed: UInt64 = 7) -> [UInt8] {
    var generator = SeededRandom(seed: index &* 1_000_003 &+ seed)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size)
    while bytes.count < size {
        // Words from a small alphabet so LZ4 has something to find.
        let word = generator.next() % 16
        bytes.append(UInt8(97 + word))
        if word == 0 { bytes.append(32) }
    }
    return Array(bytes.prefix(size))
}

/// Entries `first...last` at `term` with deterministic payloads.
func makeEntries(_ first: UInt64, _ last: UInt64, term: UInt64 = 1, size: Int = 40, seed: UInt64 = 7) -> [Entry] {
    (first...last).map {
        Entry(term: Term(term), index: LogIndex($0), data: payload(index: $0, size: size, seed: seed))
    }
}

/// Log options for the simulated file system: 4 KiB preallocation steps instead of 1 MiB, so that tests stay
/// fast in debug builds and cross many step boundaries.
func testLogOptions() -> LogOptions {
    var options = LogOptions()
    options.preallocateBytes = 4096
    return options
}

/// A fresh log directory on a new simulated file system.
func makeSimLog(
    seed: UInt64 = 1, options: LogOptions = testLogOptions()
) throws -> (SimFileSystem, SegmentedLog) {
    let fileSystem = SimFileSystem(seed: seed)
    let log = try SegmentedLog.open(directory: "/data/log", fileSystem: fileSystem, options: options)
    return (fileSystem, log)
}

/// Small segments so tests roll over quickly.
func smallSegments(_ bytes: Int = 4096) -> LogOptions {
    var options = testLogOptions()
    options.segmentBytesMax = bytes
    return options
}

/// Every entry of the log.
func allEntries(_ log: SegmentedLog) throws -> [Entry] {
    try log.entries(log.firstIndex..<log.lastIndex.next)
}

/// Where a segment's data ends: after its last non-zero byte (the zeros after it are preallocated space; test
/// payloads never end a block with a zero byte).
func dataEnd(_ segment: [UInt8]) -> Int {
    (segment.lastIndex { $0 != 0 } ?? -1) + 1
}
