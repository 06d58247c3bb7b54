/// Exchanges and bindings with AMQP 0-9-1 routing semantics.
extension BrokerStateMachine {
    mutating func declareExchange(
        _ namespace: String, _ name: String, _ kind: ExchangeKind, _ alternate: String?
    )
        throws(BrokerError) -> ResultValue
    {
        try checkName(name, "exchange")
        if let alternate { try checkName(alternate, "alternate exchange") }
        let state = try namespaceState(namespace)
        if let existing = state.exchanges[name] {
            let exchange = exchanges[existing]!
            guard exchange.kind == kind, exchange.alternate == alternate else {
                throw BrokerError(.exchangeExists, "exchange '\(name)' exists with a different type or alternate")
            }
            return .none
        }
        try checkEntityRoom(state)
        let id = allocateEntityID()
        exchanges[id] = ExchangeState(id: id, namespace: namespace, name: name, kind: kind, alternate: alternate)
        namespaces[namespace]!.exchanges[name] = id
        tracker.entities.insert(.exchange(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    mutating func deleteExchange(_ namespace: String, _ name: String) throws(BrokerError) -> ResultValue {
        let id = try exchangeID(namespace, name)
        exchanges[id] = nil
        namespaces[namespace]!.exchanges[name] = nil
        tracker.entities.insert(.exchange(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    private func checkBinding(_ kind: ExchangeKind, _ key: String, _ headers: HeadersMatch?) throws(BrokerError) {
        guard key.utf8.count <= BrokerLimits.routingKeyBytesMax else { throw limit("binding key too long") }
        if kind == .headers {
            guard let headers else { throw invalid("a headers exchange binding needs headers arguments") }
            try checkHeaders(headers.headers)
        } else if headers != nil {
            throw invalid("headers arguments are only valid for headers exchanges")
        }
    }

    mutating func bind(
        _ namespace: String, _ exchange: String, _ queue: String, _ key: String, _ headers: HeadersMatch?
    )
        throws(BrokerError) -> ResultValue
    {
        let exchangeID = try exchangeID(namespace, exchange)
        let queueID = try queueID(namespace, queue)
        try checkBinding(exchanges[exchangeID]!.kind, key, headers)
        let binding = Binding(queue: queueID, key: key, headers: headers)
        guard !exchanges[exchangeID]!.bindings.contains(binding) else { return .none }
        guard exchanges[exchangeID]!.bindings.count < BrokerLimits.bindingsPerExchangeMax else {
            throw limit("exchange '\(exchange)' has \(BrokerLimits.bindingsPerExchangeMax) bindings")
        }
        exchanges[exchangeID]!.bindings.append(binding)
        tracker.entities.insert(.exchange(exchangeID))
        return .none
    }

    mutating func unbind(
        _ namespace: String, _ exchange: String, _ queue: String, _ key: String, _ headers: HeadersMatch?
    )
        throws(BrokerError) -> ResultValue
    {
        let exchangeID = try exchangeID(namespace, exchange)
        let queueID = try queueID(namespace, queue)
        let binding = Binding(queue: queueID, key: key, headers: headers)
        guard let index = exchanges[exchangeID]!.bindings.firstIndex(of: binding) else {
            throw BrokerError(.bindingNotFound, "no such binding of '\(queue)' to '\(exchange)'")
        }
        exchanges[exchangeID]!.bindings.remove(at: index)
        tracker.entities.insert(.exchange(exchangeID))
        return .none
    }

    /// The queues (sorted ids, no duplicates) a message reaches through an exchange, following alternate
    /// exchanges when nothing matches. Throws `unroutable` when the result is empty.
    func route(exchange id: UInt32, routingKey: String, headers: [Header], depth: Int) throws(BrokerError) -> [UInt32] {
        let exchange = exchanges[id]!
        var matched: Set<UInt32> = []
        let keyWords = exchange.kind == .topic ? Self.topicWords(routingKey) : []
        for binding in exchange.bindings where !matched.contains(binding.queue) {
            let hit: Bool
            switch exchange.kind {
            case .direct: hit = binding.key == routingKey
            case .fanout: hit = true
            case .topic:
                hit = Self.topicMatches(Self.topicWords(binding.key), keyWords)
            case .headers: hit = binding.headers.map { Self.headersMatch($0, headers) } ?? false
            }
            if hit { matched.insert(binding.queue) }
        }
        if matched.isEmpty, let alternate = exchange.alternate, depth < BrokerLimits.alternateExchangeDepthMax,
            let alternateID = namespaces[exchange.namespace]?.exchanges[alternate]
        {
            return try route(exchange: alternateID, routingKey: routingKey, headers: headers, depth: depth + 1)
        }
        guard !matched.isEmpty else {
            throw BrokerError(
                .unroutable, "no queue matches routing key '\(routingKey)' on exchange '\(exchange.name)'")
        }
        return matched.sorted()
    }

    /// The words of a routing key or binding pattern; the empty string has no words.
    static func topicWords(_ text: String) -> [Substring] {
        text.isEmpty ? [] : text.split(separator: ".", omittingEmptySubsequences: false)
    }

    /// AMQP topic matching: words separated by '.', `*` matches exactly one word, `#` matches zero or more.
    static func topicMatches(_ pattern: [Substring], _ words: [Substring]) -> Bool {
        // reachable[j]: the pattern prefix processed so far can match the first j words.
        var reachable = [Bool](repeating: false, count: words.count + 1)
        reachable[0] = true
        for token in pattern {
            var next = [Bool](repeating: false, count: words.count + 1)
            for j in 0...words.count where reachable[j] {
                if token == "#" {
                    for k in j...words.count { next[k] = true }
                    break
                } else if j < words.count, token == "*" || token == words[j] {
                    next[j + 1] = true
                }
            }
            reachable = next
        }
        return reachable[words.count]
    }

    /// Headers matching: binding headers whose names start with `x-` are ignored; `matchAll` needs every other
    /// one present with an equal value, otherwise one suffices.
    static func headersMatch(_ match: HeadersMatch, _ headers: [Header]) -> Bool {
        let wanted = match.headers.filter { !$0.name.hasPrefix("x-") }
        if match.matchAll {
            return wanted.allSatisfy { want in headers.contains { $0.name == want.name && $0.value == want.value } }
        }
        return wanted.contains { want in headers.contains { $0.name == want.name && $0.value == want.value } }
    }
}
