/// Topic (partitioned stream) and consumer-group messages.

/// A topic's configuration.
public struct TopicConfig: WireCodable, Hashable {
    /// Number of partitions, at least 1.
    public var partitions: UInt32
    /// Records older than this are deleted; nil keeps them by time forever.
    public var retentionMs: UInt64?
    /// Each partition is trimmed from the head to stay under this many bytes; nil is unbounded.
    public var retentionBytes: UInt64?
    /// Keep only the latest record per key (empty value = tombstone).
    public var compacted: Bool

    /// Creates the configuration.
    public init(partitions: UInt32, retentionMs: UInt64? = nil, retentionBytes: UInt64? = nil, compacted: Bool = false)
    {
        self.partitions = partitions
        self.retentionMs = retentionMs
        self.retentionBytes = retentionBytes
        self.compacted = compacted
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(partitions)
        writer.writeOptional(retentionMs) { $0.write($1) }
        writer.writeOptional(retentionBytes) { $0.write($1) }
        writer.write(compacted)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        partitions = try reader.readUInt32("topic.partitions")
        guard partitions >= 1 else { throw FrameError(.invalidValue(field: "topic.partitions")) }
        retentionMs = try reader.readOptional("topic.retentionMs") { r throws(FrameError) in
            try r.readUInt64("topic.retentionMs")
        }
        retentionBytes = try reader.readOptional("topic.retentionBytes") { r throws(FrameError) in
            try r.readUInt64("topic.retentionBytes")
        }
        compacted = try reader.readBool("topic.compacted")
    }
}

/// Creates a topic, or describes one in `topicList`.
public struct TopicInfo: WireCodable, Hashable {
    public var topic: ObjectName
    public var config: TopicConfig

    /// Creates the description.
    public init(topic: ObjectName, config: TopicConfig) {
        self.topic = topic
        self.config = config
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(topic)
        writer.write(config)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        topic = try reader.read()
        config = try reader.read()
    }
}

/// One record to append to a topic.
public struct ProduceRecord: WireCodable, Hashable {
    /// An explicit partition; nil chooses by key hash (or round-robin when there is no key).
    public var partition: UInt32?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [String: String]

    /// Creates a record.
    public init(partition: UInt32? = nil, key: [UInt8]? = nil, value: [UInt8], headers: [String: String] = [:]) {
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeOptional(partition) { $0.write($1) }
        writer.writeOptional(key) { $0.writeBytes($1) }
        writer.write(headers)
        writer.writeBytes(value)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        partition = try reader.readOptional("record.partition") { r throws(FrameError) in
            try r.readUInt32("record.partition")
        }
        key = try reader.readOptional("record.key") { r throws(FrameError) in try r.readBytes("record.key") }
        headers = try reader.readMap("record.headers")
        value = try reader.readBytes("record.value")
    }
}

/// Appends records to a topic (one atomic Raft command).
public struct ProduceRequest: WireCodable, Hashable {
    public var topic: ObjectName
    public var producer: ProducerStamp?
    /// At least one record.
    public var records: [ProduceRecord]

    /// Creates the request.
    public init(topic: ObjectName, producer: ProducerStamp? = nil, records: [ProduceRecord]) {
        self.topic = topic
        self.producer = producer
        self.records = records
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(topic)
        writer.writeOptional(producer) { $0.write($1) }
        writer.writeArray(records) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        topic = try reader.read()
        producer = try reader.readOptional("produce.producer") { r throws(FrameError) in try r.read() }
        records = try reader.readArray("produce.records", elementBytesMin: 10) { r throws(FrameError) in try r.read() }
        guard !records.isEmpty else { throw FrameError(.invalidValue(field: "produce.records")) }
    }
}

/// Where one record landed.
public struct RecordPosition: WireCodable, Hashable {
    public var partition: UInt32
    public var offset: Offset

    /// Creates the position.
    public init(partition: UInt32, offset: Offset) {
        self.partition = partition
        self.offset = offset
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(partition)
        writer.write(offset)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        partition = try reader.readUInt32("position.partition")
        offset = try reader.readID("position.offset")
    }
}

