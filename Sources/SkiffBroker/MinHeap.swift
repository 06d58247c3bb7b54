/// A binary min-heap in an array: `insert`, `min` and `popMin`.
///
/// The broker's timers are armed in nearly ascending order (a lease deadline is `now + visibility`, and `now`
/// never goes backwards), so an insert usually stops at once: the new element is not smaller than its parent.
/// A min-max heap (swift-collections' `Heap`) moves such an element up through every max level instead, which
/// cost a measurable share of each replica's CPU per consumed message.
///
/// Equal elements pop in an unspecified order; callers whose elements are totally ordered (like `Timer`, which
/// compares every field) therefore see the same pop sequence from any heap holding the same elements.
struct MinHeap<Element: Comparable> {
    private var storage: [Element]

    /// An empty heap.
    init() { storage = [] }

    /// A heap of `elements` (built bottom-up in linear time).
    init(_ elements: [Element]) {
        storage = elements
        var index = storage.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
    }

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }

    /// The smallest element, or nil when empty.
    var min: Element? { storage.first }

    mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { return }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element, or nil when empty.
    mutating func popMin() -> Element? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let first = storage[0]
        storage[0] = last
        siftDown(from: 0)
        return first
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        let count = storage.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            let right = left + 1
            let smaller = right < count && storage[right] < storage[left] ? right : left
            guard storage[smaller] < storage[parent] else { return }
            storage.swapAt(smaller, parent)
            parent = smaller
        }
    }
}

extension MinHeap: Sendable where Element: Sendable {}
