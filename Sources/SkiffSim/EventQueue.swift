import SkiffRaft

/// What happens at a point of simulated time.
enum SimEvent {
    case tick(node: Int)
    case deliver(Message)
    case fsyncDone(node: Int, incarnation: Int)
    case crash(node: Int, incarnation: Int)
    case restart(node: Int)
    case resume(node: Int)
    case fault
    case client
    case heal
}

/// A min-heap of events ordered by (time, sequence): equal times pop in scheduling order, so runs are
/// deterministic.
struct EventQueue {
    private var heap: [(time: SimTime, sequence: UInt64, event: SimEvent)] = []
    private var sequence: UInt64 = 0

    var count: Int { heap.count }

    mutating func schedule(_ event: SimEvent, at time: SimTime) {
        sequence += 1
        heap.append((time, sequence, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: SimTime, event: SimEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && before(left, smallest) { smallest = left }
            if right < heap.count && before(right, smallest) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }

    private func before(_ a: Int, _ b: Int) -> Bool {
        heap[a].time < heap[b].time || (heap[a].time == heap[b].time && heap[a].sequence < heap[b].sequence)
    }
}
