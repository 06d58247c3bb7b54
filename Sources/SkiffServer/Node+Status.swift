import NIOCore
import SkiffRaft
import SkiffWire

/// Views of the node for operators: `NodeStatus` (admin HTTP, metrics) and `ClusterInfo` (the wire).
extension Node {
    var roleName: String {
        if untrustedReason != nil { return "untrusted" }
        if !raft.confState.isVoter(config.nodeID) && raft.confState.isLearner(config.nodeID) { return "learner" }
        switch raft.role {
        case .leader: return "leader"
        case .candidate: return "candidate"
        case .preCandidate: return "precandidate"
        case .follower: return "follower"
        }
    }

    func status() -> NodeStatus {
        let members = raft.confState.members.map { id in
            NodeStatus.Member(
                id: id,
                peerAddress: id == config.nodeID ? config.peerAddress.description : addresses[id]?.peerAddress ?? "",
                clientAddress: nonEmpty(clientAddress(of: id)), isLearner: raft.confState.isLearner(id),
                matchIndex: raft.role == .leader ? raft.matchIndex(of: id) : nil)
        }
        let age = checkpointIndex > .zero ? Double((NIODeadline.now() - checkpointAt).nanoseconds) / 1e9 : nil
        return NodeStatus(
            nodeID: config.nodeID, role: roleName, term: raft.term, leaderID: raft.leader ?? .none,
            commitIndex: raft.commitIndex, appliedIndex: raft.appliedIndex, lastLogIndex: raft.lastIndex,
            firstLogIndex: raft.firstIndex,
            logBytes: logBytes, checkpointIndex: checkpointIndex, snapshotAgeSeconds: age, members: members,
            logUntrusted: untrustedReason != nil, clientConnections: connections.count,
            peerConnections: transport.connectedCount + transport.inboundCount, queues: queueFigures(),
            unsafeBug: config.unsafeBug?.rawValue)
    }

    func clusterInfo() -> ClusterInfo {
        let members = raft.confState.members.map { id -> MemberInfo in
            let isSelf = id == config.nodeID
            let role: MemberRole
            if raft.confState.isLearner(id) {
                role = .learner
            } else if id == raft.leader {
                role = .leader
            } else if isSelf {
                role = raft.role == .candidate || raft.role == .preCandidate ? .candidate : .follower
            } else {
                role = .follower
            }
            let match = raft.role == .leader ? raft.matchIndex(of: id) : nil
            return MemberInfo(
                id: id, role: role, voter: raft.confState.isVoter(id),
                term: isSelf || id == raft.leader ? raft.term : .zero,
                commit: isSelf ? raft.commitIndex : (match.map { min($0, raft.commitIndex) } ?? .zero),
                applied: isSelf ? raft.appliedIndex : (match ?? .zero),
                clientAddress: clientAddress(of: id),
                peerAddress: isSelf ? config.peerAddress.description : addresses[id]?.peerAddress ?? "",
                reachable: isSelf || transport.isConnected(id))
        }
        return ClusterInfo(
            respondingNode: config.nodeID, leaderID: raft.leader ?? .none, term: raft.term, members: members)
    }

    private func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }
}
