import NIOCore
import SkiffLog
import SkiffRaft

/// Why a peer frame carrying log blocks was refused. The message is dropped; Raft resends it.
struct PeerFrameError: Error, CustomStringConvertible {
    enum Kind {
        /// The frame's structure is wrong (lengths, counts, trailing bytes).
        case malformed(String)
        /// A block fails verification (checksum, header, payload): damaged in transit.
        case badBlock(BlockDecodeError)
        /// The blocks do not continue the message's previous index, or carry too many entries.
        case inconsistent(String)
        /// The Raft message inside the frame does not decode.
        case message(CodecError)
    }

    var kind: Kind
    init(_ kind: Kind) { self.kind = kind }

    var description: String {
        switch kind {
        case .malformed(let what): return "malformed block frame: \(what)"
        case .badBlock(let error): return "block rejected: \(error)"
        case .inconsistent(let what): return "block frame inconsistent with its message: \(what)"
        case .message(let error): return "\(error)"
        }
    }
}

/// Makes the compressed log block the unit of replication (docs/protocol.md, "Peer protocol").
///
/// - The leader encodes each Ready's new entries into blocks once (`blocks(persisting:)`): the same bytes go
///   to its own log and into the AppendEntries that carry exactly those entries. Catch-up messages carry
///   whole blocks read back from the log when their range is block-aligned, and plain entries otherwise.
/// - A follower verifies every block's CRC and header before the Raft core sees its entries, and keeps the
///   bytes, so that when a Ready persists exactly those entries they are written unchanged
///   (`SegmentedLog.appendBatch` with `.block` items): no second compression, no re-encoding.
///
/// Invariant: used only on the node's event loop. The blocks it hands to `PersistBatch` are immutable values.
final class BlockShipper {
    /// First byte of a frame that carries blocks. A plain frame starts with the Raft message version (1).
    static let blockFrameTag: UInt8 = 0x42
    /// Version of the block frame layout.
    static let blockFrameVersion: UInt8 = 1
    /// Bound on the blocks in one frame.
    static let blocksPerFrameMax = 4096
    /// Bound on one block's size in a frame: the largest block `BlockCodec` produces.
    static let blockBytesMax =
        BlockCodec.fixedHeaderBytes + BlockCodec.termRunCountMax * BlockCodec.termRunBytes
        + BlockCodec.uncompressedBytesMax
    /// Bounds on the recently encoded or received blocks kept for replication: count, and bytes held (the
    /// block's bytes plus its decoded payload).
    static let recentBlockCountMax = 512
    static let recentBytesMax = 64 << 20

    /// What the shipper did; read by tests and metrics.
    struct Counters: Equatable {
        /// Append messages sent as blocks, and the blocks they carried.
        var blockFramesSent = 0
        var blocksSent = 0
        /// Append messages with entries sent as plain entries (range not block-aligned).
        var entryFramesSent = 0
        /// Entries a block frame carried as plain entries around its blocks (a range not block-aligned).
        var plainEntriesInBlockFrames = 0
        /// Blocks encoded here (a leader's new entries, or entries that no received block covered).
        var blocksEncoded = 0
        /// Received blocks persisted unchanged.
        var receivedBlocksPersisted = 0
        /// Block frames refused (damaged or inconsistent).
        var framesRejected = 0
    }

    let log: SegmentedLog
    let compress: Bool
    /// The Raft core's bound on entry payload bytes per append (`RaftConfig.maxSizePerMsg`). New entries are
    /// cut into blocks by the same greedy rule the core uses to cut appends, so that an append to a follower
    /// in the replicate state carries whole blocks even when one Ready holds more than one append's worth.
    let messageBytesMax: Int
    private(set) var counters = Counters()
    /// Blocks by first index; a newer block with the same first index replaces the older one.
    private var recent: [LogIndex: RawBlock] = [:]
    /// First indexes in insertion order, for eviction.
    private var recentOrder: [LogIndex] = []
    private var recentBytes = 0