/// The outcome of a produce: one position per record, in request order.
public struct ProduceResult: WireCodable, Hashable {
    public var positions: [RecordPosition]
    /// True when the broker recognised a retry and returned the original positions.
    public var duplicate: Bool

    /// Creates the result.
    public init(positions: [RecordPosition], duplicate: Bool = false) {
        self.positions = positions
        self.duplicate = duplicate
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeArray(positions) { $0.write($1) }
        writer.write(duplicate)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        positions = try reader.readArray("produced.positions", elementBytesMin: 12) { r throws(FrameError) in
            try r.read()
        }
        duplicate = try reader.readBool("produced.duplicate")
    }
}

/// Reads committed records of one partition from `offset`. Any node answers, up to its commit index.
public struct FetchRequest: WireCodable, Hashable {
    public var topic: ObjectName
    public var partition: UInt32
    public var offset: Offset
    public var maxRecords: UInt32
    public var maxBytes: UInt32

    /// Creates the request.
    public init(
        topic: ObjectName, partition: UInt32, offset: Offset, maxRecords: UInt32 = 500, maxBytes: UInt32 = 1 << 20
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.maxRecords = maxRecords
        self.maxBytes = maxBytes
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(topic)
        writer.write(partition)
        writer.write(offset)
        writer.write(maxRecords)
        writer.write(maxBytes)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        topic = try reader.read()
        partition = try reader.readUInt32("fetch.partition")
        offset = try reader.readID("fetch.offset")
        maxRecords = try reader.readUInt32("fetch.maxRecords")
        maxBytes = try reader.readUInt32("fetch.maxBytes")
    }
}

/// One stored record.
public struct TopicRecord: WireCodable, Hashable {
    public var offset: Offset
    /// Leader time of the append, milliseconds since the Unix epoch.
    public var timestampMs: UInt64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [String: String]

    /// Creates a record.
    public init(offset: Offset, timestampMs: UInt64, key: [UInt8]?, value: [UInt8], headers: [String: String] = [:]) {
        self.offset = offset
        self.timestampMs = timestampMs
        self.key = key
        self.value = value
        self.headers = headers
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(offset)
        writer.write(timestampMs)
        writer.writeOptional(key) { $0.writeBytes($1) }
        writer.write(headers)
        writer.writeBytes(value)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        offset = try reader.readID("record.offset")
        timestampMs = try reader.readUInt64("record.timestamp")
        key = try reader.readOptional("record.key") { r throws(FrameError) in try r.readBytes("record.key") }
        headers = try reader.readMap("record.headers")
        value = try reader.readBytes("record.value")
    }
}

/// Records read from one partition.
public struct FetchResult: WireCodable, Hashable {
    public var partition: UInt32
    /// In offset order; may skip offsets removed by compaction.
    public var records: [TopicRecord]
    /// The first offset still stored.
    public var logStartOffset: Offset
    /// One past the last committed offset.
    public var highWatermark: Offset

    /// Creates the result.
    public init(partition: UInt32, records: [TopicRecord], logStartOffset: Offset, highWatermark: Offset) {
        self.partition = partition
        self.records = records
        self.logStartOffset = logStartOffset
        self.highWatermark = highWatermark
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(partition)
        writer.writeArray(records) { $0.write($1) }
        writer.write(logStartOffset)
        writer.write(highWatermark)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        partition = try reader.readUInt32("fetched.partition")
        records = try reader.readArray("fetched.records", elementBytesMin: 25) { r throws(FrameError) in try r.read() }
        logStartOffset = try reader.readID("fetched.logStart")
        highWatermark = try reader.readID("fetched.highWatermark")
    }
}

/// Joins a consumer group for one topic as member `memberID` (1...200 bytes, chosen by the client).
public struct GroupJoinRequest: WireCodable, Hashable {
    public var namespace: String
    public var group: String
    public var topic: String
    public var memberID: String
    /// The member is removed when no heartbeat arrives for this long (leader time).
    public var sessionTimeoutMs: UInt32

