import SkiffRaft

/// The segment file header and the state file: encoding, decoding and names.
enum LogFiles {
    /// "SKLS" in file order.
    static let segmentMagic: UInt32 = 0x534C_4B53
    static let segmentVersion: UInt8 = 1
    static let segmentHeaderBytes = 24
    /// "SKHS" in file order.
    static let stateMagic: UInt32 = 0x5348_4B53
    static let stateVersion: UInt8 = 1
    static let stateBytes = 64
    static let stateFileName = "state"
    static let stateTempFileName = "state.tmp"
    static let segmentPrefix = "seg-"
    static let segmentSuffix = ".log"
    static let sequenceDigits = 20

    static func segmentName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return segmentPrefix + String(repeating: "0", count: sequenceDigits - digits.count) + digits + segmentSuffix
    }

    static func parseSegmentName(_ name: String) -> UInt64? {
        guard name.hasPrefix(segmentPrefix), name.hasSuffix(segmentSuffix),
            name.count == segmentPrefix.count + sequenceDigits + segmentSuffix.count
        else { return nil }
        let digits = name.dropFirst(segmentPrefix.count).dropLast(segmentSuffix.count)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    static func encodeSegmentHeader(sequence: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(segmentMagic)
        bytes.append(segmentVersion)
        bytes.append(contentsOf: [0, 0, 0])
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(CRC32C.checksum(of: bytes))
        bytes.appendLittleEndian(UInt32(0))
        return bytes
    }

    /// Returns the sequence number, or a reason the header is invalid.
    static func decodeSegmentHeader(_ bytes: ArraySlice<UInt8>) -> Result<UInt64, FormatProblem> {
        guard bytes.count >= segmentHeaderBytes else {
            return .failure(FormatProblem("header cut at \(bytes.count) bytes"))
        }
        return bytes.withUnsafeBytes { raw in
            guard raw.loadLittleEndian(at: 0, as: UInt32.self) == segmentMagic else {
                return .failure(FormatProblem("bad magic"))
            }
            guard raw[4] == segmentVersion else { return .failure(FormatProblem("unsupported version \(raw[4])")) }
            let stored = raw.loadLittleEndian(at: 16, as: UInt32.self)
            let computed = CRC32C.checksum(of: UnsafeRawBufferPointer(rebasing: raw[0..<16]))
            guard stored == computed else { return .failure(FormatProblem("header checksum mismatch")) }
            return .success(raw.loadLittleEndian(at: 8, as: UInt64.self))
        }
    }
}

/// The contents of the state file: the Raft hard state and where the log starts.
struct LogState: Hashable, Sendable {
    var hardState = HardState()
    /// The entry just before the log's first entry (the last compacted or snapshotted entry).
    var logStart = LogPosition.zero
    /// The sequence number of the first segment file that must exist.
    var firstSegmentSequence: UInt64 = 1

    func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(LogFiles.stateMagic)
        bytes.append(LogFiles.stateVersion)
        bytes.append(contentsOf: [0, 0, 0])
        bytes.appendLittleEndian(hardState.term.rawValue)
        bytes.appendLittleEndian(hardState.vote.rawValue)
        bytes.appendLittleEndian(hardState.commit.rawValue)
        bytes.appendLittleEndian(logStart.index.rawValue)
        bytes.appendLittleEndian(logStart.term.rawValue)
        bytes.appendLittleEndian(firstSegmentSequence)
        bytes.appendLittleEndian(CRC32C.checksum(of: bytes))
        bytes.appendLittleEndian(UInt32(0))
        precondition(bytes.count == LogFiles.stateBytes, "state encoding is \(bytes.count) bytes")
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> Result<LogState, FormatProblem> {
        guard bytes.count == LogFiles.stateBytes else {
            return .failure(FormatProblem("state file has \(bytes.count) bytes"))
        }
        return bytes.withUnsafeBytes { raw in
            guard raw.loadLittleEndian(at: 0, as: UInt32.self) == LogFiles.stateMagic else {
                return .failure(FormatProblem("bad magic"))
            }
            guard raw[4] == LogFiles.stateVersion else {
                return .failure(FormatProblem("unsupported version \(raw[4])"))
            }
            let stored = raw.loadLittleEndian(at: 56, as: UInt32.self)
            guard stored == CRC32C.checksum(of: UnsafeRawBufferPointer(rebasing: raw[0..<56])) else {
                return .failure(FormatProblem("checksum mismatch"))
            }
            var state = LogState()
            state.hardState = HardState(
                term: Term(raw.loadLittleEndian(at: 8, as: UInt64.self)),
                vote: NodeID(raw.loadLittleEndian(at: 16, as: UInt64.self)),
                commit: LogIndex(raw.loadLittleEndian(at: 24, as: UInt64.self)))
            state.logStart = LogPosition(
                index: LogIndex(raw.loadLittleEndian(at: 32, as: UInt64.self)),
                term: Term(raw.loadLittleEndian(at: 40, as: UInt64.self)))
            state.firstSegmentSequence = raw.loadLittleEndian(at: 48, as: UInt64.self)
            return .success(state)
        }
    }
}

/// Why a segment header or state file is invalid.
struct FormatProblem: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}
