import Testing

@testable import SkiffRaft

private func entries(_ terms: [UInt64], from first: UInt64 = 1) -> [Entry] {
    terms.enumerated().map { Entry(term: Term($1), index: LogIndex(first + UInt64($0)), data: [UInt8($0)]) }
}

/// Proves MemoryStorage appends, replaces a conflicting suffix, compacts and reports compaction as errors.
@Test func memoryStorageAppendCompact() throws {
    let storage = MemoryStorage()
    storage.append(entries([1, 1, 2, 2]))
    #expect(storage.lastIndex == LogIndex(4))
    storage.append(entries([3], from: 3))
    #expect(storage.lastIndex == LogIndex(3))
    #expect(try storage.term(LogIndex(3)) == Term(3))
    storage.compact(through: LogIndex(2), confState: ConfState(voters: [NodeID(1)]))
    #expect(storage.firstIndex == LogIndex(3))
    #expect(try storage.term(LogIndex(2)) == Term(1))
    #expect(throws: StorageError.compacted) { try storage.term(LogIndex(1)) }
    #expect(throws: StorageError.unavailable) { try storage.term(LogIndex(9)) }
    #expect(throws: StorageError.compacted) { try storage.entries(LogIndex(1)..<LogIndex(3), maxBytes: 100) }
}

/// Proves `entries(_:maxBytes:)` stops at the byte bound but always returns at least one entry.
@Test func memoryStorageByteBound() throws {
    let storage = MemoryStorage()
    storage.append(
        (1...5).map { Entry(term: Term(1), index: LogIndex(UInt64($0)), data: [UInt8](repeating: 0, count: 10)) })
    #expect(try storage.entries(LogIndex(1)..<LogIndex(6), maxBytes: 25).count == 2)
    #expect(try storage.entries(LogIndex(1)..<LogIndex(6), maxBytes: 1).count == 1)
}

/// Proves the core's log view prefers unstable entries over stale stored ones after a truncation.
@Test func raftLogUnstableOverridesStorage() {
    let storage = MemoryStorage()
    storage.append(entries([1, 1, 1]))
    var log = RaftLog(storage: storage, committed: LogIndex(1), applied: LogIndex(1))
    log.append(entries([2], from: 2))
    #expect(log.lastIndex == LogIndex(2))
    #expect(log.term(LogIndex(2)) == Term(2))
    #expect(log.term(LogIndex(3)) == nil)
    #expect(log.entries(from: LogIndex(1), to: LogIndex(3), maxBytes: .max)?.map(\.term) == [Term(1), Term(2)])
}

/// Proves the backtracking probe finds the last index whose term can match (used for the conflict hint).
@Test func findConflictSkipsWholeTerms() {
    let storage = MemoryStorage()
    storage.append(entries([1, 1, 4, 4, 5, 5]))
    let log = RaftLog(storage: storage, committed: .zero, applied: .zero)
    #expect(log.findConflict(atOrBefore: LogIndex(6), term: Term(3)) == LogIndex(2))
    #expect(log.findConflict(atOrBefore: LogIndex(6), term: Term(5)) == LogIndex(6))
    #expect(log.findConflict(atOrBefore: LogIndex(4), term: Term(0)) == LogIndex(0))
}