    /// Creates the request.
    public init(namespace: String, group: String, topic: String, memberID: String = "", sessionTimeoutMs: UInt32) {
        self.namespace = namespace
        self.group = group
        self.topic = topic
        self.memberID = memberID
        self.sessionTimeoutMs = sessionTimeoutMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(group)
        writer.write(topic)
        writer.write(memberID)
        writer.write(sessionTimeoutMs)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("join.namespace")
        group = try reader.readString("join.group")
        topic = try reader.readString("join.topic")
        memberID = try reader.readString("join.memberID")
        sessionTimeoutMs = try reader.readUInt32("join.sessionTimeoutMs")
    }
}

/// Names a group member in heartbeat and leave requests.
public struct GroupMemberRequest: WireCodable, Hashable {
    public var namespace: String
    public var group: String
    public var memberID: String
    public var generation: UInt64
    /// The topic the group consumes (groups are per topic). A trailing field added after version 1's first
    /// release: absent when nil, so older encoders' frames still decode.
    public var topic: String?

    /// Creates the request.
    public init(namespace: String, group: String, memberID: String, generation: UInt64, topic: String? = nil) {
        self.namespace = namespace
        self.group = group
        self.memberID = memberID
        self.generation = generation
        self.topic = topic
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(group)
        writer.write(memberID)
        writer.write(generation)
        if let topic { writer.write(topic) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("member.namespace")
        group = try reader.readString("member.group")
        memberID = try reader.readString("member.memberID")
        generation = try reader.readUInt64("member.generation")
        topic = reader.remaining > 0 ? try reader.readString("member.topic") : nil
    }
}

/// A member's partitions for one generation.
public struct GroupAssignment: WireCodable, Hashable {
    public var memberID: String
    public var generation: UInt64
    public var topic: String
    /// The partitions this member owns, ascending.
    public var partitions: [UInt32]

    /// Creates the assignment.
    public init(memberID: String, generation: UInt64, topic: String, partitions: [UInt32]) {
        self.memberID = memberID
        self.generation = generation
        self.topic = topic
        self.partitions = partitions
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(memberID)
        writer.write(generation)
        writer.write(topic)
        writer.writeArray(partitions) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        memberID = try reader.readString("assignment.memberID")
        generation = try reader.readUInt64("assignment.generation")
        topic = try reader.readString("assignment.topic")
        partitions = try reader.readArray("assignment.partitions", elementBytesMin: 4) { r throws(FrameError) in
            try r.readUInt32("assignment.partition")
        }
    }
}

/// One (topic, partition, offset) triple: the next offset the group will read.
public struct PartitionOffset: WireCodable, Hashable {
    public var topic: String
    public var partition: UInt32
    public var offset: Offset

    /// Creates the triple.
    public init(topic: String, partition: UInt32, offset: Offset) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(topic)
        writer.write(partition)
        writer.write(offset)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        topic = try reader.readString("offset.topic")
        partition = try reader.readUInt32("offset.partition")
        offset = try reader.readID("offset.offset")
    }
}

/// Commits a group's offsets. A stale generation fails with `UNKNOWN_GROUP`; an empty member id and
/// generation 0 commit as an administrator.
public struct CommitOffsetsRequest: WireCodable, Hashable {
    public var namespace: String
    public var group: String
    public var memberID: String
    public var generation: UInt64
    public var offsets: [PartitionOffset]

    /// Creates the request.
    public init(namespace: String, group: String, memberID: String, generation: UInt64, offsets: [PartitionOffset]) {
        self.namespace = namespace
        self.group = group
        self.memberID = memberID
        self.generation = generation
        self.offsets = offsets
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(group)
        writer.write(memberID)
        writer.write(generation)
        writer.writeArray(offsets) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("commit.namespace")
        group = try reader.readString("commit.group")
        memberID = try reader.readString("commit.memberID")
        generation = try reader.readUInt64("commit.generation")
        offsets = try reader.readArray("commit.offsets", elementBytesMin: 16) { r throws(FrameError) in try r.read() }
    }
}

/// Where a group rewind goes.
public enum ResetPosition: WireCodable, Hashable {
    /// The first stored offset of each partition.
    case earliest
    /// The high watermark of each partition (skip everything stored).
    case latest
    /// The first record at or after this leader time (milliseconds since the Unix epoch).
    case timestamp(UInt64)
    /// An explicit offset.
    case offset(Offset)

