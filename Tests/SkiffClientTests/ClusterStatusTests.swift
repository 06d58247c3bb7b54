import SkiffWire
import Testing

@testable import SkiffClient

/// `clusterStatus()`: each member's row is what that member reports of itself.
@Suite struct ClusterStatusTests {
    static func member(_ id: UInt64, _ role: MemberRole, term: UInt64, commit: UInt64, applied: UInt64) -> MemberInfo {
        MemberInfo(
            id: NodeID(id), role: role, term: Term(term), commit: LogIndex(commit), applied: LogIndex(applied),
            clientAddress: "n\(id):7101", peerAddress: "n\(id):7201")
    }

    /// The leader's view knows no follower terms (it reports 0); each follower's own answer fills them in,
    /// and a member that did not answer keeps the leader's row, marked unreachable.
    @Test func selfViewsReplaceLeaderGuesses() {
        let leaderView = ClusterInfo(
            respondingNode: NodeID(1), leaderID: NodeID(1), term: Term(5),
            members: [
                Self.member(1, .leader, term: 5, commit: 90, applied: 90),
                Self.member(2, .follower, term: 0, commit: 88, applied: 88),
                Self.member(3, .follower, term: 0, commit: 0, applied: 0),
            ])
        let follower2 = ClusterInfo(
            respondingNode: NodeID(2), leaderID: NodeID(1), term: Term(5),
            members: [
                Self.member(1, .leader, term: 5, commit: 0, applied: 0),
                Self.member(2, .follower, term: 5, commit: 89, applied: 87),
            ])
        let merged = SkiffClient.merge(leaderView, selfViews: [NodeID(1): leaderView, NodeID(2): follower2])
        #expect(merged.members.map(\.term) == [Term(5), Term(5), Term(0)])
        #expect(merged.members.map(\.commit) == [LogIndex(90), LogIndex(89), LogIndex(0)])
        #expect(merged.members.map(\.applied) == [LogIndex(90), LogIndex(87), LogIndex(0)])
        #expect(merged.members.map(\.reachable) == [true, true, false])
        #expect(merged.leaderID == NodeID(1))
    }

    /// An answer from the wrong node (an address that now belongs to another member) is not taken as the
    /// member's own view.
    @Test func answerFromAnotherNodeIsIgnored() {
        let leaderView = ClusterInfo(
            respondingNode: NodeID(1), leaderID: NodeID(1), term: Term(2),
            members: [
                Self.member(1, .leader, term: 2, commit: 10, applied: 10),
                Self.member(2, .follower, term: 0, commit: 9, applied: 9),
            ])
        let impostor = ClusterInfo(
            respondingNode: NodeID(3), leaderID: NodeID(1), term: Term(2),
            members: [Self.member(2, .candidate, term: 9, commit: 1, applied: 1)])
        let merged = SkiffClient.merge(leaderView, selfViews: [NodeID(2): impostor])
        #expect(merged.members[1].term == Term(0))
        #expect(merged.members[1].role == .follower)
        #expect(merged.members[1].reachable == false)
    }
}
