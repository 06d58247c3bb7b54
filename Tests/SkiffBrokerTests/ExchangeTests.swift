import Testing

@testable import SkiffBroker

private func exchangeHarness(_ kind: ExchangeKind, alternate: String? = nil) -> Harness {
    var h = queueHarness([("q1", QueueArguments()), ("q2", QueueArguments()), ("q3", QueueArguments())])
    h.ok(.declareExchange(namespace: "ns", exchange: "ex", kind: kind, alternateExchange: alternate))
    return h
}

private func send(_ h: inout Harness, _ key: String, headers: [Header] = [], exchange: String = "ex") -> CommandResult {
    let message = OutgoingMessage(body: Array(key.utf8), headers: headers)
    return h.run(
        .publish(PublishRequest(namespace: "ns", target: .exchange(exchange, routingKey: key), messages: [message])))
}

/// AMQP topic patterns: `*` is one word, `#` zero or more.
@Test(arguments: [
    ("a.b.c", "a.b.c", true), ("a.*.c", "a.b.c", true), ("a.*.c", "a.c", false), ("#", "", true), ("#", "a.b", true),
    ("a.#", "a", true), ("a.#", "a.b.c", true), ("#.c", "a.b.c", true), ("a.#.c", "a.c", true),
    ("a.#.c", "a.x.y.c", true),
    ("*", "a.b", false), ("*.*", "a.b", true), ("a.b", "a.b.c", false), ("#.#", "a", true), ("*.#", "", false),
    ("", "", true), ("*", "", false), ("a..b", "a..b", true),
])
func topicPatterns(pattern: String, key: String, expected: Bool) {
    let split = BrokerStateMachine.topicWords
    #expect(BrokerStateMachine.topicMatches(split(pattern), split(key)) == expected)
}

/// Direct exchanges route by exact key; one publish reaches every matching queue once.
@Test func directRouting() {
    var h = exchangeHarness(.direct)
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q1", bindingKey: "k", headers: nil))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q2", bindingKey: "k", headers: nil))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q3", bindingKey: "other", headers: nil))
    guard case .ok(.published(let receipt)) = send(&h, "k") else { Issue.record("publish failed"); return }
    #expect(receipt.routedQueues == [2] && receipt.sequences.count == 2)
    #expect(h.stats("q1").ready == 1 && h.stats("q2").ready == 1 && h.stats("q3").ready == 0)
    #expect(send(&h, "none").error?.code == .unroutable)
}

/// Fanout ignores keys; topic uses patterns; unbind stops routing.
@Test func fanoutAndTopic() {
    var h = exchangeHarness(.fanout)
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q1", bindingKey: "", headers: nil))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q2", bindingKey: "x", headers: nil))
    _ = send(&h, "anything")
    #expect(h.stats("q1").ready == 1 && h.stats("q2").ready == 1)
    h.ok(.declareExchange(namespace: "ns", exchange: "tx", kind: .topic, alternateExchange: nil))
    h.ok(.bind(namespace: "ns", exchange: "tx", queue: "q3", bindingKey: "stock.*.nyse", headers: nil))
    #expect(send(&h, "stock.ibm.nyse", exchange: "tx").error == nil)
    #expect(send(&h, "stock.ibm.lse", exchange: "tx").error?.code == .unroutable)
    h.ok(.unbind(namespace: "ns", exchange: "tx", queue: "q3", bindingKey: "stock.*.nyse", headers: nil))
    #expect(
        h.code(.unbind(namespace: "ns", exchange: "tx", queue: "q3", bindingKey: "stock.*.nyse", headers: nil))
            == .bindingNotFound)
    #expect(send(&h, "stock.ibm.nyse", exchange: "tx").error?.code == .unroutable)
    #expect(h.stats("q3").ready == 1)
}

/// Headers exchanges: x-match all needs every header, any needs one; x- arguments are ignored.
@Test func headersRouting() {
    var h = exchangeHarness(.headers)
    let all = HeadersMatch(matchAll: true, headers: [Header("a", "1"), Header("b", "2"), Header("x-match", "all")])
    let any = HeadersMatch(matchAll: false, headers: [Header("a", "1"), Header("c", "3")])
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q1", bindingKey: "", headers: all))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q2", bindingKey: "", headers: any))
    #expect(
        h.code(.bind(namespace: "ns", exchange: "ex", queue: "q3", bindingKey: "", headers: nil)) == .invalidArgument)
    _ = send(&h, "", headers: [Header("a", "1"), Header("b", "2")])
    _ = send(&h, "", headers: [Header("c", "3")])
    #expect(send(&h, "", headers: [Header("b", "2")]).error?.code == .unroutable)
    #expect(h.stats("q1").ready == 1 && h.stats("q2").ready == 2)
}

/// Unroutable messages follow the alternate exchange; without one they are an error and nothing is stored.
@Test func alternateExchange() {
    var h = exchangeHarness(.direct, alternate: "alt")
    h.ok(.declareExchange(namespace: "ns", exchange: "alt", kind: .fanout, alternateExchange: nil))
    #expect(send(&h, "x").error?.code == .unroutable)
    h.ok(.bind(namespace: "ns", exchange: "alt", queue: "q3", bindingKey: "", headers: nil))
    #expect(send(&h, "x").error == nil)
    #expect(h.stats("q3").ready == 1)
}

/// Routing to several queues is atomic: if one reject-publish queue is full, no queue gets the message.
@Test func atomicMultiQueueRouting() {
    var h = queueHarness([("open", QueueArguments()), ("full", QueueArguments(maxLength: 1, overflow: .rejectPublish))])
    h.ok(.declareExchange(namespace: "ns", exchange: "ex", kind: .fanout, alternateExchange: nil))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "open", bindingKey: "", headers: nil))
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "full", bindingKey: "", headers: nil))
    #expect(send(&h, "1").error == nil)
    #expect(send(&h, "2").error?.code == .queueFull)
    #expect(h.stats("open").ready == 1 && h.stats("full").ready == 1)
}

/// Deleting a queue removes its bindings; exchange redeclaration with another type fails.
@Test func exchangeLifecycle() {
    var h = exchangeHarness(.direct)
    h.ok(.bind(namespace: "ns", exchange: "ex", queue: "q1", bindingKey: "k", headers: nil))
    h.ok(.deleteQueue(namespace: "ns", queue: "q1", ifEmpty: false))
    #expect(try! h.machine.listExchanges(namespace: "ns")[0].bindings.isEmpty)
    #expect(
        h.code(.declareExchange(namespace: "ns", exchange: "ex", kind: .topic, alternateExchange: nil))
            == .exchangeExists)
    h.ok(.declareExchange(namespace: "ns", exchange: "ex", kind: .direct, alternateExchange: nil))
    h.ok(.deleteExchange(namespace: "ns", exchange: "ex"))
    #expect(h.code(.deleteExchange(namespace: "ns", exchange: "ex")) == .exchangeNotFound)
}
