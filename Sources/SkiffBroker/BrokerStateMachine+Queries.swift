/// Read-only queries. They never change state, so any replica can answer them from its applied state.
extension BrokerStateMachine {
    /// All namespace names, sorted.
    public func listNamespaces() -> [String] { namespaces.keys.sorted() }

    /// Statistics of one queue.
    public func queueStats(namespace: String, queue: String) throws(BrokerError) -> QueueStats {
        stats(queues[try queueID(namespace, queue)]!)
    }

    /// Statistics of every queue of a namespace, sorted by name.
    public func listQueues(namespace: String) throws(BrokerError) -> [QueueStats] {
        try namespaceState(namespace).queues.keys.sorted().map { stats(queues[namespaces[namespace]!.queues[$0]!]!) }
    }

    private func stats(_ queue: QueueState) -> QueueStats {
        QueueStats(
            namespace: queue.namespace, queue: queue.name, ready: queue.readyCount, leased: UInt64(queue.leases.count),
            delayed: UInt64(queue.delayed.count), deadLettered: queue.deadLettered, discarded: queue.discarded,
            published: queue.published, delivered: queue.delivered, acked: queue.acked, readyBytes: queue.readyBytes,
            bytes: queue.heldBytes, activeConsumer: queue.activeConsumer,
            arguments: queue.arguments)
    }

    /// Every exchange of a namespace with its bindings, sorted by name.
    public func listExchanges(namespace: String) throws(BrokerError) -> [ExchangeInfo] {
        try namespaceState(namespace).exchanges.keys.sorted().map { name in
            let exchange = exchanges[namespaces[namespace]!.exchanges[name]!]!
            let bindings = exchange.bindings.map {
                BindingInfo(queue: queues[$0.queue]?.name ?? "", bindingKey: $0.key, headers: $0.headers)
            }
            return ExchangeInfo(
                namespace: namespace, exchange: name, kind: exchange.kind, alternateExchange: exchange.alternate,
                bindings: bindings)
        }
    }

    /// One topic's arguments, offsets and groups.
    public func topicInfo(namespace: String, topic: String) throws(BrokerError) -> TopicInfo {
        let state = topics[try topicID(namespace, topic)]!
        return TopicInfo(
            namespace: namespace, topic: topic, arguments: state.arguments,
            logStartOffsets: state.partitions.map { Offset($0.logStart) },
            endOffsets: state.partitions.map { Offset($0.nextOffset) }, groups: state.groups.keys.sorted())
    }

    /// Every topic of a namespace, sorted by name.
    public func listTopics(namespace: String) throws(BrokerError) -> [TopicInfo] {
        var result: [TopicInfo] = []
        for name in try namespaceState(namespace).topics.keys.sorted() {
            result.append(try topicInfo(namespace: namespace, topic: name))
        }
        return result
    }

    /// The producer group of a producer (whose members receive checkbacks), if the producer is known.
    public func producerGroup(of producer: ProducerID) -> String? { producers[producer.rawValue]?.group }

    /// Pending half messages of a producer group, for a shell that re-sends checkbacks to a new producer.
    public func pendingHalfMessages(producerGroup: String) -> [HalfMessageID] {
        halves.filter { $0.value.prepare.producerGroup == producerGroup }.keys.sorted().map { HalfMessageID($0) }
    }
}
