import SkiffBroker
import SkiffRaft
import SkiffWire
import Testing

@testable import SkiffServer

@Suite struct WireMappingTests {
    func publish(_ count: Int, sequence: UInt64?) -> SkiffWire.PublishRequest {
        SkiffWire.PublishRequest(
            namespace: "default", target: .queue("q"),
            producer: sequence.map { ProducerStamp(producerID: SkiffWire.ProducerID(9), sequence: SequenceNumber($0)) },
            messages: (0..<count).map { SkiffWire.OutgoingMessage(body: [UInt8($0)]) })
    }

    /// A stamped batch of N messages becomes N one-message broker publishes with consecutive command sequences
    /// starting at the wire sequence minus one (wire counts messages from 1, the broker commands from 0).
    @Test func stampedBatchIsSplitPerMessage() {
        guard case .batch(let commands) = WireMapping.publishCommand(publish(3, sequence: 5), dedup: true) else {
            Issue.record("expected a batch")
            return
        }
        let stamps = commands.compactMap { command -> UInt64? in
            guard case .publish(let p) = command, p.messages.count == 1 else { return nil }
            return p.producer?.sequence
        }
        #expect(stamps == [4, 5, 6])
    }

    /// A single stamped message stays one command; with dedup off (the unsafe switch) no stamp is sent.
    @Test func singleAndUnsafe() {
        guard case .publish(let one) = WireMapping.publishCommand(publish(1, sequence: 1), dedup: true) else {
            Issue.record("expected a publish")
            return
        }
        #expect(one.producer?.sequence == 0)
        guard case .publish(let unsafe) = WireMapping.publishCommand(publish(3, sequence: 1), dedup: false) else {
            Issue.record("expected one unstamped publish")
            return
        }
        #expect(unsafe.producer == nil)
        #expect(unsafe.messages.count == 3)
    }

    /// Split results combine into one response: ids in order, a stale retry counts as a duplicate, and any
    /// other failure is the answer.
    @Test func combinedResults() {
        let request = Request.publish(publish(2, sequence: 1))
        let ok = CommandResult.ok(.published(PublishReceipt(sequences: [MessageSeq(11)], routedQueues: [1])))
        let stale = CommandResult.error(BrokerError(.staleSequence, "old"))
        #expect(
            WireMapping.combined([ok, stale], for: request)
                == .published(PublishResult(messageIDs: [MessageID(11), MessageID(0)], duplicate: true)))
        let full = CommandResult.error(BrokerError(.queueFull, "full"))
        guard case .error(let error) = WireMapping.combined([ok, full], for: request) else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .queueFull)
    }

    /// Broker errors map to the wire codes clients act on.
    @Test func errorCodes() {
        #expect(WireMapping.wireError(BrokerError(.queueNotFound, "")).code == .unknownQueue)
        #expect(WireMapping.wireError(BrokerError(.sequenceGap, "")).code == .sequenceGap)
        #expect(WireMapping.wireError(BrokerError(.leaseNotFound, "")).code == .unknownLease)
        #expect(WireMapping.wireError(BrokerError(.invalidName, "")).code == .badRequest)
    }

    /// A checkback push carries the half message's body, headers and priority, not an empty message: the
    /// producer's checker needs them to find its local transaction (the chaos workload's checker reads the body).
    @Test func checkbackCarriesTheHalfMessage() {
        let message = SkiffBroker.OutgoingMessage(
            id: "half:9:5", body: Array("order-17".utf8), headers: [Header("k", "v")], priority: 3)
        let check = HalfCheck(
            half: SkiffBroker.HalfMessageID(12), producerGroup: "pg", namespace: "ns", target: .queue("q"),
            messageID: message.id, message: message, check: 2)
        let push = WireMapping.checkback(check)
        #expect(push.halfID == SkiffWire.HalfMessageID(12))
        #expect(push.producerGroup == "pg" && push.namespace == "ns" && push.attempt == 2)
        #expect(push.target == SkiffWire.PublishTarget.queue("q"))
        #expect(push.message.body == Array("order-17".utf8))
        #expect(push.message.headers == ["k": "v"])
        #expect(push.message.priority == 3)
    }
}
