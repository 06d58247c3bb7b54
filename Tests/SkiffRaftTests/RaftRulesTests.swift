import Testing

@testable import SkiffRaft

/// A lone core over fresh storage (no shell), for rules checked message by message.
private func makeNode(_ raw: UInt64, voters: [UInt64] = [1, 2, 3], preVote: Bool = false) -> RawNode {
    var config = RaftConfig(id: NodeID(raw))
    config.voters = voters.map { NodeID($0) }
    config.preVote = preVote
    config.randomSeed = raw
    return RawNode(config: config, storage: MemoryStorage())
}

private func message(_ kind: Message.Kind, _ from: UInt64, _ to: UInt64, term: UInt64) -> Message {
    Message(kind: kind, from: NodeID(from), to: NodeID(to), term: Term(term))
}

/// Takes the node's Ready, persists it to the node's MemoryStorage and acknowledges it, as a shell would.
@discardableResult
private func drain(_ node: RawNode) -> Ready {
    let ready = node.ready()
    let storage = node.log.storage as! MemoryStorage
    if let snapshot = ready.snapshot { storage.applySnapshot(snapshot) }
    storage.append(ready.entries)
    if let hardState = ready.hardState { storage.setHardState(hardState) }
    node.advance(ready)
    return ready
}

/// Raft §5.1: a leader that sees a higher term becomes a follower of that term.
@Test func higherTermDeposesLeader() {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster[1].step(message(.heartbeat, 2, 1, term: 5))
    #expect(cluster[1].role == .follower)
    #expect(cluster[1].term == Term(5))
    #expect(cluster[1].leader == NodeID(2))
}

/// Raft §5.1: a message from an older term is not obeyed; an append gets an answer with the newer term so
/// that the stale leader steps down.
@Test func staleTermAppendIsAnsweredWithCurrentTerm() {
    let node = makeNode(2)
    node.step(message(.heartbeat, 3, 2, term: 4))
    drain(node)
    var stale = message(.append, 1, 2, term: 2)
    stale.entries = [Entry(term: Term(2), index: LogIndex(1))]
    node.step(stale)
    let ready = drain(node)
    #expect(node.lastIndex == .zero)
    #expect(ready.messagesAfterPersist.map(\.kind) == [.appendResponse])
    #expect(ready.messagesAfterPersist.first?.term == Term(4))
}

/// Raft §5.2: a node grants at most one vote per term, and the vote is in the hard state it must persist
/// before the answer goes out (Figure 2).
@Test func oneVotePerTermPersistedBeforeAnswer() {
    let node = makeNode(1)
    node.step(message(.vote, 2, 1, term: 1))
    let first = drain(node)
    #expect(first.hardState?.vote == NodeID(2))
    #expect(first.messagesNow.isEmpty)
    #expect(first.messagesAfterPersist.map(\.reject) == [false])
    node.step(message(.vote, 3, 1, term: 1))
    #expect(drain(node).messagesAfterPersist.map(\.reject) == [true])
}

/// Raft §5.4.1: a vote is refused to a candidate whose log is less up to date.
@Test func voteRefusedToStaleLog() {
    let cluster = TestCluster(voters: [1, 2, 3]) { $0.checkQuorum = false }
    cluster.elect(1)
    try? cluster[1].propose([1])
    cluster.deliverAll()
    var request = message(.vote, 3, 2, term: 5)
    request.index = LogIndex(1)
    request.logTerm = Term(1)
    cluster[2].step(request)
    let ready = drain(cluster[2])
    #expect(ready.messagesAfterPersist.first { $0.kind == .voteResponse }?.reject == true)
}

