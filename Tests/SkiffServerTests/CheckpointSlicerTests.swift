import Foundation
import Testing

@testable import SkiffServer

@Suite struct CheckpointSlicerTests {
    /// The WAL is synced once per full slice of bytes, never for a partial one.
    @Test func syncsOncePerFullSlice() throws {
        let path = NSTemporaryDirectory() + "slicer-\(UInt64.random(in: 1...UInt64.max))-wal"
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let slicer = CheckpointSlicer(walPath: path)
        defer { slicer.close() }
        // 2.5 slices of 1 KiB statements.
        for _ in 0..<(CheckpointSlicer.sliceBytes / 1024 * 5 / 2) { try slicer.statementWritten(bytes: 1024) }
        #expect(slicer.slicesSynced == 2)
    }

    /// Small statements count for `statementBytesMin` each: a delta of tiny rows (deletes, compressed payloads) is
    /// still synced in slices, and one statement larger than a slice syncs once.
    @Test func smallStatementsCountTheirMinimum() throws {
        let path = NSTemporaryDirectory() + "slicer-\(UInt64.random(in: 1...UInt64.max))-wal"
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let slicer = CheckpointSlicer(walPath: path)
        defer { slicer.close() }
        let perSlice = CheckpointSlicer.sliceBytes / CheckpointSlicer.statementBytesMin
        for _ in 0..<(perSlice - 1) { try slicer.statementWritten(bytes: 0) }
        #expect(slicer.slicesSynced == 0)
        try slicer.statementWritten(bytes: 1)
        #expect(slicer.slicesSynced == 1)
        try slicer.statementWritten(bytes: CheckpointSlicer.sliceBytes * 3)
        #expect(slicer.slicesSynced == 2)
    }

    /// Without a WAL file, slicing is off: statements are counted but nothing is synced, and closing twice is safe.
    @Test func missingWalTurnsSlicingOff() throws {
        let slicer = CheckpointSlicer(walPath: NSTemporaryDirectory() + "no-such-dir-\(UInt64.random(in: 1...9999))/x")
        for _ in 0..<(CheckpointSlicer.sliceBytes / 1024 * 2) { try slicer.statementWritten(bytes: 1024) }
        #expect(slicer.slicesSynced == 0)
        slicer.close()
        slicer.close()
    }

    /// A failed sync of a slice throws (and so fails the checkpoint and stops the node) instead of being ignored:
    /// after a failed fsync no later sync can be trusted. `/dev/null` refuses fdatasync with EINVAL.
    @Test func failedSliceSyncThrows() {
        let slicer = CheckpointSlicer(walPath: "/dev/null")
        defer { slicer.close() }
        #expect(throws: SliceSyncError.self) {
            for _ in 0..<(CheckpointSlicer.sliceBytes / 1024) { try slicer.statementWritten(bytes: 1024) }
        }
        #expect(slicer.slicesSynced == 0)
    }
}
