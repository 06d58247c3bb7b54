import Logging
import NIOCore
import SkiffBroker
import SkiffRaft
import SkiffWire

/// Membership changes while serving: add a node (its addresses first, then the voter change), remove one,
/// and hand leadership to another node.
extension Node {
    /// How long an admin request waits for its membership change or transfer to take effect.
    static let membershipWaitMax = TimeAmount.seconds(10)

    /// A client waiting for the membership to reach a state.
    struct MembershipWaiter {
        var done: (ConfState) -> Bool
        var reply: (Response) -> Void
        var deadline: NIODeadline
    }

    func addNode(_ request: AddNodeRequest, id: RequestID, from connection: ClientConnection) {
        guard request.id != .none, (try? HostPort(parsing: request.peerAddress)) != nil else {
            connection.reply(id, .error(WireError(.badRequest, "add-node needs an id > 0 and a peer host:port")))
            return
        }
        let record = AddressRecord(
            node: request.id, peerAddress: request.peerAddress, clientAddress: request.clientAddress)
        proposeAddressRecord(record) { [weak self, weak connection] error in
            guard let self, let connection else { return }
            if let error {
                connection.reply(id, .error(error))
                return
            }
            self.proposeConfChange(ConfChange(.addVoter, request.id), id: id, connection: connection) {
                $0.isVoter(request.id)
            }
        }
    }

    func removeNode(_ node: NodeID, id: RequestID, from connection: ClientConnection) {
        guard raft.confState.isMember(node) else {
            connection.reply(id, .error(WireError(.badRequest, "node \(node.rawValue) is not a member")))
            return
        }
        proposeConfChange(ConfChange(.removeNode, node), id: id, connection: connection) { !$0.isMember(node) }
    }

    private func proposeConfChange(
        _ change: ConfChange, id: RequestID, connection: ClientConnection, done: @escaping (ConfState) -> Bool
    ) {
        guard isLeader else {
            connection.reply(id, .error(notLeaderError()))
            return
        }
        do {
            try raft.proposeConfigChange(change)
        } catch {
            let code: ErrorCode = error.kind == .notLeader ? .notLeader : .unavailable
            connection.reply(id, .error(WireError(code, "\(error)")))
            return
        }
        logger.info("membership change proposed", metadata: ["change": "\(change)"])
        membershipWaiters.append(
            MembershipWaiter(
                done: done, reply: { [weak connection] in connection?.reply(id, $0) },
                deadline: .now() + Node.membershipWaitMax))
        process()
    }

    /// Proposes an address record and calls back once it is applied (or failed).
    private func proposeAddressRecord(_ record: AddressRecord, completion: @escaping (WireError?) -> Void) {
        let proposalID = nextProposalID
        nextProposalID += 1
        let data = ProposalEnvelope.encode(
            kind: .address, proposer: config.nodeID, proposalID: proposalID, timeMs: stampTimeMs(), bodyCapacity: 64
        ) { record.encode(into: &$0) }
        do {
            try raft.propose(data)
        } catch {
            completion(WireError(.unavailable, "\(error)"))
            return
        }
        waiting[proposalID] = (
            [
                { outcome in
                    if case .failed(let error) = outcome { completion(error) } else { completion(nil) }
                }
            ], .now() + Node.membershipWaitMax
        )
        process()
    }

    /// Applies a replicated address record: remember it, persist it with the node's metadata, and dial.
    func applyAddressRecord(_ body: ArraySlice<UInt8>, at index: LogIndex, proposer: NodeID, proposalID: UInt64) {
        let record: AddressRecord
        do {
            record = try AddressRecord(decoding: body)
        } catch {
            preconditionFailure("committed address record at \(index) is corrupt: \(error)")
        }
        addresses[record.node] = record
        nodeStore.updateNodeMeta(addresses: Array(addresses.values))
        refreshPeerLinks()
        if proposer == config.nodeID, let waiter = waiting.removeValue(forKey: proposalID) {
            for responder in waiter.responders { responder?(.applied(.ok(.none))) }
        }
    }

    /// The membership changed (a committed change or an installed snapshot).
    func membershipChanged() {
        logger.info("membership is now \(raft.confState)")
        refreshPeerLinks()
        let conf = raft.confState
        var still: [MembershipWaiter] = []
        for waiter in membershipWaiters {
            if waiter.done(conf) { waiter.reply(.ok) } else { still.append(waiter) }
        }
        membershipWaiters = still
        if !conf.isMember(config.nodeID), raft.role != .leader {
            logger.warning("this node was removed from the cluster; it keeps running until stopped")
        }
    }

    /// Fails membership waits that took too long.
    func expireMembershipWaiters() {
        let now = NIODeadline.now()
        var still: [MembershipWaiter] = []
        for waiter in membershipWaiters {
            if waiter.deadline <= now {
                waiter.reply(.error(WireError(.timeout, "membership change not committed in time")))
            } else {
                still.append(waiter)
            }
        }
        membershipWaiters = still
    }

    /// Hands leadership to `target`, or to the most up-to-date voter when `.none`.
    func transferLeader(to target: NodeID, id: RequestID, from connection: ClientConnection) {
        guard let chosen = target == .none ? bestTransferTarget() : target, chosen != config.nodeID else {
            connection.reply(id, target == config.nodeID ? .ok : .error(WireError(.unavailable, "no other voter")))
            return
        }
        guard raft.confState.isVoter(chosen) else {
            connection.reply(id, .error(WireError(.badRequest, "node \(chosen.rawValue) is not a voter")))
            return
        }
        do {
            try raft.transferLeadership(to: chosen)
        } catch {
            connection.reply(id, .error(WireError(error.kind == .notLeader ? .notLeader : .badRequest, "\(error)")))
            return
        }
        leadershipWaiters.append(
            MembershipWaiter(
                done: { [weak self] _ in self?.raft.leader == chosen },
                reply: { [weak connection] in connection?.reply(id, $0) }, deadline: .now() + Node.membershipWaitMax))
        process()
    }

    /// The voter (not this node) with the highest replicated index.
    func bestTransferTarget() -> NodeID? {
        raft.confState.voters.filter { $0 != config.nodeID }
            .max { (raft.matchIndex(of: $0) ?? .zero) < (raft.matchIndex(of: $1) ?? .zero) }
    }

    /// Answers transfer requests once the leader changed (checked on every soft-state change and tick).
    func checkLeadershipWaiters() {
        let now = NIODeadline.now()
        var still: [MembershipWaiter] = []
        for waiter in leadershipWaiters {
            if waiter.done(raft.confState) {
                waiter.reply(.ok)
            } else if waiter.deadline <= now {
                waiter.reply(.error(WireError(.timeout, "leadership did not move in time")))
            } else {
                still.append(waiter)
            }
        }
        leadershipWaiters = still
    }
}