/// Raft §5.2: election timeouts are randomized in [electionTick, 2 * electionTick).
@Test func electionTimeoutIsRandomized() {
    var timeouts: Set<Int> = []
    for seed: UInt64 in 1...20 {
        var config = RaftConfig(id: NodeID(1))
        config.voters = [NodeID(1), NodeID(2), NodeID(3)]
        config.randomSeed = seed
        let node = RawNode(config: config, storage: MemoryStorage())
        var ticks = 0
        while node.role == .follower && ticks < 100 {
            node.tick()
            ticks += 1
        }
        #expect((10..<20).contains(ticks))
        timeouts.insert(ticks)
    }
    #expect(timeouts.count > 3)
}

/// Raft §5.3: a follower refuses an append whose previous entry does not match and hints where to retry;
/// it commits only up to the last entry the append proved it holds.
@Test func appendConsistencyCheckAndCommitBound() {
    let node = makeNode(2)
    var append = message(.append, 1, 2, term: 1)
    append.entries = [Entry(term: Term(1), index: LogIndex(1)), Entry(term: Term(1), index: LogIndex(2))]
    append.commit = LogIndex(9)
    node.step(append)
    #expect(node.commitIndex == LogIndex(2))
    var gap = message(.append, 1, 2, term: 1)
    gap.index = LogIndex(5)
    gap.logTerm = Term(1)
    node.step(gap)
    let answer = drain(node).messagesAfterPersist.last
    #expect(answer?.reject == true)
    #expect(answer?.rejectHint == LogIndex(2))
    #expect(answer?.logTerm == Term(1))
}

/// Raft §5.4.2: the leader does not commit an entry of an earlier term by counting replicas; its no-op
/// (§8) of the current term commits it.
@Test func leaderCommitsOnlyCurrentTermByCounting() {
    let storage = MemoryStorage(hardState: HardState(term: Term(2)))
    storage.append([Entry(term: Term(1), index: LogIndex(1))])
    var config = RaftConfig(id: NodeID(1))
    config.voters = [NodeID(1), NodeID(2), NodeID(3)]
    config.preVote = false
    let node = RawNode(config: config, storage: storage)
    node.campaign()
    node.step(
        {
            var m = message(.voteResponse, 2, 1, term: 3); m.reject = false; return m
        }())
    #expect(node.role == .leader)
    drain(node)
    var ack = message(.appendResponse, 2, 1, term: 3)
    ack.index = LogIndex(1)
    node.step(ack)
    #expect(node.commitIndex == .zero)
    ack.index = LogIndex(2)
    node.step(ack)
    #expect(node.commitIndex == LogIndex(2))
}

/// Thesis §10.2.1: the leader sends appends before its own fsync, but counts itself only once `advance`
/// confirms its entries are durable.
@Test func leaderCountsItselfOnlyAfterPersisting() throws {
    let node = makeNode(1, voters: [1])
    node.campaign()
    drain(node)
    try node.propose([1])
    #expect(node.commitIndex == LogIndex(1))
    let ready = node.ready()
    #expect(ready.entries.count == 1)
    #expect(node.commitIndex == LogIndex(1))
    (node.log.storage as! MemoryStorage).append(ready.entries)
    node.advance(ready)
    #expect(node.commitIndex == LogIndex(2))
}

/// Batching: proposals made between two Readys travel in one append per follower.
@Test func proposalsAreBatchedIntoOneAppend() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster.tick()
    for value: UInt8 in 1...10 { try cluster[1].propose([value]) }
    let appends = cluster[1].ready().messagesNow.filter { $0.kind == .append }
    #expect(appends.count == 2)
    #expect(appends.allSatisfy { $0.entries.count == 10 })
}

/// Pipelining: a replicating leader keeps at most `maxInflightMsgs` appends unanswered per follower.
@Test func pipeliningIsBoundedByCount() throws {
    let cluster = TestCluster(voters: [1, 2]) { config in
        config.maxInflightMsgs = 3
        config.maxSizePerMsg = 1
    }
    cluster.elect(1)
    cluster.tick()
    for value: UInt8 in 1...10 { try cluster[1].propose([value]) }
    let appends = cluster[1].ready().messagesNow.filter { $0.kind == .append && !$0.entries.isEmpty }
    #expect(appends.count == 3)
    #expect(appends.map { $0.entries.count } == [1, 1, 1])
}

