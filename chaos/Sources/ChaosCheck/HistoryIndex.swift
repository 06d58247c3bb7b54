/// A client operation: an invoke and its completion, if one was recorded.
public struct Operation: Sendable, Equatable {
    public var invoke: HistoryEvent
    /// Absent when the run ended (or the client was killed) before the operation completed.
    public var completion: HistoryEvent?

    /// `ok`, `fail` or `unknown`; an operation that never completed is `unknown`.
    public var outcome: EventType { completion?.type ?? .unknown }
    public var kind: OpKind { invoke.op }
    public var process: Int { invoke.process }
    /// Time the operation completed, or `Int64.max` if it never did (it may take effect at any later time).
    public var endT: Int64 { completion?.t ?? Int64.max }
    public var latencyNs: Int64? { completion.map { $0.t - invoke.t } }

    /// A field taken from the completion when it has one, else from the invoke.
    func value<T>(_ field: KeyPath<HistoryEvent, T?>) -> T? {
        completion?[keyPath: field] ?? invoke[keyPath: field]
    }
}

/// A history split into operations, observations and nemesis events, in time order.
public struct HistoryIndex: Sendable {
    public var meta: HistoryMeta
    public var operations: [Operation] = []
    /// Lone `ok` events (deliveries, topic reads, crashes, checks).
    public var observations: [HistoryEvent] = []
    public var nemesis: [HistoryEvent] = []
    /// Structural problems: completions without an invoke, doubly completed operations, missing header.
    public var malformed: [String] = []
    /// Time of the last event.
    public var endT: Int64 = 0

    /// Bounds the examples listed per problem in a verdict.
    static let examplesMax = 10

    public init(events: [HistoryEvent]) {
        meta = events.first(where: { $0.type == .meta })?.meta ?? HistoryMeta(seed: 0, nodes: 0, faults: [])
        if !events.contains(where: { $0.type == .meta }) { malformed.append("no meta header line") }
        var open: [Int64: Int] = [:]
        for event in events.sorted(by: { $0.t < $1.t }) {
            endT = max(endT, event.t)
            add(event, open: &open)
        }
    }

    private mutating func add(_ event: HistoryEvent, open: inout [Int64: Int]) {
        switch event.type {
        case .meta:
            return
        case .nemesis:
            nemesis.append(event)
        case .invoke:
            guard let id = event.opId else {
                noteMalformed("invoke without opId at t=\(event.t)")
                return
            }
            if open[id] != nil { noteMalformed("opId \(id) invoked twice") }
            open[id] = operations.count
            operations.append(Operation(invoke: event, completion: nil))
        case .ok, .fail, .unknown:
            guard let id = event.opId else {
                if event.type == .ok {
                    observations.append(event)
                } else {
                    noteMalformed("\(event.type.rawValue) \(event.op.rawValue) without opId at t=\(event.t)")
                }
                return
            }
            guard let index = open.removeValue(forKey: id) else {
                noteMalformed("completion of opId \(id) without an open invoke")
                return
            }
            operations[index].completion = event
        }
    }

    private mutating func noteMalformed(_ text: String) {
        if malformed.count < Self.examplesMax * 10 { malformed.append(text) }
    }

    /// Operations of one kind.
    public func operations(_ kind: OpKind) -> [Operation] { operations.filter { $0.kind == kind } }

    /// Observations of one kind.
    public func observations(_ kind: OpKind) -> [HistoryEvent] { observations.filter { $0.op == kind } }
}
