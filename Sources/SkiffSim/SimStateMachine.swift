import SkiffRaft

/// The simulator's application: the ordered list of applied client proposal ids. A proposal retried by the
/// client may sit in the log twice; the machine applies each id once (as the broker deduplicates by producer
/// sequence), so "exactly once, in one order" is checkable.
struct SimStateMachine {
    private(set) var appliedIndex: LogIndex = .zero
    private(set) var order: [UInt64] = []
    private var seen: Set<UInt64> = []

    /// Applies one committed entry. Returns the proposal id when it was applied for the first time.
    mutating func apply(_ entry: Entry) -> UInt64? {
        precondition(entry.index == appliedIndex.next, "apply \(entry.index) after \(appliedIndex)")
        appliedIndex = entry.index
        guard entry.kind == .normal, let id = Self.proposalID(entry.data), !seen.contains(id) else { return nil }
        seen.insert(id)
        order.append(id)
        return id
    }

    /// The payload of proposal `id`, padded to `padding` bytes.
    static func payload(id: UInt64, padding: Int) -> [UInt8] {
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: id >> (8 * UInt64($0))) }
        bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: id), count: padding)
        return bytes
    }

    static func proposalID(_ data: [UInt8]) -> UInt64? {
        guard data.count >= 8 else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[$1]) << (8 * UInt64($1)) }
    }

    /// The snapshot bytes: applied index, then the ids in order.
    func snapshot() -> [UInt8] {
        var words = [appliedIndex.rawValue, UInt64(order.count)] + order
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for index in words.indices {
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: words[index]))
                words[index] >>= 8
            }
        }
        return bytes
    }

    /// Restores from `snapshot()` bytes; nil when they are malformed (a bug in the snapshot transfer).
    init?(snapshot bytes: [UInt8]) {
        guard bytes.count >= 16, bytes.count % 8 == 0 else { return nil }
        let words = stride(from: 0, to: bytes.count, by: 8).map { Self.proposalID(Array(bytes[$0..<($0 + 8)]))! }
        guard words[1] == UInt64(words.count - 2) else { return nil }
        appliedIndex = LogIndex(words[0])
        order = Array(words[2...])
        seen = Set(order)
    }

    init() {}
}