/// Pipelining: a replicating leader also stops when the unanswered payload bytes reach `maxInflightBytes`.
@Test func pipeliningIsBoundedByBytes() throws {
    let cluster = TestCluster(voters: [1, 2]) { config in
        config.maxInflightBytes = 250
        config.maxSizePerMsg = 100
    }
    cluster.elect(1)
    cluster.tick()
    for _ in 1...10 { try cluster[1].propose([UInt8](repeating: 7, count: 100)) }
    let appends = cluster[1].ready().messagesNow.filter { $0.kind == .append && !$0.entries.isEmpty }
    #expect(appends.count == 3)
}

/// Thesis §6.2: with check-quorum, a leader that hears from no majority for an election timeout steps down.
@Test func checkQuorumStepsDownIsolatedLeader() {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster.isolate(1)
    for _ in 0..<20 { cluster[1].tick() }
    #expect(cluster[1].role == .follower)
}

/// Thesis §9.6: a pre-candidate does not raise its term, and a node that hears from its leader refuses
/// pre-votes (lease), so a rejoining node cannot disrupt.
@Test func preVoteKeepsTermAndRespectsLease() {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    let term = cluster[1].term
    cluster.isolate(3)
    for _ in 0..<50 { cluster[3].tick() }
    #expect(cluster[3].term == term)
    cluster.heal()
    cluster[3].campaign()
    cluster.deliverAll()
    #expect(cluster[1].role == .leader && cluster[1].term == term)
}

/// Thesis §3.10: leadership transfer brings the target up to date and makes it campaign at once; the old
/// leader refuses proposals meanwhile.
@Test func leaderTransferMovesLeadership() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    try cluster[1].transferLeadership(to: NodeID(2))
    #expect(throws: RaftError.self) { try cluster[1].propose([1]) }
    cluster.deliverAll()
    #expect(cluster[2].role == .leader)
    #expect(cluster[1].leader == NodeID(2))
}

/// Thesis §6.4: ReadIndex answers with the commit index after a heartbeat round confirms leadership, on the
/// leader and, forwarded, on a follower.
@Test func readIndexOnLeaderAndFollower() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    try cluster[1].readIndex(context: [1])
    #expect(cluster.readStates[NodeID(1), default: []].isEmpty)
    cluster.deliverAll()
    #expect(cluster.readStates[NodeID(1)] == [ReadState(index: cluster[1].commitIndex, context: [1])])
    try cluster[3].readIndex(context: [2])
    cluster.deliverAll()
    #expect(cluster.readStates[NodeID(3)] == [ReadState(index: cluster[1].commitIndex, context: [2])])
}

/// Thesis §6.4: an isolated leader cannot answer a read (no quorum confirms it still leads).
@Test func readIndexNeedsQuorum() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster.isolate(1)
    try cluster[1].readIndex(context: [1])
    cluster.tick(3)
    #expect(cluster.readStates[NodeID(1), default: []].isEmpty)
}

/// Thesis §4.2.1 and §4.1: a learner catches up without voting or counting, is then promoted, and a second
/// change waits for the first to be applied.
@Test func learnerCatchesUpThenIsPromoted() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    var config = RaftConfig(id: NodeID(4))
    config.randomSeed = 4
    cluster.addNode(config)
    try cluster[1].proposeConfigChange(ConfChange(.addLearner, NodeID(4)))
    #expect(throws: RaftError.self) { try cluster[1].proposeConfigChange(ConfChange(.addVoter, NodeID(4))) }
    cluster.deliverAll()
    cluster.tick(2)
    #expect(cluster[4].confState.isLearner(NodeID(4)))
    #expect(cluster[4].commitIndex == cluster[1].commitIndex)
    for _ in 0..<40 { cluster[4].tick() }
    #expect(cluster[4].role == .follower)
    try cluster[1].proposeConfigChange(ConfChange(.addVoter, NodeID(4)))
    cluster.deliverAll()
    cluster.tick(2)
    #expect(cluster[1].confState.voters == [NodeID(1), NodeID(2), NodeID(3), NodeID(4)])
    #expect(cluster[4].confState.isVoter(NodeID(4)))
}

