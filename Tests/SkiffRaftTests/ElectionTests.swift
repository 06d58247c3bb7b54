import Testing

@testable import SkiffRaft

/// Proves a campaigning node of a 3-node cluster wins and the others follow it (Raft §5.2).
@Test func electionWinsWithMajority() {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    #expect(cluster[1].role == .leader)
    #expect(cluster[2].leader == NodeID(1) && cluster[3].leader == NodeID(1))
    #expect(cluster[1].term == Term(1))
}

/// Proves a proposal commits on every node and is applied in order once a majority has it (Raft §5.3).
@Test func proposalCommitsEverywhere() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    try cluster[1].propose([7])
    try cluster[1].propose([8])
    cluster.deliverAll()
    cluster.tick()
    for raw: UInt64 in [1, 2, 3] {
        #expect(cluster.applied[NodeID(raw)]!.filter { $0.kind == .normal }.map(\.data) == [[7], [8]])
    }
}
