import Testing

@testable import SkiffRaft

/// One message of every kind, with every field set, for round-trip and mutation tests.
private func sampleMessages() -> [Message] {
    Message.Kind.allCases.map { kind in
        var message = Message(kind: kind, from: NodeID(1), to: NodeID(2), term: Term(7))
        message.logTerm = Term(6)
        message.index = LogIndex(40)
        message.commit = LogIndex(39)
        message.rejectHint = LogIndex(12)
        message.reject = kind == .appendResponse
        message.forceVote = kind == .vote
        message.context = [1, 2, 3]
        message.entries = [
            Entry(term: Term(7), index: LogIndex(41), kind: .normal, data: [9, 9]),
            Entry(
                term: Term(7), index: LogIndex(42), kind: .configChange,
                data: ConfChange(.addLearner, NodeID(4)).encoded()),
            Entry(term: Term(7), index: LogIndex(43), kind: .noop),
        ]
        message.snapshot = SnapshotMetadata(
            index: LogIndex(30), term: Term(5),
            confState: ConfState(voters: [NodeID(1), NodeID(2)], learners: [NodeID(3)]))
        message.snapshotOffset = 4_096
        message.snapshotData = [UInt8](repeating: 0xAB, count: 100)
        message.snapshotDone = true
        return message
    }
}

/// Proves every message kind survives encode/decode unchanged.
@Test func messageRoundTrips() throws {
    for message in sampleMessages() {
        #expect(try Message(decoding: message.encoded()) == message)
    }
}

/// Proves the membership, change, snapshot metadata and hard state codecs round-trip and reject garbage.
@Test func membershipCodecsRoundTrip() throws {
    let conf = ConfState(voters: [NodeID(3), NodeID(1)], learners: [NodeID(9)])
    #expect(try ConfState(decoding: conf.encoded()) == conf)
    let change = ConfChange(.removeNode, NodeID(5))
    #expect(try ConfChange(decoding: change.encoded()) == change)
    let metadata = SnapshotMetadata(index: LogIndex(8), term: Term(2), confState: conf)
    #expect(try SnapshotMetadata(decoding: metadata.encoded()) == metadata)
    let hard = HardState(term: Term(4), vote: NodeID(2), commit: LogIndex(10))
    #expect(try HardState(decoding: hard.encoded()) == hard)
    #expect(throws: CodecError.self) { try ConfChange(decoding: [9, 1, 0, 0, 0, 0, 0, 0, 0]) }
    #expect(throws: CodecError.self) { try ConfChange(decoding: ConfChange(.addVoter, NodeID(1)).encoded() + [0]) }
    #expect(throws: CodecError.self) { try HardState(decoding: [1, 2, 3]) }
}

/// Proves a length prefix larger than the input or the bound is refused before anything is allocated.
@Test func oversizedLengthsAreRefused() {
    var bytes = sampleMessages()[0].encoded()
    // The context length sits after the fixed header (1 + 1 + 7 * 8 + 1 bytes).
    let contextLength = 59
    bytes.replaceSubrange(contextLength..<(contextLength + 4), with: [0xFF, 0xFF, 0xFF, 0x7F])
    #expect { try Message(decoding: bytes) } throws: { error in
        (error as? CodecError)?.kind == .limitExceeded
    }
}

/// Proves the decoder never traps: 100,000 random and mutated inputs either throw a `CodecError` or decode
/// to a message whose encoding decodes back to the same message.
@Test func decoderSurvivesHostileInput() {
    var random = SeededRandom(seed: 2_024)
    let seeds = sampleMessages().map { $0.encoded() }
    var decoded = 0
    for round in 0..<100_000 {
        var bytes: [UInt8]
        if round % 4 == 0 {
            bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        } else {
            bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                mutate(&bytes, random: &random)
            }
        }
        do {
            let message = try Message(decoding: bytes)
            #expect(try Message(decoding: message.encoded()) == message)
            decoded += 1
        } catch {
            // Refusal is the expected outcome for most inputs; the type is checked by the signature.
        }
    }
    #expect(decoded > 0)
}

private func mutate(_ bytes: inout [UInt8], random: inout SeededRandom) {
    guard !bytes.isEmpty else { return }
    let position = Int.random(in: 0..<bytes.count, using: &random)
    switch Int.random(in: 0...3, using: &random) {
    case 0: bytes[position] ^= UInt8(1 << Int.random(in: 0...7, using: &random))
    case 1: bytes.removeSubrange(position...)
    case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
    default: bytes[position] = 0xFF
    }
}
