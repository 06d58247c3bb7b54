import SkiffRaft

/// A position in the log: an index and the term of the entry there.
public struct LogPosition: Sendable, Hashable, CustomStringConvertible {
    public var index: LogIndex
    public var term: Term

    public init(index: LogIndex, term: Term) {
        self.index = index
        self.term = term
    }

    public static let zero = LogPosition(index: .zero, term: .zero)
    public var description: String { "\(index)@\(term)" }
}

/// Damage the log cannot explain by a crash: never dropped silently.
public struct LogCorruption: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Sendable, Hashable {
        /// A block that is not the torn tail fails validation (bad checksum, bad header, bad payload).
        case badBlock(BlockDecodeError)
        /// A segment header is damaged.
        case badSegmentHeader(String)
        /// The state file (hard state) is damaged.
        case badStateFile(String)
        /// Segment files exist but the state file does not.
        case missingStateFile
        /// A segment that must exist is missing (a gap in the segment sequence).
        case missingSegment(sequence: UInt64)
        /// The live entries are not contiguous (entries between `after` and `next` are absent).
        case missingEntries(after: LogIndex, next: LogIndex)
    }

    /// The file that holds the damage.
    public var file: String
    /// The byte offset of the damage in `file`.
    public var offset: Int
    public var reason: Reason

    public init(file: String, offset: Int, reason: Reason) {
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "log corruption in \(file) at offset \(offset): \(reason)" }
}

/// Whether the log may be written and trusted.
public enum LogHealth: Sendable, Hashable {
    /// Normal operation.
    case healthy
    /// Corruption was found: the node MUST NOT vote or lead, and writes are refused. Repair by
    /// `SegmentedLog.wipe` and a snapshot from the leader.
    case untrusted(LogCorruption)
    /// The disk is full: writes are refused, reads go on, nothing on disk is damaged.
    /// `resumeWrites()` returns to `.healthy` once space is available.
    case readOnly(FileSystemError)
    /// A sync (fsync/fdatasync) or a write failed: the durable state is unknown. Permanent; the process MUST
    /// exit and recover from disk. Never retried (the 2018 PostgreSQL fsync lesson).
    case failed(FileSystemError)

    /// Whether Raft may count this node's vote or let it lead.
    public var mayVoteOrLead: Bool {
        switch self {
        case .healthy, .readOnly: return true
        case .untrusted, .failed: return false
        }
    }

    /// Whether appends are accepted.
    public var isWritable: Bool { self == .healthy }
}

/// A log operation failed. `kind` says why; the message names files and offsets.
public struct LogError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The log is untrusted (corruption found at open or on a read).
        case untrusted(LogCorruption)
        /// The log is in the permanent failed state.
        case failed(FileSystemError)
        /// The disk is full; the log is read-only.
        case noSpace(FileSystemError)
        /// An I/O call failed (reads, opens).
        case io(FileSystemError)
        /// An append does not continue the log: it starts at `got`; it may start at most at `expectedAtMost`.
        case notContiguous(expectedAtMost: LogIndex, got: LogIndex)
        /// The index is at or below the compacted prefix (`LogIndex` is the log's start).
        case compacted(LogIndex)
        /// The index is beyond the last entry.
        case unavailable(LogIndex)
        /// A term goes down at the given index.
        case termRegression(LogIndex)
        /// A replicated block failed verification.
        case invalidBlock(BlockDecodeError)
        /// The log was closed.
        case closed
    }

    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .untrusted(let corruption): return "log untrusted: \(corruption)"
        case .failed(let error): return "log failed permanently after \(error)"
        case .noSpace(let error): return "disk full, log is read-only: \(error)"
        case .io(let error): return "log I/O error: \(error)"
        case .notContiguous(let most, let got): return "append at \(got) does not continue the log (max \(most))"
        case .compacted(let start): return "index at or below the log start \(start)"
        case .unavailable(let index): return "index \(index) beyond the last entry"
        case .termRegression(let index): return "term decreases at \(index)"
        case .invalidBlock(let error): return "invalid block: \(error)"
        case .closed: return "log closed"
        }
    }
}

/// A torn tail removed during recovery.
public struct TornTail: Sendable, Hashable {
    public var file: String
    /// Where the file was cut.
    public var offset: Int
    /// How many bytes were removed.
    public var bytesRemoved: Int
    /// What was wrong at `offset`.
    public var reason: String
}

/// What `SegmentedLog.open` found and did; the shell logs it.
public struct RecoveryReport: Sendable, Hashable {
    public var segmentsScanned = 0
    public var bytesScanned = 0
    public var blocksScanned = 0
    /// The torn tail that was truncated, if any.
    public var tornTail: TornTail?
    /// Files removed as leftovers of an interrupted operation (temp files, compacted segments).
    public var removedFiles: [String] = []
    /// Corruption that made the log untrusted, if any.
    public var corruption: LogCorruption?
    public var firstIndex = LogIndex.zero
    public var lastIndex = LogIndex.zero

    public init() {}
}

/// One unit of work for `SegmentedLog.appendBatch`.
public enum AppendItem: Sendable {
    /// Entries to encode as one block (split only if beyond the block bounds). If the first index is at or
    /// below the last index, the log's suffix from there is replaced.
    case entries([Entry])
    /// A verified block from the leader, written byte for byte (same suffix rule).
    case block(RawBlock)
    /// Cut the log to `from - 1`.
    case truncation(from: LogIndex)

    var firstIndex: LogIndex {
        switch self {
        case .entries(let entries): return entries.first?.index ?? .zero
        case .block(let block): return block.header.firstIndex
        case .truncation(let from): return from
        }
    }
}

/// Tunables of a `SegmentedLog`.
public struct LogOptions: Sendable {
    /// Roll to a new segment file when the next block would grow the current one beyond this.
    public var segmentBytesMax = 64 << 20
    /// Bound on decoded entries kept in the block cache, in uncompressed bytes.
    public var blockCacheBytesMax = 8 << 20
    /// Whether entry blocks are LZ4-compressed (raw storage is used anyway when LZ4 does not shrink a block).
    public var compress = true
    /// How far ahead of its data the active segment is filled with zeros (0: never). An append inside the
    /// zeroed region does not change the file's size, so its `fdatasync` writes the data alone instead of
    /// the data and the inode; the size changes once per step. Recovery treats zeros up to the end of a
    /// segment as free space (docs/storage.md §2, §6).
    public var preallocateBytes = 1 << 20

    public init() {}
}

/// What a compaction removed.
public struct CompactionResult: Sendable, Hashable {
    /// Segment files deleted.
    public var deletedSegments: [String] = []
    /// The log start after compaction.
    public var logStart: LogPosition = .zero
}

extension TornTail: CustomStringConvertible {
    public var description: String {
        "torn tail in \(file) at offset \(offset): \(bytesRemoved) bytes removed (\(reason))"
    }
}

extension RecoveryReport: CustomStringConvertible {
    public var description: String {
        var parts = [
            "entries \(firstIndex)...\(lastIndex)", "\(segmentsScanned) segments", "\(blocksScanned) blocks",
            "\(bytesScanned) bytes",
        ]
        if let tornTail { parts.append(tornTail.description) }
        if !removedFiles.isEmpty { parts.append("removed \(removedFiles.joined(separator: ", "))") }
        if let corruption { parts.append(corruption.description) }
        return parts.joined(separator: "; ")
    }
}
