import SkiffLog
import SkiffRaft

/// Describes a snapshot file: the checkpoint it captures, its size and its whole-file CRC32C.
public struct SnapshotMetadata: Sendable, Hashable {
    /// "SKSM" in byte order.
    static let magic: UInt32 = 0x4D53_4B53
    static let version: UInt8 = 1
    static let fixedBytes = 40
    /// Bound on the encoded membership.
    public static let membershipBytesMax = 1 << 20

    /// The last log index the snapshot covers.
    public var lastIndex: LogIndex
    /// The term of that entry.
    public var term: Term
    /// The encoded membership at `lastIndex`.
    public var membership: [UInt8]
    /// The snapshot file's size.
    public var byteCount: UInt64
    /// CRC32C of the whole file.
    public var checksum: UInt32

    public init(lastIndex: LogIndex, term: Term, membership: [UInt8], byteCount: UInt64, checksum: UInt32) {
        self.lastIndex = lastIndex
        self.term = term
        self.membership = membership
        self.byteCount = byteCount
        self.checksum = checksum
    }

    /// Encodes for the wire: magic, version, 3 reserved, last index, term, byte count, file checksum,
    /// membership length (u32), membership bytes, CRC32C of all preceding bytes. Little-endian.
    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        append(Self.magic, to: &bytes)
        bytes += [Self.version, 0, 0, 0]
        append(lastIndex.rawValue, to: &bytes)
        append(term.rawValue, to: &bytes)
        append(byteCount, to: &bytes)
        append(checksum, to: &bytes)
        append(UInt32(membership.count), to: &bytes)
        bytes += membership
        append(CRC32C.checksum(of: bytes), to: &bytes)
        return bytes
    }

    /// Decodes `encode()`'s output, checking its checksum.
    public static func decode(_ bytes: [UInt8]) throws -> SnapshotMetadata {
        guard bytes.count >= fixedBytes + 4 else { throw StoreError(.badMetadata("\(bytes.count) bytes")) }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        guard load(0, UInt32.self) == magic, bytes[4] == version else {
            throw StoreError(.badMetadata("magic/version"))
        }
        let membershipCount = Int(load(36, UInt32.self))
        guard membershipCount <= membershipBytesMax, bytes.count == fixedBytes + membershipCount + 4 else {
            throw StoreError(.badMetadata("length \(bytes.count) for membership \(membershipCount)"))
        }
        let body = bytes.count - 4
        guard load(body, UInt32.self) == CRC32C.checksum(of: bytes[0..<body]) else {
            throw StoreError(.badMetadata("checksum mismatch"))
        }
        return SnapshotMetadata(
            lastIndex: LogIndex(load(8, UInt64.self)), term: Term(load(16, UInt64.self)),
            membership: Array(bytes[fixedBytes..<body]), byteCount: load(24, UInt64.self),
            checksum: load(32, UInt32.self))
    }

    private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// One piece of a snapshot in transfer, with its own CRC32C.
public struct SnapshotChunk: Sendable, Hashable {
    public var offset: UInt64
    public var bytes: [UInt8]
    public var checksum: UInt32
    public var isLast: Bool

    public init(offset: UInt64, bytes: [UInt8], checksum: UInt32, isLast: Bool) {
        self.offset = offset
        self.bytes = bytes
        self.checksum = checksum
        self.isLast = isLast
    }
}

extension StateStore {
    /// Writes a consistent copy of the database to `destination` with `VACUUM INTO`, fsyncs it, and
    /// returns its metadata (from the checkpoint row copied with it). `destination` MUST NOT exist.
    public func createSnapshot(
        at destination: String, fileSystem: any FileSystem = RealFileSystem()
    ) throws
        -> SnapshotMetadata
    {
        let meta = try lock.withLock { () throws -> CheckpointMeta in
            let meta = try checkpointMetaLocked()
            _ = try runLocked(SQLStatement("VACUUM INTO ?", [.text(destination)]))
            return meta
        }
        do {
            let file = try fileSystem.open(destination, create: false)
            defer { file.close() }
            try file.sync()
            try fileSystem.syncDirectory(parentDirectoryPath(destination))
            let size = try file.size()
            var crc: UInt32 = 0
            var offset = 0
            while offset < size {
                let piece = try file.read(at: offset, count: min(SnapshotReader.defaultChunkBytes, size - offset))
                crc = CRC32C.checksum(of: piece, continuing: crc)
                offset += piece.count
            }
            return SnapshotMetadata(
                lastIndex: meta.appliedIndex, term: meta.term, membership: meta.membership,
                byteCount: UInt64(size), checksum: crc)
        } catch let error as FileSystemError {
            throw StoreError(.file("\(error)"), context: destination)
        }
    }
}

/// The directory part of a path.
func parentDirectoryPath(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
