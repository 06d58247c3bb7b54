import SkiffRaft

/// Every request a client can send. Each is answered by exactly one `Response` with the same request id;
/// responses may arrive in any order (pipelining).
public enum Request: Hashable, Sendable {
    // Handshake and liveness.
    case hello(Hello)
    case ping
    // Cluster (any node answers `clusterInfo`; the others need the leader).
    case clusterInfo
    case addNode(AddNodeRequest)
    case removeNode(NodeID)
    /// Transfers leadership to the node, or to the most up-to-date follower when `.none`.
    case transferLeader(NodeID)
    // Namespaces.
    case namespaceCreate(String)
    case namespaceDelete(String)
    case namespaceList
    // Queues.
    case queueDeclare(QueueDeclareRequest)
    case queueDelete(ObjectName)
    case queuePurge(ObjectName)
    case queueStats(ObjectName)
    /// Lists the queues of a namespace.
    case queueList(String)
    // Publishing.
    case publish(PublishRequest)
    /// Allocates a producer id; a non-empty group also registers this connection for that group's checkbacks.
    case allocateProducer(producerGroup: String)
    // Consuming.
    case subscribe(SubscribeRequest)
    case unsubscribe(SubscriptionID)
    case setPrefetch(PrefetchRequest)
    case ack(SettleRequest)
    /// Returns the messages to the queue; their delivery count stays raised.
    case nack(SettleRequest)
    /// Dead-letters (or drops) the messages as the queue's arguments say.
    case reject(SettleRequest)
    case extendLease(ExtendLeaseRequest)
    // Exchanges.
    case exchangeDeclare(ExchangeInfo)
    case exchangeDelete(ObjectName)
    case exchangeList(String)
    case bind(BindRequest)
    case unbind(BindRequest)
    // Topics.
    case topicCreate(TopicInfo)
    case topicDelete(ObjectName)
    case topicList(String)
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case groupJoin(GroupJoinRequest)
    case groupHeartbeat(GroupMemberRequest)
    case groupLeave(GroupMemberRequest)
    case commitOffsets(CommitOffsetsRequest)
    case resetOffsets(ResetOffsetsRequest)
    case groupOffsets(GroupOffsetsRequest)
    // Transactions.
    case txnBegin(TxnBeginRequest)
    case txnPublish(TxnPublishRequest)
    case txnProduce(TxnProduceRequest)
    case txnCommitOffsets(TxnCommitOffsetsRequest)
    case txnCommit(TransactionID)
    case txnAbort(TransactionID)
    // Half messages.
    case halfPrepare(HalfPrepareRequest)
    case halfResolve(HalfResolveRequest)
}

extension Request {
    /// Request opcodes (the frame header's `opcode` when `kind == .request`).
    public enum Opcode: UInt16, Sendable, CaseIterable {
        case hello = 1, ping = 2
        case clusterInfo = 3, addNode = 4, removeNode = 5, transferLeader = 6
        case namespaceCreate = 10, namespaceDelete = 11, namespaceList = 12
        case queueDeclare = 20, queueDelete = 21, queuePurge = 22, queueStats = 23, queueList = 24
        case publish = 30, allocateProducer = 31
        case subscribe = 40, unsubscribe = 41, setPrefetch = 42, ack = 43, nack = 44, reject = 45, extendLease = 46
        case exchangeDeclare = 50, exchangeDelete = 51, exchangeList = 52, bind = 53, unbind = 54
        case topicCreate = 60, topicDelete = 61, topicList = 62, produce = 63, fetch = 64
        case groupJoin = 65, groupHeartbeat = 66, groupLeave = 67, commitOffsets = 68, resetOffsets = 69
        case groupOffsets = 70
        case txnBegin = 80, txnPublish = 81, txnProduce = 82, txnCommitOffsets = 83, txnCommit = 84, txnAbort = 85
        case halfPrepare = 90, halfResolve = 91
    }

