@testable import ChaosCheck

/// Builds synthetic histories for checker tests, with a clock that advances in milliseconds.
struct HistoryBuilder {
    var events: [HistoryEvent]
    var nowNs: Int64 = 0
    var nextOpId: Int64 = 1

    init(leaseMs: Int64 = 5_000, boundMs: Int64 = 15_000) {
        var header = HistoryEvent(type: .meta, t: 0, op: .header, process: -1)
        header.meta = HistoryMeta(
            seed: 7, nodes: 3, faults: ["kill-leader"], leaseMs: leaseMs, leaseSlackMs: 500,
            unavailabilityBoundMs: boundMs)
        events = [header]
    }

    mutating func advance(ms: Int64) { nowNs += ms * 1_000_000 }

    /// Records an invoke and, unless `outcome` is nil, its completion `latencyMs` later.
    @discardableResult
    mutating func op(
        _ kind: OpKind, process: Int, outcome: EventType? = .ok, latencyMs: Int64 = 2,
        _ fill: (inout HistoryEvent) -> Void = { _ in }, completion: (inout HistoryEvent) -> Void = { _ in }
    ) -> Int64 {
        let id = nextOpId
        nextOpId += 1
        var invoke = HistoryEvent(type: .invoke, t: nowNs, op: kind, process: process, opId: id)
        fill(&invoke)
        events.append(invoke)
        advance(ms: latencyMs)
        if let outcome {
            var done = invoke
            done.type = outcome
            done.t = nowNs
            completion(&done)
            events.append(done)
        }
        advance(ms: 1)
        return id
    }

    mutating func observe(_ kind: OpKind, process: Int, _ fill: (inout HistoryEvent) -> Void = { _ in }) {
        var event = HistoryEvent(type: .ok, t: nowNs, op: kind, process: process)
        fill(&event)
        events.append(event)
        advance(ms: 1)
    }

    mutating func nemesis(_ op: OpKind, fault: String, id: Int64) {
        var event = HistoryEvent(type: .nemesis, t: nowNs, op: op, process: -1, opId: id)
        event.fault = fault
        event.nodes = [1]
        events.append(event)
        advance(ms: 1)
    }

    mutating func publish(
        _ msg: String, producer: String = "p1", seq: Int64, priority: Int = 0,
        outcome: EventType = .ok, queue: String = "q"
    ) {
        op(.publish, process: 1, outcome: outcome) {
            $0.queue = queue
            $0.msg = msg
            $0.producer = producer
            $0.seq = seq
            $0.priority = priority
        } completion: {
            $0.serverId = "s-\(msg)"
        }
    }

    mutating func deliver(_ msg: String, consumer: Int = 2, deliveries: Int = 1, serverId: String? = nil) {
        observe(.deliver, process: consumer) {
            $0.queue = "q"
            $0.msg = msg
            $0.serverId = serverId ?? "s-\(msg)"
            $0.deliveries = deliveries
        }
    }

    mutating func ack(_ msg: String, consumer: Int = 2, outcome: EventType = .ok) {
        op(.ack, process: consumer, outcome: outcome) {
            $0.queue = "q"
            $0.msg = msg
        }
    }

    mutating func produce(_ msg: String, seq: Int64, offset: Int64, partition: Int = 0) {
        op(.produce, process: 3) {
            $0.topic = "t"
            $0.msg = msg
            $0.producer = "tp"
            $0.seq = seq
        } completion: {
            $0.partition = partition
            $0.offset = offset
        }
    }

    mutating func consume(_ msg: String, offset: Int64, consumer: Int = 4, partition: Int = 0) {
        observe(.consume, process: consumer) {
            $0.topic = "t"
            $0.partition = partition
            $0.offset = offset
            $0.msg = msg
            $0.group = "g"
        }
    }

    mutating func offsetOp(_ kind: OpKind, offset: Int64) {
        op(kind, process: 4) {
            $0.group = "g"
            $0.topic = "t"
            $0.partition = 0
            if kind == .commitOffset { $0.offset = offset }
        } completion: {
            $0.offset = offset
        }
    }

    mutating func drain(queue: String? = "q", topic: String? = nil, outcome: EventType = .ok) {
        op(.drain, process: 9, outcome: outcome) {
            $0.queue = queue
            $0.topic = topic
        }
    }

    /// A history with every kind of operation and no anomaly.
    static func clean() -> HistoryBuilder {
        var b = HistoryBuilder()
        for seq in 1...5 { b.publish("m\(seq)", seq: Int64(seq)) }
        b.nemesis(.start, fault: "kill-leader", id: 1)
        for seq in 1...5 {
            b.deliver("m\(seq)")
            b.ack("m\(seq)")
        }
        b.nemesis(.stop, fault: "kill-leader", id: 1)
        for offset in 0..<3 { b.produce("r\(offset)", seq: Int64(offset + 1), offset: Int64(offset)) }
        for offset in 0..<3 { b.consume("r\(offset)", offset: Int64(offset)) }
        b.offsetOp(.commitOffset, offset: 3)
        b.offsetOp(.readOffset, offset: 3)
        b.op(.txn, process: 5) {
            $0.tx = "tx1"
            $0.msgs = ["x1", "x2"]
        }
        b.deliver("x1", consumer: 2)
        b.deliver("x2", consumer: 2)
        b.op(.halfPublish, process: 6) {
            $0.tx = "h1"
            $0.msg = "hm1"
            $0.queue = "q"
        }
        b.op(.halfCommit, process: 6) { $0.tx = "h1" }
        b.deliver("hm1", consumer: 2)
        b.op(.halfPublish, process: 6) {
            $0.tx = "h2"
            $0.msg = "hm2"
            $0.queue = "q"
        }
        b.op(.halfRollback, process: 6) { $0.tx = "h2" }
        b.op(.workloadEnd, process: 9)
        b.drain(queue: "q")
        b.drain(queue: nil, topic: "t")
        return b
    }

    func verdict() -> Verdict { HistoryChecker(events: events).verdict() }
}
