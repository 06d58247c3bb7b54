/// Reads big-endian primitives from a byte slice, throwing `FrameError` instead of trapping on any input.
public struct WireReader: Sendable {
    private let bytes: [UInt8]
    /// The index of the next unread byte.
    public private(set) var position: Int
    private let end: Int

    /// Creates a reader over `bytes[range]` (the whole array by default).
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        let range = range ?? 0..<bytes.count
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "reader range out of bounds")
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// Bytes not yet read.
    public var remaining: Int { end - position }

    private mutating func take(_ count: Int, _ field: String) throws(FrameError) -> Int {
        guard count >= 0, remaining >= count else { throw FrameError(.truncated(field: field)) }
        let start = position
        position += count
        return start
    }

    /// Reads one byte.
    public mutating func readUInt8(_ field: String) throws(FrameError) -> UInt8 {
        bytes[try take(1, field)]
    }

    /// Reads a big-endian `UInt16`.
    public mutating func readUInt16(_ field: String) throws(FrameError) -> UInt16 {
        let start = try take(2, field)
        return UInt16(bytes[start]) << 8 | UInt16(bytes[start + 1])
    }

    /// Reads a big-endian `UInt32`.
    public mutating func readUInt32(_ field: String) throws(FrameError) -> UInt32 {
        let start = try take(4, field)
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[start + i]) }
        return value
    }

    /// Reads a big-endian `UInt64`.
    public mutating func readUInt64(_ field: String) throws(FrameError) -> UInt64 {
        let start = try take(8, field)
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[start + i]) }
        return value
    }

    /// Reads a boolean byte; anything but 0 or 1 is invalid.
    public mutating func readBool(_ field: String) throws(FrameError) -> Bool {
        switch try readUInt8(field) {
        case 0: return false
        case 1: return true
        default: throw FrameError(.invalidValue(field: field))
        }
    }

    /// Reads an identifier.
    public mutating func readID<ID: WireIdentifier>(_ field: String) throws(FrameError) -> ID {
        ID(rawValue: try readUInt64(field))
    }

    /// Reads a length-prefixed UTF-8 string of at most `WireProtocol.stringBytesMax` bytes.
    public mutating func readString(_ field: String) throws(FrameError) -> String {
        let count = Int(try readUInt32(field))
        guard count <= WireProtocol.stringBytesMax else { throw FrameError(.invalidString(field: field)) }
        let start = try take(count, field)
        let raw = bytes[start..<start + count]
        // ASCII is valid UTF-8, and names almost always are: skip the generic validator for them.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw FrameError(.invalidString(field: field))
        }
        return string
    }

    /// Reads length-prefixed bytes.
    public mutating func readBytes(_ field: String) throws(FrameError) -> [UInt8] {
        let count = Int(try readUInt32(field))
        let start = try take(count, field)
        return Array(bytes[start..<start + count])
    }

    /// Reads a presence byte and, if set, the value.
    public mutating func readOptional<T>(
        _ field: String, _ body: (inout WireReader) throws(FrameError) -> T
    ) throws(FrameError) -> T? {
        guard try readBool(field) else { return nil }
        return try body(&self)
    }

    /// Reads a count then that many elements. Every element takes at least `elementBytesMin` bytes, so a
    /// hostile count cannot make the reader allocate more than the frame holds.
    public mutating func readArray<T>(
        _ field: String, elementBytesMin: Int = 1, _ body: (inout WireReader) throws(FrameError) -> T
    ) throws(FrameError) -> [T] {
        let count = Int(try readUInt32(field))
        guard count <= remaining / max(elementBytesMin, 1) else { throw FrameError(.truncated(field: field)) }
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try body(&self)) }
        return values
    }

    /// Reads a string map; duplicate keys are invalid.
    public mutating func readMap(_ field: String) throws(FrameError) -> [String: String] {
        let count = Int(try readUInt32(field))
        // Most messages carry no headers: no storage to reserve then.
        if count == 0 { return [:] }
        guard count <= remaining / 8 else { throw FrameError(.truncated(field: field)) }
        var map: [String: String] = [:]
        map.reserveCapacity(count)
        for _ in 0..<count {
            let key = try readString(field)
            let value = try readString(field)
            guard map.updateValue(value, forKey: key) == nil else { throw FrameError(.invalidValue(field: field)) }
        }
        return map
    }

    /// Reads a value that knows how to decode itself.
    public mutating func read<T: WireCodable>(_ type: T.Type = T.self) throws(FrameError) -> T {
        try T(from: &self)
    }

    /// Reads a one-byte enum tag.
    public mutating func readEnum<E: RawRepresentable>(_ field: String) throws(FrameError) -> E
    where E.RawValue == UInt8 {
        guard let value = E(rawValue: try readUInt8(field)) else { throw FrameError(.invalidValue(field: field)) }
        return value
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(FrameError) {
        guard remaining == 0 else { throw FrameError(.trailingBytes(count: remaining)) }
    }
}

/// A value with a fixed binary layout documented in `docs/protocol.md`.
public protocol WireCodable: Sendable {
    /// Appends this value's bytes.
    func encode(to writer: inout WireWriter)
    /// Reads a value, throwing on any malformed input.
    init(from reader: inout WireReader) throws(FrameError)
}
