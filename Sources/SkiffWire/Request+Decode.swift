import SkiffRaft

extension Request {
    /// Decodes the payload of a request with the given opcode.
    static func decodePayload(_ opcode: Opcode, _ r: inout WireReader) throws(FrameError) -> Request {
        switch opcode {
        case .hello: return .hello(try r.read())
        case .ping: return .ping
        case .clusterInfo: return .clusterInfo
        case .addNode: return .addNode(try r.read())
        case .removeNode: return .removeNode(NodeID(try r.readUInt64("removeNode.id")))
        case .transferLeader: return .transferLeader(NodeID(try r.readUInt64("transferLeader.id")))
        case .namespaceCreate: return .namespaceCreate(try r.readString("namespace"))
        case .namespaceDelete: return .namespaceDelete(try r.readString("namespace"))
        case .namespaceList: return .namespaceList
        case .queueDeclare: return .queueDeclare(try r.read())
        case .queueDelete: return .queueDelete(try r.read())
        case .queuePurge: return .queuePurge(try r.read())
        case .queueStats: return .queueStats(try r.read())
        case .queueList: return .queueList(try r.readString("namespace"))
        case .publish: return .publish(try r.read())
        case .allocateProducer: return .allocateProducer(producerGroup: try r.readString("producerGroup"))
        default: return try decodeConsumeOrExchange(opcode, &r)
        }
    }

    private static func decodeConsumeOrExchange(_ opcode: Opcode, _ r: inout WireReader) throws(FrameError) -> Request {
        switch opcode {
        case .subscribe: return .subscribe(try r.read())
        case .unsubscribe: return .unsubscribe(try r.readID("subscription"))
        case .setPrefetch: return .setPrefetch(try r.read())
        case .ack: return .ack(try r.read())
        case .nack: return .nack(try r.read())
        case .reject: return .reject(try r.read())
        case .extendLease: return .extendLease(try r.read())
        case .exchangeDeclare: return .exchangeDeclare(try r.read())
        case .exchangeDelete: return .exchangeDelete(try r.read())
        case .exchangeList: return .exchangeList(try r.readString("namespace"))
        case .bind: return .bind(try r.read())
        case .unbind: return .unbind(try r.read())
        default: return try decodeTopicOrTransaction(opcode, &r)
        }
    }

    private static func decodeTopicOrTransaction(_ opcode: Opcode, _ r: inout WireReader) throws(FrameError) -> Request
    {
        switch opcode {
        case .topicCreate: return .topicCreate(try r.read())
        case .topicDelete: return .topicDelete(try r.read())
        case .topicList: return .topicList(try r.readString("namespace"))
        case .produce: return .produce(try r.read())
        case .fetch: return .fetch(try r.read())
        case .groupJoin: return .groupJoin(try r.read())
        case .groupHeartbeat: return .groupHeartbeat(try r.read())
        case .groupLeave: return .groupLeave(try r.read())
        case .commitOffsets: return .commitOffsets(try r.read())
        case .resetOffsets: return .resetOffsets(try r.read())
        case .groupOffsets: return .groupOffsets(try r.read())
        case .txnBegin: return .txnBegin(try r.read())
        case .txnPublish: return .txnPublish(try r.read())
        case .txnProduce: return .txnProduce(try r.read())
        case .txnCommitOffsets: return .txnCommitOffsets(try r.read())
        case .txnCommit: return .txnCommit(try r.readID("transaction"))
        case .txnAbort: return .txnAbort(try r.readID("transaction"))
        case .halfPrepare: return .halfPrepare(try r.read())
        case .halfResolve: return .halfResolve(try r.read())
        default: preconditionFailure("opcode \(opcode) not routed by the earlier decode stages")
        }
    }
}
