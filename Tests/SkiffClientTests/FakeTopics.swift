import SkiffWire

/// Canned topic, consumer-group and transaction behaviour of the fake leader (one group, one member).
enum FakeTopics {
    static func handle(_ request: Request, state: inout FakeCluster.State) -> Response {
        switch request {
        case .produce(let produce):
            var positions: [RecordPosition] = []
            for record in produce.records {
                let partition = record.partition ?? UInt32(record.key?.first ?? 0) % state.topicPartitions
                let offset = Offset(UInt64(state.partitions[partition, default: []].count))
                state.partitions[partition, default: []].append(
                    TopicRecord(offset: offset, timestampMs: 0, key: record.key, value: record.value))
                positions.append(RecordPosition(partition: partition, offset: offset))
            }
            return .produced(ProduceResult(positions: positions))
        case .fetch(let fetch):
            let records = state.partitions[fetch.partition, default: []]
            let slice = records.dropFirst(Int(fetch.offset.rawValue)).prefix(Int(fetch.maxRecords))
            return .fetched(
                FetchResult(
                    partition: fetch.partition, records: Array(slice), logStartOffset: Offset(0),
                    highWatermark: Offset(UInt64(records.count))))
        case .groupJoin(let join):
            state.generation += 1
            return .assignment(assignment(join.topic, state))
        case .groupHeartbeat(let member):
            guard member.generation == state.generation else { return .error(WireError(.unknownGroup, "stale")) }
            return .assignment(assignment("t", state))
        case .groupLeave: return .ok
        case .commitOffsets(let commit):
            guard commit.generation == state.generation || commit.generation == 0 else {
                return .error(WireError(.unknownGroup, "stale generation"))
            }
            for offset in commit.offsets { state.committed[offset.partition] = offset.offset }
            return .ok
        case .resetOffsets(let reset):
            for partition in 0..<state.topicPartitions {
                switch reset.position {
                case .earliest: state.committed[partition] = Offset(0)
                case .latest:
                    state.committed[partition] = Offset(UInt64(state.partitions[partition, default: []].count))
                case .offset(let offset): state.committed[partition] = offset
                case .timestamp: state.committed[partition] = Offset(0)
                }
            }
            return .ok
        case .groupOffsets(let request):
            let lags = (0..<state.topicPartitions).map { partition in
                PartitionLag(
                    partition: partition, committed: state.committed[partition], logStartOffset: Offset(0),
                    highWatermark: Offset(UInt64(state.partitions[partition, default: []].count)))
            }
            return .groupOffsets(GroupOffsets(group: request.group, topic: request.topic, partitions: lags))
        default: return .error(WireError(.badRequest, "not a topic request"))
        }
    }

    private static func assignment(_ topic: String, _ state: FakeCluster.State) -> GroupAssignment {
        GroupAssignment(
            memberID: "member-1", generation: state.generation, topic: topic,
            partitions: Array(0..<state.topicPartitions))
    }

    static func handleTransaction(_ request: Request, state: inout FakeCluster.State) -> Response {
        switch request {
        case .txnBegin:
            let id = TransactionID(UInt64(state.transactions.count + state.aborted.count + 1))
            state.transactions[id] = []
            return .transaction(id)
        case .txnPublish(let staged):
            guard state.transactions[staged.transactionID] != nil else {
                return .error(WireError(.unknownTransaction, "no such transaction"))
            }
            state.transactions[staged.transactionID]!.append(staged.publish)
            return .ok
        case .txnCommit(let id):
            guard let publishes = state.transactions.removeValue(forKey: id) else {
                return .error(WireError(.unknownTransaction, "no such transaction"))
            }
            for publish in publishes {
                for message in publish.messages {
                    state.messages.append(
                        FakeCluster.StoredMessage(id: MessageID(state.nextMessageID), body: message.body))
                    state.nextMessageID += 1
                }
            }
            return .ok
        case .txnAbort(let id):
            state.transactions.removeValue(forKey: id)
            state.aborted.append(id)
            return .ok
        default: return .error(WireError(.badRequest, "not a transaction request"))
        }
    }
}
