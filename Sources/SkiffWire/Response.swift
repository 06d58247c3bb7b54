/// Every answer a server can send to a request.
public enum Response: Hashable, Sendable {
    /// Success with nothing to report (also the answer to `ping`).
    case ok
    /// A typed failure.
    case error(WireError)
    case helloOK(HelloOK)
    case cluster(ClusterInfo)
    /// Namespace names.
    case names([String])
    /// A count (messages purged).
    case count(UInt64)
    case queueStats(QueueStats)
    case queueList([QueueStats])
    case exchangeList([ExchangeInfo])
    case topicList([TopicInfo])
    case published(PublishResult)
    case producer(ProducerID)
    case subscribed(SubscriptionID)
    case produced(ProduceResult)
    case fetched(FetchResult)
    case assignment(GroupAssignment)
    case groupOffsets(GroupOffsets)
    case transaction(TransactionID)
    case halfPrepared(HalfPrepared)
}

extension Response {
    /// Response opcodes (the frame header's `opcode` when `kind == .response`).
    public enum Opcode: UInt16, Sendable, CaseIterable {
        case ok = 1, error = 2, helloOK = 3, cluster = 4, names = 5, count = 6, queueStats = 7, queueList = 8
        case exchangeList = 9, topicList = 10, published = 11, producer = 12, subscribed = 13, produced = 14
        case fetched = 15, assignment = 16, groupOffsets = 17, transaction = 18, halfPrepared = 19
    }

    /// This response's opcode.
    public var opcode: Opcode {
        switch self {
        case .ok: return .ok
        case .error: return .error
        case .helloOK: return .helloOK
        case .cluster: return .cluster
        case .names: return .names
        case .count: return .count
        case .queueStats: return .queueStats
        case .queueList: return .queueList
        case .exchangeList: return .exchangeList
        case .topicList: return .topicList
        case .published: return .published
        case .producer: return .producer
        case .subscribed: return .subscribed
        case .produced: return .produced
        case .fetched: return .fetched
        case .assignment: return .assignment
        case .groupOffsets: return .groupOffsets
        case .transaction: return .transaction
        case .halfPrepared: return .halfPrepared
        }
    }

    /// Encodes the payload (without the frame header).
    public func encodePayload(to writer: inout WireWriter) {
        switch self {
        case .ok: break
        case .error(let m): writer.write(m)
        case .helloOK(let m): writer.write(m)
        case .cluster(let m): writer.write(m)
        case .names(let names): writer.writeArray(names) { $0.write($1) }
        case .count(let n): writer.write(n)
        case .queueStats(let m): writer.write(m)
        case .queueList(let list): writer.writeArray(list) { $0.write($1) }
        case .exchangeList(let list): writer.writeArray(list) { $0.write($1) }
        case .topicList(let list): writer.writeArray(list) { $0.write($1) }
        case .published(let m): writer.write(m)
        case .producer(let id): writer.write(id)
        case .subscribed(let id): writer.write(id)
        case .produced(let m): writer.write(m)
        case .fetched(let m): writer.write(m)
        case .assignment(let m): writer.write(m)
        case .groupOffsets(let m): writer.write(m)
        case .transaction(let id): writer.write(id)
        case .halfPrepared(let m): writer.write(m)
        }
    }

    /// The response as a frame answering request `id`.
    public func frame(id: RequestID) -> Frame {
        var writer = WireWriter()
        encodePayload(to: &writer)
        return Frame(kind: .response, opcode: opcode.rawValue, requestID: id, payload: writer.bytes)
    }