    public func encode(to writer: inout WireWriter) {
        switch self {
        case .earliest: writer.write(UInt8(0))
        case .latest: writer.write(UInt8(1))
        case .timestamp(let ms):
            writer.write(UInt8(2))
            writer.write(ms)
        case .offset(let offset):
            writer.write(UInt8(3))
            writer.write(offset)
        }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        switch try reader.readUInt8("reset.tag") {
        case 0: self = .earliest
        case 1: self = .latest
        case 2: self = .timestamp(try reader.readUInt64("reset.timestamp"))
        case 3: self = .offset(try reader.readID("reset.offset"))
        default: throw FrameError(.invalidValue(field: "reset.tag"))
        }
    }
}

/// Rewinds (or fast-forwards) a group's committed offsets for one topic.
public struct ResetOffsetsRequest: WireCodable, Hashable {
    public var namespace: String
    public var group: String
    public var topic: String
    /// One partition, or nil for all.
    public var partition: UInt32?
    public var position: ResetPosition

    /// Creates the request.
    public init(namespace: String, group: String, topic: String, partition: UInt32? = nil, position: ResetPosition) {
        self.namespace = namespace
        self.group = group
        self.topic = topic
        self.partition = partition
        self.position = position
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(group)
        writer.write(topic)
        writer.writeOptional(partition) { $0.write($1) }
        writer.write(position)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("reset.namespace")
        group = try reader.readString("reset.group")
        topic = try reader.readString("reset.topic")
        partition = try reader.readOptional("reset.partition") { r throws(FrameError) in
            try r.readUInt32("reset.partition")
        }
        position = try reader.read()
    }
}

/// Asks for a group's committed offsets on one topic.
public struct GroupOffsetsRequest: WireCodable, Hashable {
    public var namespace: String
    public var group: String
    public var topic: String

    /// Creates the request.
    public init(namespace: String, group: String, topic: String) {
        self.namespace = namespace
        self.group = group
        self.topic = topic
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(namespace)
        writer.write(group)
        writer.write(topic)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        namespace = try reader.readString("offsets.namespace")
        group = try reader.readString("offsets.group")
        topic = try reader.readString("offsets.topic")
    }
}

/// One partition's committed offset and bounds.
public struct PartitionLag: WireCodable, Hashable {
    public var partition: UInt32
    /// The next offset the group reads, or nil when the group never committed on this partition.
    public var committed: Offset?
    public var logStartOffset: Offset
    public var highWatermark: Offset

    /// Creates the entry.
    public init(partition: UInt32, committed: Offset?, logStartOffset: Offset, highWatermark: Offset) {
        self.partition = partition
        self.committed = committed
        self.logStartOffset = logStartOffset
        self.highWatermark = highWatermark
    }

    /// Records not yet consumed by the group.
    public var lag: UInt64 {
        let position = max(committed ?? logStartOffset, logStartOffset)
        return highWatermark.rawValue > position.rawValue ? highWatermark.rawValue - position.rawValue : 0
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(partition)
        writer.writeOptional(committed) { $0.write($1) }
        writer.write(logStartOffset)
        writer.write(highWatermark)
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        partition = try reader.readUInt32("lag.partition")
        committed = try reader.readOptional("lag.committed") { r throws(FrameError) in try r.readID("lag.committed") }
        logStartOffset = try reader.readID("lag.logStart")
        highWatermark = try reader.readID("lag.highWatermark")
    }
}

/// A group's offsets on one topic.
public struct GroupOffsets: WireCodable, Hashable {
    public var group: String
    public var topic: String
    public var partitions: [PartitionLag]

    /// Creates the answer.
    public init(group: String, topic: String, partitions: [PartitionLag]) {
        self.group = group
        self.topic = topic
        self.partitions = partitions
    }

    public func encode(to writer: inout WireWriter) {
        writer.write(group)
        writer.write(topic)
        writer.writeArray(partitions) { $0.write($1) }
    }

    public init(from reader: inout WireReader) throws(FrameError) {
        group = try reader.readString("groupOffsets.group")
        topic = try reader.readString("groupOffsets.topic")
        partitions = try reader.readArray("groupOffsets.partitions", elementBytesMin: 21) { r throws(FrameError) in
            try r.read()
        }
    }
}