    init(log: SegmentedLog, messageBytesMax: Int, compress: Bool = true) {
        precondition(messageBytesMax > 0, "messageBytesMax \(messageBytesMax)")
        self.log = log
        self.messageBytesMax = messageBytesMax
        self.compress = compress
    }

    // MARK: Persisting

    /// The blocks to persist `entries` (one Ready's entries) with: every run of entries that a received (or
    /// earlier encoded) block holds exactly is that block, unchanged; the entries between such runs are
    /// encoded here and remembered, so that appends carrying the same entries ship the same bytes.
    func blocks(persisting entries: [Entry]) -> [RawBlock] {
        var result: [RawBlock] = []
        var position = 0
        var uncovered = 0
        while position < entries.count {
            guard let block = recentBlock(holding: entries[position...]) else {
                position += 1
                continue
            }
            if uncovered < position { result += encode(Array(entries[uncovered..<position])) }
            result.append(block)
            counters.receivedBlocksPersisted += 1
            position += Int(block.header.entryCount)
            uncovered = position
        }
        if uncovered < entries.count { result += encode(Array(entries[uncovered...])) }
        return result
    }

    /// The recent block that starts at `entries`' first index and holds exactly its first entries.
    private func recentBlock(holding entries: ArraySlice<Entry>) -> RawBlock? {
        guard let first = entries.first, let block = recent[first.index], let decoded = block.decodedEntries,
            decoded.count <= entries.count,
            entries.prefix(decoded.count).elementsEqual(decoded)
        else { return nil }
        return block
    }

    /// Encodes new entries, cut where the core cuts appends, and remembers the blocks.
    private func encode(_ entries: [Entry]) -> [RawBlock] {
        var encoded: [RawBlock] = []
        var start = 0
        while start < entries.count {
            let end = Self.messageEnd(entries, from: start, bytesMax: messageBytesMax)
            encoded += BlockCodec.encodeBlocks(Array(entries[start..<end]), compress: compress)
            start = end
        }
        counters.blocksEncoded += encoded.count
        for block in encoded { remember(block) }
        return encoded
    }

    /// Where the core would end an append of `entries` starting at `start`: entries are added while the payload
    /// total stays within `bytesMax`, and one entry is always taken (`RaftLog.entries`).
    static func messageEnd(_ entries: [Entry], from start: Int, bytesMax: Int) -> Int {
        var end = start
        var bytes = 0
        while end < entries.count {
            bytes += entries[end].data.count
            if end > start && bytes > bytesMax { break }
            end += 1
        }
        return end
    }

    private func remember(_ block: RawBlock) {
        let first = block.header.firstIndex
        if let old = recent.updateValue(block, forKey: first) {
            recentBytes -= Self.weight(of: old)
            recentOrder.removeAll { $0 == first }
        }
        recentOrder.append(first)
        recentBytes += Self.weight(of: block)
        while recentOrder.count > Self.recentBlockCountMax || recentBytes > Self.recentBytesMax {
            let evicted = recentOrder.removeFirst()
            if let old = recent.removeValue(forKey: evicted) { recentBytes -= Self.weight(of: old) }
        }
    }

    /// Memory a remembered block holds: its bytes and its decoded entries.
    private static func weight(of block: RawBlock) -> Int { block.bytes.count + Int(block.header.uncompressedBytes) }
}

// MARK: Sending

extension BlockShipper {
    /// How a block frame carries an append's entries: `leading` plain entries (the rest of a block the
    /// range starts inside), whole `blocks`, then plain entries from `trailingStart` (part of a block the
    /// range ends inside).
    struct FramePlan {
        var leading: Int
        var blocks: [RawBlock]
        var trailingStart: Int
    }

