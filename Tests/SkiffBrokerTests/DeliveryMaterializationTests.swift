import Testing

@testable import SkiffBroker

/// Two replicas apply the same publishes and receives, one without materializing deliveries: their states and
/// events stay identical, and the other one's deliveries carry the same leases with no payload.
@Test func unmaterializedReceivesKeepReplicasIdentical() {
    var full = queueHarness()
    var lean = queueHarness()
    lean.machine.materializesDeliveries = false
    var published: [String] = []
    for round in 0..<5 {
        let bodies = (0..<20).map { "r\(round)-m\($0)" }
        published += bodies
        full.publish("q", bodies)
        lean.publish("q", bodies)
        let got = full.receive("q", max: 7)
        let bare = lean.receive("q", max: 7)
        // FIFO, and the unacked leases stay leased: round r receives published[7r ..< 7r + 7].
        #expect(got.map(text) == Array(published[7 * round..<7 * round + 7]))
        #expect(got.map(\.lease) == bare.map(\.lease))
        #expect(got.map(\.sequence) == bare.map(\.sequence))
        #expect(got.map(\.deliveryCount) == bare.map(\.deliveryCount))
        #expect(got.map(\.leaseDeadline) == bare.map(\.leaseDeadline))
        #expect(bare.allSatisfy { $0.body.isEmpty && $0.id.isEmpty && $0.headers.isEmpty })
        full.ok(.ack(namespace: "ns", queue: "q", leases: got.prefix(4).map(\.lease)))
        lean.ok(.ack(namespace: "ns", queue: "q", leases: bare.prefix(4).map(\.lease)))
    }
    #expect(full.machine.stateHash() == lean.machine.stateHash())
    #expect(full.events == lean.events)
}

/// The timer heap pops every inserted element in ascending order, for ascending, descending and random
/// insertion orders with duplicates, and when built from an unordered array.
@Test func minHeapPopsInOrder() {
    var rng = SplitMix64(seed: 0x4EA9)
    let random = (0..<2_000).map { _ in Int(rng.next() % 500) }
    for input in [Array(0..<300), Array((0..<300).reversed()), random] {
        var heap = MinHeap<Int>()
        for value in input { heap.insert(value) }
        #expect(heap.count == input.count)
        var popped: [Int] = []
        while let value = heap.popMin() { popped.append(value) }
        #expect(popped == input.sorted())
        #expect(heap.isEmpty && heap.min == nil)

        var built = MinHeap(input)
        #expect(built.min == input.min())
        var fromArray: [Int] = []
        while let value = built.popMin() { fromArray.append(value) }
        #expect(fromArray == input.sorted())
    }
}

/// Timers interleaved with pops (as the broker arms and fires them) still come out in order.
@Test func minHeapInterleavedInsertsAndPops() {
    var rng = SplitMix64(seed: 0x71E5)
    var heap = MinHeap<Int>()
    var reference: [Int] = []
    for _ in 0..<5_000 {
        if rng.chance(60) {
            let value = rng.below(1_000)
            heap.insert(value)
            reference.append(value)
        } else {
            let expected = reference.min()
            #expect(heap.popMin() == expected)
            if let expected { reference.remove(at: reference.firstIndex(of: expected)!) }
        }
        #expect(heap.count == reference.count)
    }
}

/// A payload source that also reads in batches; it leaves out every third payload of a batch (which the broker
/// must then read on its own) and counts both kinds of reads.
final class BatchingStore: BatchPayloadSource, @unchecked Sendable {
    let store: FakeStore
    var batchReads = 0
    var singleReads = 0

    init(_ store: FakeStore) { self.store = store }

    func payload(for sequence: MessageSeq) -> Payload? {
        singleReads += 1
        return store.payload(for: sequence)
    }

    func payloads(for sequences: [MessageSeq]) -> [Payload?] {
        batchReads += 1
        return sequences.enumerated().map { $0.offset % 3 == 2 ? nil : store.payload(for: $0.element) }
    }
}

/// The released payloads of one receive come from one batched read when the source offers it, the ones the
/// batch lacks from single reads, and the deliveries equal those of a replica reading every payload singly.
@Test func receiveReadsReleasedPayloadsInOneBatch() {
    var batched = queueHarness()
    var single = queueHarness()
    let batchedStore = FakeStore()
    let singleStore = FakeStore()
    let source = BatchingStore(batchedStore)
    batched.machine.payloadSource = source
    single.machine.payloadSource = singleStore
    let bodies = (0..<30).map { "m\($0)" }
    batched.publish("q", bodies)
    single.publish("q", bodies)
    batchedStore.execute(batched.machine.takeCheckpointDelta())
    singleStore.execute(single.machine.takeCheckpointDelta())
    let viaBatch = batched.receive("q", max: 12)
    let viaSingle = single.receive("q", max: 12)
    #expect(viaBatch == viaSingle)
    #expect(viaBatch.map(text) == Array(bodies.prefix(12)))
    #expect(source.batchReads == 1)
    #expect(source.singleReads == 4)
    // One released payload is read singly: no batch for a single sequence.
    #expect(batched.receive("q", max: 1).map(text) == ["m12"])
    #expect(source.batchReads == 1 && source.singleReads == 5)
}

/// A settle that names a lease twice is refused whatever the order, and leaves every lease held; distinct
/// leases in any order are accepted.
@Test func settlingALeaseTwiceIsRefused() {
    var h = queueHarness()
    h.publish("q", ["a", "b", "c"])
    let leases = h.receive("q", max: 3).map(\.lease)
    for twice in [[leases[0], leases[0]], [leases[2], leases[1], leases[2]], [leases[1], leases[0], leases[1]]] {
        #expect(h.code(.ack(namespace: "ns", queue: "q", leases: twice)) == .invalidArgument)
        #expect(h.stats("q").leased == 3)
    }
    #expect(BrokerStateMachine.namesALeaseTwice([leases[0]]) == false)
    #expect(h.ok(.ack(namespace: "ns", queue: "q", leases: [leases[2], leases[0], leases[1]])) == .count(3))
    #expect(h.stats("q").leased == 0)
}
