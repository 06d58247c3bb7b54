import SkiffBroker
import SkiffRaft
import SkiffWire

/// Reads served from this node's applied broker state, without going through the log.
///
/// A topic fetch may be served by any node (followers serve up to their applied index, which trails the
/// commit index by at most one apply batch). The other reads are served by the leader.
extension Node {
    func fetch(_ request: FetchRequest) -> Response {
        do {
            let result = try broker.fetch(
                namespace: request.topic.namespace, topic: request.topic.name, partition: request.partition,
                offset: .init(request.offset.rawValue), maxRecords: Int(max(1, request.maxRecords)),
                maxBytes: Int(max(1, request.maxBytes)))
            let records = result.records.map { r in
                SkiffWire.TopicRecord(
                    offset: .init(r.offset.rawValue), timestampMs: UInt64(clamping: r.timestamp), key: r.key,
                    value: r.value ?? [], headers: WireMapping.headerMap(r.headers))
            }
            return .fetched(
                SkiffWire.FetchResult(
                    partition: request.partition, records: records,
                    logStartOffset: .init(result.logStartOffset.rawValue),
                    highWatermark: .init(result.endOffset.rawValue)))
        } catch {
            return .error(WireMapping.wireError(error))
        }
    }

    /// Leader-side reads of broker metadata and statistics.
    func read(_ request: Request) -> Response {
        do {
            switch request {
            case .namespaceList: return .names(broker.listNamespaces())
            case .queueStats(let q):
                return .queueStats(WireMapping.queueStats(try broker.queueStats(namespace: q.namespace, queue: q.name)))
            case .queueList(let namespace):
                return .queueList(try broker.listQueues(namespace: namespace).map(WireMapping.queueStats))
            case .exchangeList(let namespace):
                return .exchangeList(try broker.listExchanges(namespace: namespace).map(WireMapping.exchangeInfo))
            case .topicList(let namespace):
                return .topicList(try broker.listTopics(namespace: namespace).map(WireMapping.topicInfo))
            case .groupOffsets(let g): return .groupOffsets(try groupOffsets(g))
            default: return .error(WireError(.badRequest, "not a read"))
            }
        } catch {
            return .error(WireMapping.wireError(error))
        }
    }

    private func groupOffsets(_ request: GroupOffsetsRequest) throws(BrokerError) -> GroupOffsets {
        let ref = GroupRef(namespace: request.namespace, topic: request.topic, group: request.group)
        let info = try broker.groupInfo(ref)
        var partitions: [PartitionLag] = []
        for (partition, committed) in info.committed.enumerated() {
            let bounds = try broker.fetch(
                namespace: request.namespace, topic: request.topic, partition: UInt32(partition), offset: .init(0),
                maxRecords: 1, maxBytes: 1)
            partitions.append(
                PartitionLag(
                    partition: UInt32(partition), committed: committed.map { .init($0.rawValue) },
                    logStartOffset: .init(bounds.logStartOffset.rawValue),
                    highWatermark: .init(bounds.endOffset.rawValue)))
        }
        return GroupOffsets(group: request.group, topic: request.topic, partitions: partitions)
    }

    /// Per-queue figures for `/metrics`.
    func queueFigures() -> [NodeStatus.QueueFigures] {
        var figures: [NodeStatus.QueueFigures] = []
        for namespace in broker.listNamespaces() {
            guard let list = try? broker.listQueues(namespace: namespace) else { continue }
            for q in list {
                figures.append(
                    NodeStatus.QueueFigures(
                        name: namespace + "/" + q.queue, ready: Int(q.ready), leased: Int(q.leased),
                        delayed: Int(q.delayed), deadLettered: q.deadLettered, published: q.published,
                        delivered: q.delivered, acked: q.acked, discarded: q.discarded))
            }
        }
        return figures
    }
}