    /// Writes `message` as a peer frame payload: an append whose entries include whole blocks (recent, or
    /// read back from the log) goes as a block frame, anything else as the plain message encoding.
    func write(_ message: Message, into buffer: inout ByteBuffer) {
        guard message.kind == .append, !message.entries.isEmpty, let plan = plan(message.entries) else {
            if message.kind == .append && !message.entries.isEmpty { counters.entryFramesSent += 1 }
            buffer.writeBytes(message.encoded())
            return
        }
        var header = message
        header.entries = Array(message.entries[..<plan.leading] + message.entries[plan.trailingStart...])
        let encodedHeader = header.encoded()
        buffer.writeInteger(Self.blockFrameTag)
        buffer.writeInteger(Self.blockFrameVersion)
        buffer.writeInteger(UInt32(encodedHeader.count))
        buffer.writeBytes(encodedHeader)
        buffer.writeInteger(UInt32(plan.leading))
        buffer.writeInteger(UInt32(plan.blocks.count))
        for block in plan.blocks {
            buffer.writeInteger(UInt32(block.bytes.count))
            buffer.writeBytes(block.bytes)
        }
        counters.blockFramesSent += 1
        counters.blocksSent += plan.blocks.count
        counters.plainEntriesInBlockFrames += header.entries.count
    }

    /// Splits `entries` into plain leading entries, whole blocks and plain trailing entries; nil when no whole
    /// block fits (the message then goes plain).
    private func plan(_ entries: [Entry]) -> FramePlan? {
        var leading = 0
        if recent[entries[0].index] == nil, let holder = log.blockRange(containing: entries[0].index),
            holder.lowerBound < entries[0].index
        {
            leading = min(entries.count, Int(holder.upperBound.rawValue - entries[0].index.rawValue) + 1)
        }
        var blocks: [RawBlock] = []
        var position = leading
        while position < entries.count {
            let taken = wholeBlocks(entries, from: position)
            guard !taken.isEmpty else { break }
            blocks += taken
            position += taken.reduce(0) { $0 + Int($1.header.entryCount) }
        }
        guard !blocks.isEmpty, blocks.count <= Self.blocksPerFrameMax else { return nil }
        return FramePlan(leading: leading, blocks: blocks, trailingStart: position)
    }

    /// Whole blocks holding `entries` from `start` on, in order (recent ones first, else read from the log);
    /// stops before a block that is not wholly inside `entries`.
    private func wholeBlocks(_ entries: [Entry], from start: Int) -> [RawBlock] {
        let index = entries[start].index
        let candidates = recent[index].map { [$0] } ?? logBlocks(from: index, for: entries[start...])
        var result: [RawBlock] = []
        var position = start
        for block in candidates {
            let count = Int(block.header.entryCount)
            guard position < entries.count, block.header.firstIndex == entries[position].index,
                position + count <= entries.count, holds(block, entries[position..<(position + count)])
            else { break }
            result.append(block)
            position += count
        }
        return result
    }

    /// Whether `block` holds `entries`. A received or encoded block is compared entry by entry; a block read
    /// from this node's own log is compared by terms: the message's entries came from the same log, and two
    /// entries with the same index and term are the same entry (Log Matching, §5.3).
    private func holds(_ block: RawBlock, _ entries: ArraySlice<Entry>) -> Bool {
        if let decoded = block.decodedEntries { return entries.elementsEqual(decoded) }
        return entries.allSatisfy { block.header.term(at: $0.index) == $0.term }
    }

    /// Whole blocks from the log starting at `index`, about as many bytes as `entries` need. [] when the
    /// entries are not in the log yet, or the log cannot serve them.
    private func logBlocks(from index: LogIndex, for entries: ArraySlice<Entry>) -> [RawBlock] {
        let dataBytes = entries.reduce(0) { $0 + $1.data.count }
        let bound = dataBytes + entries.count * (BlockCodec.entryOverheadBytes + BlockCodec.termRunBytes)
        return (try? log.readBlocks(from: index, maxBytes: bound + BlockCodec.fixedHeaderBytes)) ?? []
    }
}

// MARK: Receiving

