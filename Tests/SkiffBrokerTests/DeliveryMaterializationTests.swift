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
