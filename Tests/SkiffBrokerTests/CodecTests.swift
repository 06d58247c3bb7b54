import Testing

@testable import SkiffBroker

/// Sample commands covering every case of `Command`, used by the codec tests.
func sampleCommands() -> [Command] {
    let message = OutgoingMessage(
        id: "m-1", body: [1, 2, 3], headers: [Header("a", "b")], priority: 7, ttlMs: 5_000, deliveryTime: .delayMs(100))
    let publish = PublishRequest(
        namespace: "ns", target: .exchange("ex", routingKey: "a.b"), messages: [message, OutgoingMessage(body: [])],
        producer: ProducerStamp(producer: ProducerID(3), sequence: 9))
    let append = AppendRequest(
        namespace: "ns", topic: "t", records: [OutgoingRecord(key: [9], value: nil, headers: [], partition: 2)])
    let group = GroupRef(namespace: "ns", topic: "t", group: "g")
    let commit = OffsetCommit(
        group: group, member: "m", generation: 4, offsets: [PartitionOffset(partition: 1, offset: Offset(77))])
    let arguments = QueueArguments(
        maxLength: 10, maxBytes: nil, overflow: .deadLetter, messageTTLMs: 1_000, deadLetterQueue: "dlq",
        maxDeliveries: 3, singleActiveConsumer: true)
    let half = HalfPrepare(
        namespace: "ns", target: .queue("q"), message: message, producerGroup: "pg", checkIntervalMs: 1_000,
        maxChecks: 2)
    let commands: [Command] = [
        .tick, .createNamespace("ns"), .deleteNamespace("ns"),
        .declareQueue(namespace: "ns", queue: "q", arguments: arguments),
        .deleteQueue(namespace: "ns", queue: "q", ifEmpty: true), .purgeQueue(namespace: "ns", queue: "q"),
        .publish(publish), .receive(namespace: "ns", queue: "q", consumer: "c", maxMessages: 5, visibilityMs: 1_000),
        .ack(namespace: "ns", queue: "q", leases: [LeaseID(1), LeaseID(300)]),
        .nack(namespace: "ns", queue: "q", leases: [LeaseID(2)], requeue: false),
        .extendLeases(namespace: "ns", queue: "q", leases: [LeaseID(2)], visibilityMs: -5), .releaseConsumer("c"),
        .declareExchange(namespace: "ns", exchange: "ex", kind: .headers, alternateExchange: "alt"),
        .deleteExchange(namespace: "ns", exchange: "ex"),
        .bind(
            namespace: "ns", exchange: "ex", queue: "q", bindingKey: "#",
            headers: HeadersMatch(matchAll: false, headers: [])),
        .unbind(namespace: "ns", exchange: "ex", queue: "q", bindingKey: "k", headers: nil),
        .createTopic(
            namespace: "ns", topic: "t", arguments: TopicArguments(partitions: 3, retentionMs: 10, compact: true)),
        .deleteTopic(namespace: "ns", topic: "t"), .append(append),
        .joinGroup(group, member: "m", sessionTimeoutMs: 500),
        .leaveGroup(group, member: "m"), .heartbeat(group, member: "m", generation: 2), .commitOffsets(commit),
        .resetOffsets(group, partition: 1, to: .timestamp(-3)),
        .resetOffsets(group, partition: nil, to: .offset(Offset(4))),
        .deleteGroup(group), .initProducer(producerGroup: "pg"),
        .beginTransaction(producer: ProducerID(1), timeoutMs: 1_000), .transactionPublish(TransactionID(1), publish),
        .transactionAppend(TransactionID(1), append), .transactionCommitOffsets(TransactionID(1), commit),
        .commitTransaction(TransactionID(1)), .abortTransaction(TransactionID(2)), .prepareHalfMessage(half),
        .resolveHalfMessage(HalfMessageID(5), .unknown),
    ]
    return commands + [.batch(commands), .batch([.batch([.tick]), .tick])]
}

/// Every command survives encode then decode unchanged.
@Test func commandRoundTrip() throws {
    for command in sampleCommands() {
        let decoded = try Command.decode(command.encoded())
        #expect(decoded == command)
    }
}

/// `encode(appendingTo:)` appends exactly `encoded()` after what the buffer held, and a command decodes from a
/// slice in the middle of a larger buffer (as the server reads it from a proposal envelope) without a copy.
@Test func commandEncodesInPlaceAndDecodesFromSlice() throws {
    let header: [UInt8] = [9, 8, 7]
    for command in sampleCommands() {
        var bytes = header
        command.encode(appendingTo: &bytes)
        #expect(Array(bytes.prefix(header.count)) == header)
        #expect(Array(bytes.dropFirst(header.count)) == command.encoded())
        let slice = bytes[header.count...]
        #expect(try Command.decode(slice) == command)
        // Trailing bytes after the command are still refused when decoding from a slice.
        let padded = (bytes + [0])[header.count...]
        #expect(throws: BrokerError.self) { try Command.decode(padded) }
    }
    // Error positions count from the slice's start (byte 1: the tag after the version), not from the buffer's.
    let truncated = (header + [Command.codecVersion])[header.count...]
    do {
        _ = try Command.decode(truncated)
        Issue.record("a truncated command was accepted")
    } catch {
        #expect(error.code == .malformedCommand)
        #expect(error.message == "truncated at byte 1")
    }
}

