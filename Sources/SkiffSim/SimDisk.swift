import SkiffRaft

/// A simulated disk that obeys the fsync contract: bytes written since the last `sync()` may be lost on a
/// crash, and the last unsynced write may be torn at any byte. Records carry a length and a checksum, so
/// recovery stops at the first incomplete record, as a real write-ahead log does.
///
/// (The storage module builds a fault-injecting file system for `SkiffLog`; the simulator keeps this small
/// record-level model until it can drive the real log through that file system.)
struct SimDisk {
    /// One persisted fact, in write order.
    enum Record: Equatable {
        case entries([Entry])
        case hardState(HardState)
        case confState(ConfState)
        /// A snapshot and its bytes; `installed` is true for a snapshot received from a leader (replaces the
        /// log) and false for one taken locally (compacts the log).
        case snapshot(SnapshotMetadata, [UInt8], installed: Bool)
    }

    private(set) var bytes: [UInt8] = []
    private(set) var syncedCount = 0
    /// Bytes of the record most recently written, for torn-write modelling.
    private(set) var writes = 0

    var unsyncedCount: Int { bytes.count - syncedCount }

    mutating func write(_ record: Record) {
        let payload = Self.encode(record)
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 12)
        appendU32(&frame, UInt32(payload.count))
        appendU64(&frame, bytesHash(payload))
        frame += payload
        bytes += frame
        writes += 1
    }

    mutating func sync() { syncedCount = bytes.count }

    /// A crash: everything synced survives; of the unsynced bytes, a prefix of random length survives.
    mutating func crash(random: inout SimRandom) {
        let kept = unsyncedCount == 0 ? 0 : random.int(0...unsyncedCount)
        bytes.removeSubrange((syncedCount + kept)...)
        syncedCount = bytes.count
    }

    /// Every complete record, in order. Truncates the disk after the last one (as recovery would).
    mutating func recover() -> [Record] {
        var records: [Record] = []
        var position = 0
        while bytes.count - position >= 12 {
            let length = Int(readU32(position))
            let checksum = readU64(position + 4)
            let start = position + 12
            guard length <= bytes.count - start else { break }
            let payload = Array(bytes[start..<(start + length)])
            guard bytesHash(payload) == checksum, let record = Self.decode(payload) else { break }
            records.append(record)
            position = start + length
        }
        bytes.removeSubrange(position...)
        syncedCount = bytes.count
        return records
    }

    private static func encode(_ record: Record) -> [UInt8] {
        switch record {
        case .entries(let entries):
            var message = Message(kind: .append, from: NodeID(1), to: NodeID(1), term: .zero)
            message.entries = entries
            return [1] + message.encoded()
        case .hardState(let state):
            return [2] + state.encoded()
        case .confState(let state):
            return [3] + state.encoded()
        case .snapshot(let metadata, let data, let installed):
            var message = Message(kind: .snapshot, from: NodeID(1), to: NodeID(1), term: .zero)
            message.snapshot = metadata
            message.snapshotData = data
            message.snapshotDone = installed
            return [4] + message.encoded()
        }
    }

    private static func decode(_ payload: [UInt8]) -> Record? {
        guard let tag = payload.first else { return nil }
        let body = Array(payload.dropFirst())
        switch tag {
        case 1: return (try? Message(decoding: body)).map { .entries($0.entries) }
        case 2: return (try? HardState(decoding: body)).map { .hardState($0) }
        case 3: return (try? ConfState(decoding: body)).map { .confState($0) }
        case 4:
            guard let message = try? Message(decoding: body), let metadata = message.snapshot else { return nil }
            return .snapshot(metadata, message.snapshotData, installed: message.snapshotDone)
        default: return nil
        }
    }

    private func readU32(_ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    private func readU64(_ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}

private func appendU32(_ bytes: inout [UInt8], _ value: UInt32) {
    for shift in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(shift)))) }
}

private func appendU64(_ bytes: inout [UInt8], _ value: UInt64) {
    for shift in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift)))) }
}
