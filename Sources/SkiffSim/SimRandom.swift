import SkiffRaft

/// The simulator's seeded randomness, with the helpers the fault schedule needs.
struct SimRandom {
    private var generator: SeededRandom

    init(seed: UInt64) { generator = SeededRandom(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }

    /// A uniform integer in `range` (microseconds and other unsigned quantities).
    mutating func uint(_ range: ClosedRange<UInt64>) -> UInt64 { UInt64.random(in: range, using: &generator) }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        probability > 0 && Double.random(in: 0..<1, using: &generator) < probability
    }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

/// FNV-1a over 64-bit words: the run's trace hash. Equal seeds give equal hashes, bit for bit.
struct TraceHash {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func mix(_ word: UInt64) {
        var word = word
        for _ in 0..<8 {
            value = (value ^ (word & 0xFF)) &* 0x0000_0100_0000_01B3
            word >>= 8
        }
    }

    mutating func mix(_ words: UInt64...) {
        for word in words { mix(word) }
    }
}

/// A stable 64-bit hash of bytes (FNV-1a), for comparing entries without keeping them.
func bytesHash(_ bytes: [UInt8]) -> UInt64 {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return value
}
