import SkiffBroker
import SkiffRaft
import Testing

@testable import SkiffSim

/// A broker with the simulator's setup applied and one message `m1` published; returns it and the next index.
private func brokerWithOneMessage() -> (machine: BrokerStateMachine, index: UInt64) {
    var machine = BrokerStateMachine()
    _ = machine.apply(BrokerWorkload.setupCommand, index: 1, time: 0)
    let request = PublishRequest(
        namespace: BrokerWorkload.namespace, target: .queue(BrokerWorkload.queue),
        messages: [OutgoingMessage(id: "m1", body: [1, 2, 3])])
    let (result, _) = machine.apply(.publish(request), index: 2, time: 0)
    #expect(result.error == nil)
    return (machine, 3)
}

private let receive = Command.receive(
    namespace: BrokerWorkload.namespace, queue: BrokerWorkload.queue, consumer: "c0", maxMessages: 1,
    visibilityMs: 100)

/// Proves the lease-exclusive check fires when a message is leased again while its first lease is live (two
/// diverged copies of the broker both lease `m1`; the checker sees both grants).
@Test func checkerCatchesDoubleLease() {
    let (machine, index) = brokerWithOneMessage()
    var first = machine
    var second = machine
    let grant = first.apply(receive, index: index, time: 10)
    let again = second.apply(receive, index: index, time: 20)
    var checker = BrokerChecker()
    #expect(checker.observe(index: index, command: receive, result: grant.result, events: [], brokerTime: 10) == nil)
    let violation = checker.observe(
        index: index + 1, command: receive, result: again.result, events: [], brokerTime: 20)
    #expect(violation?.0 == "lease-exclusive")
}

/// Proves the delivery-count check fires when a redelivery after lease expiry does not raise the count, and
/// passes when it does (the real broker).
@Test func checkerCatchesStaleDeliveryCount() {
    var (machine, index) = brokerWithOneMessage()
    let stale = machine
    var checker = BrokerChecker()
    let grant = machine.apply(receive, index: index, time: 10)
    #expect(checker.observe(index: index, command: receive, result: grant.result, events: [], brokerTime: 10) == nil)
    let expiry = machine.apply(.tick, index: index + 1, time: 500)
    #expect(
        checker.observe(
            index: index + 1, command: .tick, result: expiry.result, events: expiry.events, brokerTime: 500) == nil)
    #expect(checker.leasesExpired == 1)
    var replay = stale
    let wrong = replay.apply(receive, index: index + 2, time: 600)
    let violation = checker.observe(
        index: index + 2, command: receive, result: wrong.result, events: [], brokerTime: 600)
    #expect(violation?.0 == "delivery-count")
    let right = machine.apply(receive, index: index + 3, time: 600)
    #expect(
        checker.observe(index: index + 3, command: receive, result: right.result, events: [], brokerTime: 600) == nil)
}

/// Proves the checkpoint tables round-trip: a broker restored from the table image (payloads included) hashes
/// like the live one and still delivers the checkpointed message body.
@Test func checkpointTablesRestoreTheSameState() throws {
    let publish = Command.publish(
        PublishRequest(
            namespace: BrokerWorkload.namespace, target: .queue(BrokerWorkload.queue),
            messages: [OutgoingMessage(id: "m1", body: [1, 2, 3])]))
    var replica = BrokerReplica(bug: nil)
    for (number, command) in [BrokerWorkload.setupCommand, publish].enumerated() {
        let data = BrokerEntry.encode(id: UInt64(number + 1), timeMs: 0, command: command)
        #expect(replica.apply(Entry(term: Term(1), index: LogIndex(UInt64(number + 1)), data: data)) != nil)
    }
    #expect(replica.checkpoint() == nil)
    var restored = try BrokerReplica(snapshot: replica.snapshotBytes(), bug: nil)
    #expect(restored.machine.stateHash() == replica.machine.stateHash())
    #expect(restored.machine.lastAppliedIndex == 2)
    let data = BrokerEntry.encode(id: 3, timeMs: 5, command: receive)
    let delivered = restored.apply(Entry(term: Term(1), index: LogIndex(3), data: data))
    guard case .ok(.delivered(let messages))? = delivered?.result else {
        Issue.record("receive after restore: \(String(describing: delivered?.result))")
        return
    }
    #expect(messages.map(\.body) == [[1, 2, 3]])
}