extension BlockShipper {
    /// Decodes a peer frame payload. A block frame's blocks are verified (CRC, header, contiguity with the
    /// message's previous index) and decoded into `entries`; their bytes are kept for `blocks(persisting:)`.
    /// Throws on any damage: the caller drops the message, and nothing of it is written.
    func decode(_ frame: ByteBuffer) throws -> Message {
        guard frame.getInteger(at: frame.readerIndex, as: UInt8.self) == Self.blockFrameTag else {
            do {
                return try Message(decoding: Array(buffer: frame))
            } catch {
                throw PeerFrameError(.message(error))
            }
        }
        do {
            let (message, blocks) = try Self.parseBlockFrame(frame)
            for block in blocks { remember(block) }
            return message
        } catch {
            counters.framesRejected += 1
            throw error
        }
    }

    /// Parses and verifies a block frame. Pure: remembers nothing.
    static func parseBlockFrame(_ frame: ByteBuffer) throws -> (Message, [RawBlock]) {
        var frame = frame
        guard frame.readInteger(as: UInt8.self) == blockFrameTag else { throw PeerFrameError(.malformed("tag")) }
        guard frame.readInteger(as: UInt8.self) == blockFrameVersion else {
            throw PeerFrameError(.malformed("unsupported version"))
        }
        guard let headerLength = frame.readInteger(as: UInt32.self),
            let headerBytes = frame.readBytes(length: Int(headerLength))
        else { throw PeerFrameError(.malformed("message cut")) }
        var message: Message
        do {
            message = try Message(decoding: headerBytes)
        } catch {
            throw PeerFrameError(.message(error))
        }
        guard message.kind == .append else { throw PeerFrameError(.inconsistent("a block frame carries an append")) }
        let plain = message.entries
        message.entries = []
        guard let leading = frame.readInteger(as: UInt32.self), leading <= plain.count else {
            throw PeerFrameError(.malformed("leading entry count"))
        }
        try appendPlain(plain[..<Int(leading)], to: &message)
        guard let count = frame.readInteger(as: UInt32.self), count >= 1, count <= blocksPerFrameMax else {
            throw PeerFrameError(.malformed("block count"))
        }
        var blocks: [RawBlock] = []
        blocks.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = frame.readInteger(as: UInt32.self), length <= blockBytesMax,
                let bytes = frame.readBytes(length: Int(length))
            else { throw PeerFrameError(.malformed("block cut or above \(blockBytesMax) bytes")) }
            let block: RawBlock
            do {
                block = try BlockCodec.decodeBlock(bytes)
            } catch let error as BlockDecodeError {
                throw PeerFrameError(.badBlock(error))
            }
            try append(block, to: &message)
            blocks.append(block)
        }
        guard frame.readableBytes == 0 else { throw PeerFrameError(.malformed("\(frame.readableBytes) trailing")) }
        try appendPlain(plain[Int(leading)...], to: &message)
        return (message, blocks)
    }

    /// Appends plain entries that MUST continue the message's entries.
    private static func appendPlain(_ entries: ArraySlice<Entry>, to message: inout Message) throws {
        for entry in entries {
            let expected = LogIndex(message.index.rawValue + UInt64(message.entries.count) + 1)
            guard entry.index == expected else {
                throw PeerFrameError(.inconsistent("plain entry \(entry.index) where \(expected) was expected"))
            }
            guard message.entries.count < CodecLimits.entriesPerMessageMax else {
                throw PeerFrameError(.inconsistent("more than \(CodecLimits.entriesPerMessageMax) entries"))
            }
            message.entries.append(entry)
        }
    }

    private static func append(_ block: RawBlock, to message: inout Message) throws {
        let expected = LogIndex(message.index.rawValue + UInt64(message.entries.count) + 1)
        guard block.header.firstIndex == expected else {
            throw PeerFrameError(.inconsistent("block starts at \(block.header.firstIndex), expected \(expected)"))
        }
        guard message.entries.count + Int(block.header.entryCount) <= CodecLimits.entriesPerMessageMax,
            let entries = block.decodedEntries
        else { throw PeerFrameError(.inconsistent("more than \(CodecLimits.entriesPerMessageMax) entries")) }
        message.entries += entries
    }
}
