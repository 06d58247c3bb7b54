import ArgumentParser

/// What `skiff bench` puts in each message body.
enum BenchBody: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Bytes `i % 251`, the same body for every message: compressible, like the anchors' workload (letters
    /// `a`..`z` repeating). LZ4 shrinks the log and the checkpoint rows about 2-4x.
    case cyclic
    /// A new pseudo-random body for every message: LZ4 finds nothing to shrink, within a body or across bodies.
    case random
}

/// The bodies of one publish run, one per call of `next()`.
///
/// Random bodies come from a fixed-seed xorshift generator, so two runs publish the same bytes; the generator
/// costs the bench client about 0.3 µs per KiB.
struct BenchBodies {
    let kind: BenchBody
    let size: Int
    private let cyclic: [UInt8]
    private var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(kind: BenchBody, size: Int) {
        self.kind = kind
        self.size = size
        self.cyclic = kind == .cyclic ? (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) } : []
    }

    mutating func next() -> [UInt8] {
        switch kind {
        case .cyclic:
            return cyclic
        case .random:
            var state = self.state
            let body = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                var offset = 0
                while offset < size {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    var word = state
                    for _ in 0..<min(8, size - offset) {
                        buffer[offset] = UInt8(truncatingIfNeeded: word)
                        word >>= 8
                        offset += 1
                    }
                }
                initialized = size
            }
            self.state = state
            return body
        }
    }
}