/// Names decode whether ASCII (fast path) or not, and invalid UTF-8 is a `malformedCommand` error.
@Test func stringsAreValidatedUTF8() throws {
    for name in ["queue-1", "", "file d’attente", "очередь", "🚀"] {
        #expect(try Command.decode(Command.createNamespace(name).encoded()) == .createNamespace(name))
    }
    for invalid: [UInt8] in [[0xff], [0xc3], [0x61, 0x80], [0xed, 0xa0, 0x80]] {
        let bytes = [Command.codecVersion, 3, UInt8(invalid.count)] + invalid
        #expect(throws: BrokerError.self) { try Command.decode(bytes) }
    }
}

/// 100k random and mutated inputs never crash the decoder; anything it accepts re-encodes to the same bytes.
@Test func decoderFuzz() {
    var random = SplitMix64(seed: 0x5eed)
    let seeds = sampleCommands().map { $0.encoded() }
    var accepted = 0
    for round in 0..<100_000 {
        var bytes: [UInt8]
        if round % 4 == 0 {
            bytes = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        } else {
            bytes = seeds[random.below(seeds.count)]
            for _ in 0...random.below(4) where !bytes.isEmpty {
                switch random.below(3) {
                case 0: bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.removeLast(random.below(bytes.count) + 1)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: random.below(bytes.count + 1))
                }
            }
        }
        if let command = try? Command.decode(bytes) {
            accepted += 1
            #expect(command.encoded() == bytes || (try? Command.decode(command.encoded())) == command)
        }
    }
    #expect(accepted > 0)
}

/// Truncations and bad versions are typed `malformedCommand` errors.
@Test func decoderErrors() {
    #expect(throws: BrokerError.self) { try Command.decode([]) }
    #expect(throws: BrokerError.self) { try Command.decode([2, 2]) }
    #expect(throws: BrokerError.self) { try Command.decode([1, 200]) }
    #expect(throws: BrokerError.self) { try Command.decode(Command.tick.encoded() + [0]) }
    let nested: Command = .batch([.batch([.batch([.tick])])])
    #expect(throws: BrokerError.self) { try Command.decode(nested.encoded()) }
    do {
        _ = try Command.decode([1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f])
        Issue.record("over-long name accepted")
    } catch {
        #expect(error.code == .malformedCommand)
    }
}

/// A payload survives its checkpoint encoding.
@Test func payloadRoundTrip() throws {
    let payload = Payload(id: "x", body: [0, 255], headers: [Header("h", "v")], key: [7])
    #expect(try Payload.decode(payload.encoded()) == payload)
}

/// FNV-1a 64 matches its published test vectors, so the partitioner is stable across implementations.
@Test func fnvVectors() {
    #expect(FNV1a64.hash([]) == 0xcbf2_9ce4_8422_2325)
    #expect(FNV1a64.hash(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
    #expect(FNV1a64.hash(Array("foobar".utf8)) == 0x8594_4171_f739_67e8)
    #expect(
        BrokerStateMachine.partition(forKey: Array("foobar".utf8), partitions: 10)
            == UInt32(UInt64(0x8594_4171_f739_67e8) % 10))
}

/// Decoded garbage is applied to a populated broker without trapping, and a failed command changes nothing
/// but the applied index and clock.
@Test func applyingMutatedCommandsNeverTraps() {
    var random = SplitMix64(seed: 0xbad)
    var machine = setUpMachine()
    var workload = Workload(seed: 0xbad)
    var seeds = (0..<300).map { _ in workload.next().encoded() }
    seeds += sampleCommands().map { $0.encoded() }
    var index = UInt64(Workload.setup.count)
    var applied = 0
    for _ in 0..<4_000 {
        var bytes = seeds[random.below(seeds.count)]
        for _ in 0...random.below(3) where bytes.count > 1 {
            bytes[1 + random.below(bytes.count - 1)] = UInt8(truncatingIfNeeded: random.next())
        }
        guard let command = try? Command.decode(bytes) else { continue }
        index += 1
        var probe = machine
        let (result, _) = probe.apply(.tick, index: index, time: workload.time)
        #expect(result.error == nil)
        let before = probe.stateHash()
        let outcome = machine.apply(command, index: index, time: workload.time)
        if outcome.result.error != nil, case .batch = command {
        } else if outcome.result.error != nil {
            #expect(machine.stateHash() == before, "failed \(command) changed state")
        }
        applied += 1
    }
    #expect(applied > 500)
    #expect(machine.invariantViolations() == [])
}

/// Golden bytes: the log format of commands must not change silently (entries written today are replayed later).
@Test func goldenEncodings() {
    let publish = Command.publish(
        PublishRequest(
            namespace: "ns", target: .queue("q"),
            messages: [OutgoingMessage(id: "a", body: [7], headers: [Header("h", "v")], priority: 3, ttlMs: 100)],
            producer: ProducerStamp(producer: ProducerID(2), sequence: 1)))
    #expect(hex(publish.encoded()) == "0108026e73000171010161010701016801760301c80100010201")
    let receive = Command.receive(namespace: "ns", queue: "q", consumer: "c", maxMessages: 10, visibilityMs: 30_000)
    #expect(hex(receive.encoded()) == "0109026e73017101630ae0d403")
    #expect(hex(Command.batch([.tick, .createNamespace("x")]).encoded()) == "01010202030178")
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
