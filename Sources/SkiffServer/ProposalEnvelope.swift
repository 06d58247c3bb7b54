import SkiffRaft

/// The shell's framing of a normal Raft entry: who proposed it, which local proposal it answers, the leader's
/// clock, and the body (a broker command, or a membership address record the shell applies itself).
///
/// Layout (big-endian): `u8 version` · `u8 kind` · `u64 proposer` · `u64 proposal id` · `i64 time ms` · body.
/// Body of `.broker`: the broker command's own encoding, to the end of the entry.
/// Body of `.address`: `u64 node` · `u16 len` peer address · `u16 len` client address (UTF-8).
///
/// The proposal id lets the proposer find the waiting clients when the entry is applied; other nodes ignore it.
/// The time is the single clock every replica uses for this entry (DESIGN.md, "Determinism").
struct ProposalEnvelope: Hashable, Sendable {
    static let version: UInt8 = 1
    static let headerBytes = 26
    static let addressBytesMax = 1024

    enum Kind: UInt8, Sendable {
        case broker = 1
        case address = 2
    }

    /// A decode failure: a corrupt or foreign entry. Committed entries are CRC-checked by the log, so this
    /// signals a bug or a version mismatch and the node stops applying rather than guess.
    struct DecodeError: Error, Hashable, CustomStringConvertible {
        var reason: String
        var description: String { "proposal envelope: \(reason)" }
    }

    var kind: Kind
    var proposer: NodeID
    var proposalID: UInt64
    var timeMs: Int64
    /// The broker command bytes (`.broker`) or the encoded address record (`.address`).
    var body: ArraySlice<UInt8>

    /// Encodes a header followed by a body written in place (no intermediate copy of the command).
    static func encode(
        kind: Kind, proposer: NodeID, proposalID: UInt64, timeMs: Int64, bodyCapacity: Int,
        body: (inout [UInt8]) -> Void
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerBytes + bodyCapacity)
        bytes.append(version)
        bytes.append(kind.rawValue)
        appendBigEndian(proposer.rawValue, to: &bytes)
        appendBigEndian(proposalID, to: &bytes)
        appendBigEndian(UInt64(bitPattern: timeMs), to: &bytes)
        body(&bytes)
        return bytes
    }

    init(kind: Kind, proposer: NodeID, proposalID: UInt64, timeMs: Int64, body: ArraySlice<UInt8>) {
        self.kind = kind
        self.proposer = proposer
        self.proposalID = proposalID
        self.timeMs = timeMs
        self.body = body
    }

    init(decoding data: [UInt8]) throws(DecodeError) {
        guard data.count >= Self.headerBytes else { throw DecodeError(reason: "\(data.count) bytes, short header") }
        guard data[0] == Self.version else { throw DecodeError(reason: "unknown version \(data[0])") }
        guard let kind = Kind(rawValue: data[1]) else { throw DecodeError(reason: "unknown kind \(data[1])") }
        self.kind = kind
        self.proposer = NodeID(readBigEndian(data, at: 2))
        self.proposalID = readBigEndian(data, at: 10)
        self.timeMs = Int64(bitPattern: readBigEndian(data, at: 18))
        self.body = data[Self.headerBytes...]
    }
}

/// A membership address record: where a node listens for peers and for clients. Replicated through the log so
/// every member can dial a node added at run time, and hand out its client address in NOT_LEADER hints.
struct AddressRecord: Hashable, Sendable {
    var node: NodeID
    var peerAddress: String
    var clientAddress: String

    func encode(into bytes: inout [UInt8]) {
        appendBigEndian(node.rawValue, to: &bytes)
        for text in [peerAddress, clientAddress] {
            let utf8 = Array(text.utf8.prefix(ProposalEnvelope.addressBytesMax))
            bytes.append(UInt8(utf8.count >> 8))
            bytes.append(UInt8(utf8.count & 0xFF))
            bytes.append(contentsOf: utf8)
        }
    }

    init(node: NodeID, peerAddress: String, clientAddress: String) {
        self.node = node
        self.peerAddress = peerAddress
        self.clientAddress = clientAddress
    }

    init(decoding body: ArraySlice<UInt8>) throws(ProposalEnvelope.DecodeError) {
        let bytes = Array(body)
        guard bytes.count >= 12 else { throw .init(reason: "address record too short") }
        node = NodeID(readBigEndian(bytes, at: 0))
        var position = 8
        var texts: [String] = []
        for _ in 0..<2 {
            guard position + 2 <= bytes.count else { throw .init(reason: "address record truncated") }
            let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            position += 2
            guard length <= ProposalEnvelope.addressBytesMax, position + length <= bytes.count else {
                throw .init(reason: "address record length \(length) out of bounds")
            }
            texts.append(String(decoding: bytes[position..<position + length], as: UTF8.self))
            position += length
        }
        guard position == bytes.count else { throw .init(reason: "address record has trailing bytes") }
        peerAddress = texts[0]
        clientAddress = texts[1]
    }
}

@inline(__always)
func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 56, through: 0, by: -8) {
        bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
}

@inline(__always)
func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
    return value
}