/// Raft §7: snapshot chunks must arrive in order; a gap or a duplicate is answered with the offset the
/// follower wants, so the leader resumes there.
@Test func snapshotChunksResumeAtExpectedOffset() {
    let node = makeNode(2)
    let snapshot = SnapshotMetadata(
        index: LogIndex(10), term: Term(1), confState: ConfState(voters: [NodeID(1), NodeID(2)]))
    func chunk(_ offset: UInt64, _ data: [UInt8], done: Bool) -> Message {
        var m = message(.snapshot, 1, 2, term: 1)
        m.snapshot = snapshot
        m.snapshotOffset = offset
        return m.withSnapshotChunk(data, done: done)
    }
    node.step(chunk(0, [1, 2, 3], done: false))
    node.step(chunk(6, [7], done: false))
    node.step(chunk(0, [1, 2, 3], done: false))
    var ready = drain(node)
    #expect(ready.snapshotChunks.count == 1)
    #expect(ready.messagesAfterPersist.map(\.snapshotOffset) == [3, 3, 3])
    node.step(chunk(3, [4, 5, 6], done: true))
    ready = drain(node)
    #expect(ready.snapshot == snapshot)
    #expect(node.commitIndex == LogIndex(10))
    #expect(ready.messagesAfterPersist.last?.kind == .appendResponse)
}

/// Raft §7: a follower whose log already holds the snapshot's last entry keeps its log and only commits.
@Test func snapshotMatchingLogKeepsSuffix() {
    let node = makeNode(2)
    var append = message(.append, 1, 2, term: 1)
    append.entries = (1...5).map { Entry(term: Term(1), index: LogIndex(UInt64($0))) }
    node.step(append)
    drain(node)
    var chunk = message(.snapshot, 1, 2, term: 1)
    chunk.snapshot = SnapshotMetadata(index: LogIndex(3), term: Term(1), confState: ConfState(voters: [NodeID(1)]))
    node.step(chunk.withSnapshotChunk([0], done: true))
    let ready = drain(node)
    #expect(ready.snapshot == nil)
    #expect(node.lastIndex == LogIndex(5))
    #expect(node.commitIndex == LogIndex(3))
}

/// Thesis §3.10: a transfer that does not complete within an election timeout is abandoned, and the leader
/// takes proposals again.
@Test func leaderTransferAbortsAfterElectionTimeout() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster.isolate(2)
    try cluster[1].transferLeadership(to: NodeID(2))
    #expect(cluster[1].leadTransferee == NodeID(2))
    for _ in 0..<10 { cluster[1].tick() }
    #expect(cluster[1].leadTransferee == nil)
    #expect(cluster[1].role == .leader)
    try cluster[1].propose([1])
}

/// Back-pressure: the leader refuses proposals beyond `maxUncommittedEntries` uncommitted entries.
@Test func proposalsBeyondUncommittedBoundAreDropped() throws {
    let cluster = TestCluster(voters: [1, 2, 3]) { $0.maxUncommittedEntries = 4 }
    cluster.elect(1)
    cluster.isolate(1)
    try cluster[1].propose(batch: [[1], [2], [3], [4]])
    #expect { try cluster[1].propose([5]) } throws: { ($0 as? RaftError)?.kind == .proposalDropped }
}

