import Foundation
import Testing

@testable import SkiffWire

@Suite struct FuzzTests {
    /// Inputs per run: the issue asks for at least one million.
    static let inputCount = 1_000_000
    /// Largest frame the fuzzed decoder accepts, small so that random length prefixes are often in range.
    static let frameBytesMax = 4_096

    /// Independent shards run concurrently (each with its own seed), so a 2-core machine halves the time.
    static let shardCount = 2

    /// Counts of each way an input ended, and the first few problems found.
    struct Outcomes: Sendable {
        var decoded = 0
        var needMore = 0
        var frameErrors = 0
        var messageErrors = 0
        var problems: [String] = []

        mutating func problem(_ text: String) {
            if problems.count < 20 { problems.append(text) }
        }
    }

    /// One million random and mutated inputs never crash the decoder: each either decodes to a message that
    /// re-encodes to an equal message, asks for more bytes, or fails with a typed `FrameError`.
    @Test func decoderSurvivesRandomAndMutatedInput() async throws {
        let outcomes = await withTaskGroup(of: Outcomes.self) { group in
            for shard in 0..<Self.shardCount {
                group.addTask {
                    await Self.onOwnThread {
                        Self.fuzz(seed: 0x5EED + UInt64(shard), inputs: Self.inputCount / Self.shardCount)
                    }
                }
            }
            return await group.reduce(into: Outcomes()) { total, shard in
                total.decoded += shard.decoded
                total.needMore += shard.needMore
                total.frameErrors += shard.frameErrors
                total.messageErrors += shard.messageErrors
                total.problems += shard.problems
            }
        }
        #expect(outcomes.problems.isEmpty, "\(outcomes.problems)")
        #expect(outcomes.decoded + outcomes.needMore + outcomes.frameErrors + outcomes.messageErrors == Self.inputCount)
        // Each path must be exercised, or the fuzzer is not testing what it claims to.
        #expect(outcomes.decoded > 1_000)
        #expect(outcomes.needMore > 1_000)
        #expect(outcomes.frameErrors > 1_000)
        #expect(outcomes.messageErrors > 1_000)
    }

    /// Runs CPU-bound work on a thread of its own. The whole test run shares one process and a cooperative
    /// pool with one thread per core: a long synchronous loop there starves every async test (client tests
    /// then time out waiting for their continuations to run).
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// Decodes `inputs` generated inputs; notes a problem for any decoded message that does not re-encode
    /// losslessly or any frame that claims more bytes than it was given.
    static func fuzz(seed: UInt64, inputs: Int) -> Outcomes {
        var rng = SplitMix64(seed: seed)
        let seeds = Samples.frames.map { $0.encoded() }
        var outcomes = Outcomes()
        for iteration in 0..<inputs {
            let input =
                iteration % 5 == 0
                ? randomInput(&rng) : mutate(seeds[Int(rng.next() % UInt64(seeds.count))], &rng)
            do {
                guard let (frame, consumed) = try FrameDecoder.decode(input, frameBytesMax: frameBytesMax) else {
                    outcomes.needMore += 1
                    continue
                }
                if consumed > input.count { outcomes.problem("frame consumed \(consumed) of \(input.count) bytes") }
                do {
                    let message = try Message(frame: frame)
                    outcomes.decoded += 1
                    // Maps may arrive unsorted, so compare values, not bytes: re-encoding must be lossless.
                    if (try? Message(frame: message.frame)) != message {
                        outcomes.problem("decoded message does not survive re-encoding: \(input)")
                    }
                } catch {
                    outcomes.messageErrors += 1
                }
            } catch {
                outcomes.frameErrors += 1
            }
        }
        return outcomes
    }

    /// Random bytes; half of them start with a plausible header so the payload decoders are reached.
    static func randomInput(_ rng: inout SplitMix64) -> [UInt8] {
        let count = Int(rng.next() % 64)
        var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        if rng.next() % 2 == 0 {
            let opcode = UInt16(rng.next() % 100)
            var header = WireWriter()
            header.write(UInt32(12 + bytes.count))
            header.write(UInt8(rng.next() % 3 + 1))
            header.write(UInt8(0))
            header.write(opcode)
            header.write(rng.next())
            bytes = header.bytes + bytes
        }
        return bytes
    }

    /// One to four mutations of a valid frame; usually the length prefix is then fixed up so that the
    /// mutation reaches the payload decoder instead of stopping at the length check.
    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0...(rng.next() % 4) {
            guard !bytes.isEmpty else { break }
            let index = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 6 {
            case 0: bytes[index] ^= UInt8(1) << (rng.next() % 8)
            case 1: bytes[index] = [0, 1, 0x7F, 0x80, 0xFF][Int(rng.next() % 5)]
            case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: index)
            case 3: bytes.remove(at: index)
            case 4: bytes.removeLast(min(bytes.count, Int(rng.next() % 8) + 1))
            default: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 8)], at: index)
            }
        }
        if rng.next() % 4 != 0, bytes.count >= 4 {
            let length = UInt32(bytes.count - 4)
            bytes.replaceSubrange(0..<4, with: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) })
        }
        return bytes
    }
}
