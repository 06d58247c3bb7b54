/// The binary encoding of `Message` and the values it carries. Pure byte encoding, little-endian, versioned.
///
/// Layout: `version u8, kind u8, from u64, to u64, term u64, logTerm u64, index u64, commit u64,
/// rejectHint u64, flags u8, context blob, entries (count u32, each: term u64, index u64, kind u8, data blob),
/// snapshot (present u8, then metadata), snapshotOffset u64, snapshotData blob`.
public enum CodecLimits {
    /// The encoding version written first in every `Message`.
    public static let messageVersion: UInt8 = 1
    /// At most this many entries in one message.
    public static let entriesPerMessageMax = 1 << 20
    /// At most this many payload bytes in one entry.
    public static let entryBytesMax = 64 << 20
    /// At most this many bytes of ReadIndex context.
    public static let contextBytesMax = 64 << 10
    /// At most this many bytes in one snapshot chunk.
    public static let snapshotChunkBytesMax = 64 << 20
    /// At most this many members in a configuration.
    public static let membersMax = 1024
}

private enum MessageFlag {
    static let reject: UInt8 = 1
    static let forceVote: UInt8 = 2
    static let snapshotDone: UInt8 = 4
    static let all: UInt8 = 7
}

extension Message {
    /// The message as bytes, for the peer connection.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 80 + entriesBytes + entries.count * 21 + snapshotData.count)
        writer.u8(CodecLimits.messageVersion)
        writer.u8(kind.rawValue)
        for value in [from.rawValue, to.rawValue, term.rawValue, logTerm.rawValue, index.rawValue] {
            writer.u64(value)
        }
        writer.u64(commit.rawValue)
        writer.u64(rejectHint.rawValue)
        var flags: UInt8 = 0
        if reject { flags |= MessageFlag.reject }
        if forceVote { flags |= MessageFlag.forceVote }
        if snapshotDone { flags |= MessageFlag.snapshotDone }
        writer.u8(flags)
        writer.blob(context)
        writer.u32(UInt32(entries.count))
        for entry in entries { entry.encode(into: &writer) }
        if let snapshot {
            writer.u8(1)
            snapshot.encode(into: &writer)
        } else {
            writer.u8(0)
        }
        writer.u64(snapshotOffset)
        writer.blob(snapshotData)
        return writer.bytes
    }

    /// Decodes what `encoded()` produced. Throws on any malformed, truncated or oversized input; never traps.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes, context: "Message")
        guard try reader.u8() == CodecLimits.messageVersion else { throw CodecError(.unsupportedVersion, "Message") }
        guard let kind = Kind(rawValue: try reader.u8()) else { throw CodecError(.invalidTag, "Message.kind") }
        let from = NodeID(try reader.u64())
        let to = NodeID(try reader.u64())
        self.init(kind: kind, from: from, to: to, term: Term(try reader.u64()))
        logTerm = Term(try reader.u64())
        index = LogIndex(try reader.u64())
        commit = LogIndex(try reader.u64())
        rejectHint = LogIndex(try reader.u64())
        let flags = try reader.u8()
        guard flags & ~MessageFlag.all == 0 else { throw CodecError(.invalidTag, "Message.flags") }
        reject = flags & MessageFlag.reject != 0
        forceVote = flags & MessageFlag.forceVote != 0
        snapshotDone = flags & MessageFlag.snapshotDone != 0
        context = try reader.blob(maxBytes: CodecLimits.contextBytesMax)
        let count = try reader.count(maxCount: CodecLimits.entriesPerMessageMax, minItemBytes: 21)
        entries.reserveCapacity(count)
        for _ in 0..<count { entries.append(try Entry(from: &reader)) }
        switch try reader.u8() {
        case 0: snapshot = nil
        case 1: snapshot = try SnapshotMetadata(from: &reader)
        default: throw CodecError(.invalidTag, "Message.snapshot")
        }
        snapshotOffset = try reader.u64()
        snapshotData = try reader.blob(maxBytes: CodecLimits.snapshotChunkBytesMax)
        try reader.finish()
        if kind == .snapshot && snapshot == nil { throw CodecError(.inconsistent, "Message.snapshot missing") }
    }
}

extension Entry {
    func encode(into writer: inout ByteWriter) {
        writer.u64(term.rawValue)
        writer.u64(index.rawValue)
        writer.u8(kind.rawValue)
        writer.blob(data)
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        let term = Term(try reader.u64())
        let index = LogIndex(try reader.u64())
        guard let kind = EntryKind(rawValue: try reader.u8()) else { throw CodecError(.invalidTag, "Entry.kind") }
        self.init(term: term, index: index, kind: kind, data: try reader.blob(maxBytes: CodecLimits.entryBytesMax))
    }
}

extension ConfState {
    /// The membership as bytes (for the shell's hard-state record).
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }

    /// Decodes what `encoded()` produced.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes, context: "ConfState")
        try self.init(from: &reader)
        try reader.finish()
    }

    func encode(into writer: inout ByteWriter) {
        writer.u32(UInt32(voters.count))
        for id in voters { writer.u64(id.rawValue) }
        writer.u32(UInt32(learners.count))
        for id in learners { writer.u64(id.rawValue) }
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        var voters: [NodeID] = []
        for _ in 0..<(try reader.count(maxCount: CodecLimits.membersMax, minItemBytes: 8)) {
            voters.append(NodeID(try reader.u64()))
        }
        var learners: [NodeID] = []
        for _ in 0..<(try reader.count(maxCount: CodecLimits.membersMax, minItemBytes: 8)) {
            learners.append(NodeID(try reader.u64()))
        }
        let all = voters + learners
        guard Set(all).count == all.count, !all.contains(.none) else {
            throw CodecError(.inconsistent, "ConfState members")
        }
        self.init(voters: voters, learners: learners)
    }
}

extension ConfChange {
    /// The change as bytes: the payload of an `EntryKind.configChange` entry.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 9)
        writer.u8(kind.rawValue)
        writer.u64(node.rawValue)
        return writer.bytes
    }

    /// Decodes what `encoded()` produced.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes, context: "ConfChange")
        guard let kind = Kind(rawValue: try reader.u8()) else { throw CodecError(.invalidTag, "ConfChange.kind") }
        let node = NodeID(try reader.u64())
        try reader.finish()
        guard node != .none else { throw CodecError(.inconsistent, "ConfChange.node") }
        self.init(kind, node)
    }
}

extension SnapshotMetadata {
    /// The metadata as bytes (for the shell's snapshot header).
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }

    /// Decodes what `encoded()` produced.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes, context: "SnapshotMetadata")
        try self.init(from: &reader)
        try reader.finish()
    }

    func encode(into writer: inout ByteWriter) {
        writer.u64(index.rawValue)
        writer.u64(term.rawValue)
        confState.encode(into: &writer)
    }

    init(from reader: inout ByteReader) throws(CodecError) {
        let index = LogIndex(try reader.u64())
        let term = Term(try reader.u64())
        self.init(index: index, term: term, confState: try ConfState(from: &reader))
    }
}

extension HardState {
    /// The hard state as 24 bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 24)
        writer.u64(term.rawValue)
        writer.u64(vote.rawValue)
        writer.u64(commit.rawValue)
        return writer.bytes
    }

    /// Decodes what `encoded()` produced.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes, context: "HardState")
        let term = Term(try reader.u64())
        let vote = NodeID(try reader.u64())
        let commit = LogIndex(try reader.u64())
        try reader.finish()
        self.init(term: term, vote: vote, commit: commit)
    }
}