/// Thesis §6.4: a new leader answers reads only once an entry of its own term is committed, because only
/// then is its commit index known to be current.
@Test func readIndexWaitsForCurrentTermCommit() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster[1].campaign()
    cluster.deliverAll(maxRounds: 4)
    #expect(cluster[1].role == .leader)
    try cluster[1].readIndex(context: [7])
    cluster.processReadies()
    #expect(cluster.readStates[NodeID(1), default: []].isEmpty)
    cluster.deliverAll()
    #expect(cluster.readStates[NodeID(1)]?.map(\.context) == [[7]])
    #expect(cluster.readStates[NodeID(1)]?.first?.index == cluster[1].commitIndex)
}

/// Raft §7: when the shell cannot stream a snapshot it reports failure, and the leader starts a new
/// transfer from offset 0 later.
@Test func failedSnapshotTransferStartsOver() throws {
    let cluster = TestCluster(voters: [1, 2, 3])
    cluster.elect(1)
    cluster.isolate(3)
    for value: UInt8 in 1...5 { try cluster[1].propose([value]) }
    cluster.deliverAll()
    cluster.tick()
    cluster.compact(1, data: Array("state".utf8))
    cluster.heal()
    cluster.snapshotData[NodeID(1)] = [:]
    cluster.tick(2)
    cluster[1].reportSnapshot(to: NodeID(3), status: .failure)
    #expect(cluster[3].commitIndex < cluster[1].commitIndex)
    cluster.compact(1, data: Array("state".utf8))
    cluster.snapshotData[NodeID(1)]![cluster[1].appliedIndex] = Array("state".utf8)
    cluster.tick(4)
    #expect(cluster[3].commitIndex == cluster[1].commitIndex)
    #expect(cluster.snapshotData[NodeID(3)]?[cluster[1].appliedIndex] == Array("state".utf8))
}

/// Operator repair (Raft assumes durable logs, §3.8): a follower restarted with a wiped log rejects appends with
/// a hint below the match the leader recorded for it. Until the leader is told, it never re-sends what the
/// follower lost (a rejection at or below the match is taken as stale); after `reportLogLost` it probes from the
/// follower's real last index and the follower catches up. The commit index does not move back.
@Test func wipedFollowerCatchesUpAfterReportLogLost() throws {
    let cluster = TestCluster(voters: [1, 2, 3]) { $0.checkQuorum = false }
    cluster.elect(1)
    for value: UInt8 in 1...5 { try cluster[1].propose([value]) }
    cluster.deliverAll()
    let committed = cluster[1].commitIndex
    #expect(cluster[1].matchIndex(of: NodeID(3)) == committed)

    // Node 3 restarts wiped: empty log, same term and vote (the repair keeps the hard state).
    let hard = cluster.storages[NodeID(3)]!.hardState
    var config = RaftConfig(id: NodeID(3))
    config.voters = [1, 2, 3].map { NodeID($0) }
    config.checkQuorum = false
    cluster.addNode(config, storage: MemoryStorage(hardState: HardState(term: hard.term, vote: hard.vote)))
    try cluster[1].propose([6])
    cluster.deliverAll()
    #expect(cluster[3].lastIndex == .zero, "the leader ignored the wiped follower's rejections")
    let rejection = cluster.sent.last { $0.kind == .appendResponse && $0.from == NodeID(3) && $0.reject }
    let hint = try #require(rejection?.rejectHint)
    #expect(hint < (cluster[1].matchIndex(of: NodeID(3)) ?? .zero))

    cluster[1].reportLogLost(NodeID(3), lastIndex: hint)
    cluster.deliverAll()
    #expect(cluster[3].lastIndex == cluster[1].lastIndex)
    #expect(cluster[1].matchIndex(of: NodeID(3)) == cluster[1].lastIndex)
    #expect(cluster[1].commitIndex >= committed)
    // A report that is not below the match changes nothing.
    cluster[1].reportLogLost(NodeID(3), lastIndex: cluster[1].lastIndex)
    #expect(cluster[1].matchIndex(of: NodeID(3)) == cluster[1].lastIndex)
}
