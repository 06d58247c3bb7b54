/// A least-recently-used cache bounded by the total weight (bytes) of its values.
///
/// Not thread-safe: the owner serializes access. Lookups and insertions are O(1).
public struct LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        var weight: Int
        var previous: Int
        var next: Int
    }

    /// The bound on the sum of weights.
    public let weightMax: Int
    /// The current sum of weights.
    public private(set) var weight = 0
    private var nodes: [Node] = []
    private var freeSlots: [Int] = []
    private var slotByKey: [Key: Int] = [:]
    /// Most recently used.
    private var head = -1
    /// Least recently used.
    private var tail = -1

    /// Creates an empty cache holding at most `weightMax` weight.
    public init(weightMax: Int) {
        precondition(weightMax >= 0, "LRUCache weightMax \(weightMax)")
        self.weightMax = weightMax
    }

    /// The number of cached values.
    public var count: Int { slotByKey.count }

    /// The value for `key`, marking it most recently used.
    public mutating func value(for key: Key) -> Value? {
        guard let slot = slotByKey[key] else { return nil }
        moveToFront(slot)
        return nodes[slot].value
    }

    /// Inserts or replaces a value. A value heavier than `weightMax` is not cached.
    public mutating func insert(_ value: Value, for key: Key, weight valueWeight: Int) {
        removeValue(for: key)
        guard valueWeight <= weightMax else { return }
        while weight + valueWeight > weightMax, tail >= 0 { removeValue(for: nodes[tail].key) }
        let node = Node(key: key, value: value, weight: valueWeight, previous: -1, next: head)
        let slot: Int
        if let free = freeSlots.popLast() {
            nodes[free] = node
            slot = free
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if head >= 0 { nodes[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
        slotByKey[key] = slot
        weight += valueWeight
    }

    /// Removes the value for `key`, if cached.
    public mutating func removeValue(for key: Key) {
        guard let slot = slotByKey.removeValue(forKey: key) else { return }
        unlink(slot)
        weight -= nodes[slot].weight
        freeSlots.append(slot)
    }

    /// Removes every value.
    public mutating func removeAll() {
        nodes.removeAll()
        freeSlots.removeAll()
        slotByKey.removeAll()
        head = -1
        tail = -1
        weight = 0
    }

    private mutating func unlink(_ slot: Int) {
        let previous = nodes[slot].previous
        let next = nodes[slot].next
        if previous >= 0 { nodes[previous].next = next } else { head = next }
        if next >= 0 { nodes[next].previous = previous } else { tail = previous }
        nodes[slot].previous = -1
        nodes[slot].next = -1
    }

    private mutating func moveToFront(_ slot: Int) {
        guard head != slot else { return }
        unlink(slot)
        nodes[slot].next = head
        if head >= 0 { nodes[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
