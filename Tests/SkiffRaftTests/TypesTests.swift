import Testing

@testable import SkiffRaft

/// Proves the strong types order and step the way Raft's comparisons (§5.4.1 "more up-to-date") need.
@Test func strongTypesOrderAndStep() {
    #expect(Term(3) > Term(2))
    #expect(Term(2).next == Term(3))
    #expect(LogIndex(7).next == LogIndex(8))
    #expect(LogIndex(8).previous == LogIndex(7))
    #expect(LogIndex(2).distance(to: LogIndex(5)) == 3)
    #expect(NodeID.none < NodeID(1))
}
