/// Little-endian byte encoding shared by every SkiffRaft codec (messages, membership, snapshot metadata).
///
/// Decoding never traps: every length is checked against the remaining input and against a named bound
/// before anything is allocated, and every failure is a typed `CodecError`.

/// Why a byte sequence could not be decoded.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The input ended before the value was complete.
        case truncated
        /// A version byte the decoder does not understand.
        case unsupportedVersion
        /// An enum tag with no meaning.
        case invalidTag
        /// A length or count above its bound.
        case limitExceeded
        /// Bytes left over after the value.
        case trailingBytes
        /// Fields that cannot occur together.
        case inconsistent
    }

    /// What went wrong.
    public var kind: Kind
    /// What was being decoded, for the log line.
    public var context: String

    public init(_ kind: Kind, _ context: String) {
        self.kind = kind
        self.context = context
    }

    public var description: String { "CodecError.\(kind) decoding \(context)" }
}

/// Appends little-endian integers and length-prefixed byte strings.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads what `ByteWriter` wrote, checking every bound.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var position: Int = 0
    let context: String

    init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.context = context
    }

    var remaining: Int { bytes.count - position }

    mutating func u8() throws(CodecError) -> UInt8 {
        guard remaining >= 1 else { throw CodecError(.truncated, context) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() throws(CodecError) -> UInt32 {
        guard remaining >= 4 else { throw CodecError(.truncated, context) }
        var value: UInt32 = 0
        for shift in 0..<4 { value |= UInt32(bytes[position + shift]) << (8 * UInt32(shift)) }
        position += 4
        return value
    }

    mutating func u64() throws(CodecError) -> UInt64 {
        guard remaining >= 8 else { throw CodecError(.truncated, context) }
        var value: UInt64 = 0
        for shift in 0..<8 { value |= UInt64(bytes[position + shift]) << (8 * UInt64(shift)) }
        position += 8
        return value
    }

    mutating func bool() throws(CodecError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        default: throw CodecError(.invalidTag, context)
        }
    }

    /// A length-prefixed byte string of at most `maxBytes` bytes.
    mutating func blob(maxBytes: Int) throws(CodecError) -> [UInt8] {
        let count = Int(try u32())
        guard count <= maxBytes else { throw CodecError(.limitExceeded, context) }
        guard remaining >= count else { throw CodecError(.truncated, context) }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    /// A count of items, each at least `minItemBytes` long, bounded by `maxCount` and by the input left.
    mutating func count(maxCount: Int, minItemBytes: Int) throws(CodecError) -> Int {
        let count = Int(try u32())
        guard count <= maxCount else { throw CodecError(.limitExceeded, context) }
        guard count * minItemBytes <= remaining else { throw CodecError(.truncated, context) }
        return count
    }

    func finish() throws(CodecError) {
        guard remaining == 0 else { throw CodecError(.trailingBytes, context) }
    }
}