    /// Decodes a response frame, rejecting unknown opcodes and trailing bytes.
    public init(frame: Frame) throws(FrameError) {
        guard frame.kind == .response else { throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: 0)) }
        guard let opcode = Opcode(rawValue: frame.opcode) else {
            throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: frame.opcode))
        }
        var reader = WireReader(frame.payload)
        self = try Response.decodePayload(opcode, &reader)
        try reader.expectEnd()
    }

    private static func decodePayload(_ opcode: Opcode, _ r: inout WireReader) throws(FrameError) -> Response {
        switch opcode {
        case .ok: return .ok
        case .error: return .error(try r.read())
        case .helloOK: return .helloOK(try r.read())
        case .cluster: return .cluster(try r.read())
        case .names:
            return .names(
                try r.readArray("names", elementBytesMin: 4) { r throws(FrameError) in try r.readString("name") })
        case .count: return .count(try r.readUInt64("count"))
        case .queueStats: return .queueStats(try r.read())
        case .queueList:
            return .queueList(try r.readArray("queues", elementBytesMin: 50) { r throws(FrameError) in try r.read() })
        case .exchangeList:
            return .exchangeList(
                try r.readArray("exchanges", elementBytesMin: 10) { r throws(FrameError) in try r.read() })
        case .topicList:
            return .topicList(try r.readArray("topics", elementBytesMin: 15) { r throws(FrameError) in try r.read() })
        case .published: return .published(try r.read())
        case .producer: return .producer(try r.readID("producer"))
        case .subscribed: return .subscribed(try r.readID("subscription"))
        case .produced: return .produced(try r.read())
        case .fetched: return .fetched(try r.read())
        case .assignment: return .assignment(try r.read())
        case .groupOffsets: return .groupOffsets(try r.read())
        case .transaction: return .transaction(try r.readID("transaction"))
        case .halfPrepared: return .halfPrepared(try r.read())
        }
    }
}

/// Frames the server sends without a request (request id 0).
public enum Push: Hashable, Sendable {
    /// A leased message for one of this connection's subscriptions.
    case delivery(Delivery)
    /// A half-message status question for a producer group registered on this connection.
    case checkback(Checkback)
    /// The server ended a subscription; the client may re-subscribe.
    case subscriptionEnded(SubscriptionEnded)
    /// Several leased messages of one subscription (only on connections that negotiated version 2 or later).
    case deliveries(DeliveryBatch)

    /// Push opcodes (the frame header's `opcode` when `kind == .push`).
    public enum Opcode: UInt16, Sendable, CaseIterable {
        case delivery = 1, checkback = 2, subscriptionEnded = 3, deliveries = 4
    }

    /// This push's opcode.
    public var opcode: Opcode {
        switch self {
        case .delivery: return .delivery
        case .checkback: return .checkback
        case .subscriptionEnded: return .subscriptionEnded
        case .deliveries: return .deliveries
        }
    }

    /// The push as a frame.
    public var frame: Frame {
        var writer: WireWriter
        switch self {
        case .delivery(let m): writer = WireWriter(capacity: 128 + m.body.count)
        case .deliveries(let m): writer = WireWriter(capacity: m.encodedBytesEstimate)
        default: writer = WireWriter()
        }
        switch self {
        case .delivery(let m): writer.write(m)
        case .checkback(let m): writer.write(m)
        case .subscriptionEnded(let m): writer.write(m)
        case .deliveries(let m): writer.write(m)
        }
        return Frame(kind: .push, opcode: opcode.rawValue, requestID: .none, payload: writer.bytes)
    }

    /// Decodes a push frame, rejecting unknown opcodes and trailing bytes.
    public init(frame: Frame) throws(FrameError) {
        guard frame.kind == .push else { throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: 0)) }
        guard let opcode = Opcode(rawValue: frame.opcode) else {
            throw FrameError(.unknownOpcode(kind: frame.kind.rawValue, opcode: frame.opcode))
        }
        var reader = WireReader(frame.payload)
        switch opcode {
        case .delivery: self = .delivery(try reader.read())
        case .checkback: self = .checkback(try reader.read())
        case .subscriptionEnded: self = .subscriptionEnded(try reader.read())
        case .deliveries: self = .deliveries(try reader.read())
        }
        try reader.expectEnd()
    }
}

/// Any decoded frame from a server's point of view or a client's, for code that handles all three.
public enum Message: Hashable, Sendable {
    case request(RequestID, Request)
    case response(RequestID, Response)
    case push(Push)

    /// Decodes a client-protocol frame of any kind; `peer` frames are not client messages.
    public init(frame: Frame) throws(FrameError) {
        switch frame.kind {
        case .request: self = .request(frame.requestID, try Request(frame: frame))
        case .response: self = .response(frame.requestID, try Response(frame: frame))
        case .push: self = .push(try Push(frame: frame))
        case .peer: throw FrameError(.unknownKind(frame.kind.rawValue))
        }
    }

    /// The message as a frame.
    public var frame: Frame {
        switch self {
        case .request(let id, let request): return request.frame(id: id)
        case .response(let id, let response): return response.frame(id: id)
        case .push(let push): return push.frame
        }
    }
}
