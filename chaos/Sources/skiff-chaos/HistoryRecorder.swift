import ChaosCheck
import Foundation

/// Appends history events to `history.jsonl` with a monotonic clock, from any task.
actor HistoryRecorder {
    /// Upper bound of events in one history, so a runaway workload cannot fill the disk.
    static let eventsMax = 3_000_000
    /// Events buffered before a write to the file.
    static let bufferEventsMax = 256

    private let handle: FileHandle
    private let start: ContinuousClock.Instant
    private var nextOpId: Int64 = 1
    private var buffer: [String] = []
    private(set) var eventCount = 0
    private(set) var dropped = 0

    init(path: String, meta: HistoryMeta, start: ContinuousClock.Instant) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ChaosError("cannot create history file \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        self.start = start
        var header = HistoryEvent(type: .meta, t: 0, op: .header, process: -1)
        header.meta = meta
        buffer.append(HistoryCodec.encode(header))
    }

    /// Nanoseconds since the run started.
    nonisolated func now(from start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    /// Records an invoke built from `template` and returns it, stamped with a fresh `opId`.
    func invoke(_ template: HistoryEvent) -> HistoryEvent {
        var event = template
        event.type = .invoke
        event.opId = nextOpId
        nextOpId += 1
        event.t = now(from: start)
        append(event)
        return event
    }

    /// Records the completion of `invoke` with `type`; `update` adds result fields.
    func complete(_ invoke: HistoryEvent, _ type: EventType, error: String? = nil, update: HistoryEvent? = nil) {
        var event = update ?? invoke
        event.type = type
        event.opId = invoke.opId
        event.error = error
        event.t = now(from: start)
        append(event)
    }

    /// Records an observation (`ok` without `opId`) or a nemesis event, stamped now.
    func record(_ template: HistoryEvent) {
        var event = template
        event.t = now(from: start)
        append(event)
    }

    private func append(_ event: HistoryEvent) {
        guard eventCount < Self.eventsMax else {
            dropped += 1
            return
        }
        eventCount += 1
        buffer.append(HistoryCodec.encode(event))
        if buffer.count >= Self.bufferEventsMax { flush() }
    }

    /// Writes buffered events to the file.
    func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data((buffer.joined(separator: "\n") + "\n").utf8))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes the file.
    func close() {
        flush()
        try? handle.synchronize()
        try? handle.close()
    }
}

/// A harness failure (not a verdict): bad arguments, a cluster that would not start, a missing binary.
struct ChaosError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