    /// This request's opcode.
    public var opcode: Opcode {
        switch self {
        case .hello: return .hello
        case .ping: return .ping
        case .clusterInfo: return .clusterInfo
        case .addNode: return .addNode
        case .removeNode: return .removeNode
        case .transferLeader: return .transferLeader
        case .namespaceCreate: return .namespaceCreate
        case .namespaceDelete: return .namespaceDelete
        case .namespaceList: return .namespaceList
        case .queueDeclare: return .queueDeclare
        case .queueDelete: return .queueDelete
        case .queuePurge: return .queuePurge
        case .queueStats: return .queueStats
        case .queueList: return .queueList
        case .publish: return .publish
        case .allocateProducer: return .allocateProducer
        case .subscribe: return .subscribe
        case .unsubscribe: return .unsubscribe
        case .setPrefetch: return .setPrefetch
        case .ack: return .ack
        case .nack: return .nack
        case .reject: return .reject
        case .extendLease: return .extendLease
        case .exchangeDeclare: return .exchangeDeclare
        case .exchangeDelete: return .exchangeDelete
        case .exchangeList: return .exchangeList
        case .bind: return .bind
        case .unbind: return .unbind
        case .topicCreate: return .topicCreate
        case .topicDelete: return .topicDelete
        case .topicList: return .topicList
        case .produce: return .produce
        case .fetch: return .fetch
        case .groupJoin: return .groupJoin
        case .groupHeartbeat: return .groupHeartbeat
        case .groupLeave: return .groupLeave
        case .commitOffsets: return .commitOffsets
        case .resetOffsets: return .resetOffsets
        case .groupOffsets: return .groupOffsets
        case .txnBegin: return .txnBegin
        case .txnPublish: return .txnPublish
        case .txnProduce: return .txnProduce
        case .txnCommitOffsets: return .txnCommitOffsets
        case .txnCommit: return .txnCommit
        case .txnAbort: return .txnAbort
        case .halfPrepare: return .halfPrepare
        case .halfResolve: return .halfResolve
        }
    }

    /// Whether only the leader can serve this request (followers answer `NOT_LEADER`). `clusterInfo`,
    /// `ping`, `hello` and `fetch` are served by any node.
    public var requiresLeader: Bool {
        switch self {
        case .hello, .ping, .clusterInfo, .fetch: return false
        default: return true
        }
    }

    /// Encodes the payload (without the frame header).
    public func encodePayload(to writer: inout WireWriter) {
        switch self {
        case .ping, .clusterInfo, .namespaceList: break
        case .hello(let m): writer.write(m)
        case .addNode(let m): writer.write(m)
        case .removeNode(let id), .transferLeader(let id): writer.write(id.rawValue)
        case .namespaceCreate(let s), .namespaceDelete(let s), .queueList(let s), .exchangeList(let s),
            .topicList(let s), .allocateProducer(let s):
            writer.write(s)
        case .queueDeclare(let m): writer.write(m)
        case .queueDelete(let m), .queuePurge(let m), .queueStats(let m), .exchangeDelete(let m),
            .topicDelete(let m):
            writer.write(m)
        case .publish(let m): writer.write(m)
        case .subscribe(let m): writer.write(m)
        case .unsubscribe(let id): writer.write(id)
        case .setPrefetch(let m): writer.write(m)
        case .ack(let m), .nack(let m), .reject(let m): writer.write(m)
        case .extendLease(let m): writer.write(m)
        case .exchangeDeclare(let m): writer.write(m)
        case .bind(let m), .unbind(let m): writer.write(m)
        case .topicCreate(let m): writer.write(m)
        case .produce(let m): writer.write(m)
        case .fetch(let m): writer.write(m)
        case .groupJoin(let m): writer.write(m)
        case .groupHeartbeat(let m), .groupLeave(let m): writer.write(m)
        case .commitOffsets(let m): writer.write(m)
        case .resetOffsets(let m): writer.write(m)
        case .groupOffsets(let m): writer.write(m)
        case .txnBegin(let m): writer.write(m)
        case .txnPublish(let m): writer.write(m)
        case .txnProduce(let m): writer.write(m)
        case .txnCommitOffsets(let m): writer.write(m)
        case .txnCommit(let id), .txnAbort(let id): writer.write(id)
        case .halfPrepare(let m): writer.write(m)
        case .halfResolve(let m): writer.write(m)
        }
    }

    /// The request as a frame.
    public func frame(id: RequestID) -> Frame {
        var writer = WireWriter()
        encodePayload(to: &writer)
        return Frame(kind: .request, opcode: opcode.rawValue, requestID: id, payload: writer.bytes)
    }

    /// Decodes a request frame, rejecting unknown opcodes and trailing bytes.
    public init(frame: Frame) throws(FrameError) {
        guard frame.kind == .request else { throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: 0)) }
        guard let opcode = Opcode(rawValue: frame.opcode) else {
            throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: frame.opcode))
        }
        var reader = WireReader(frame.payload)
        self = try Request.decodePayload(opcode, &reader)
        try reader.expectEnd()
    }
}
