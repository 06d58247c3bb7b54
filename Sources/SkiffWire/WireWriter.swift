/// Appends big-endian primitives to a byte array. Used by every message encoder.
public struct WireWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends one byte.
    public mutating func write(_ value: UInt8) { bytes.append(value) }

    /// Appends a big-endian `UInt16`.
    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian `UInt32`.
    public mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    /// Appends a big-endian `UInt64`.
    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    /// Appends a boolean as one byte, 0 or 1.
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends an identifier as its big-endian `UInt64`.
    public mutating func write<ID: WireIdentifier>(_ value: ID) { write(value.rawValue) }

    /// Appends a `UInt32` length then the UTF-8 bytes. Strings longer than `WireProtocol.stringBytesMax`
    /// are a caller bug: the receiver would reject them.
    public mutating func write(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= WireProtocol.stringBytesMax, "string of \(utf8.count) bytes is too long")
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends a `UInt32` length then the bytes.
    public mutating func writeBytes(_ value: [UInt8]) {
        precondition(value.count <= WireProtocol.frameBytesMaxLimit, "byte field of \(value.count) is too long")
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// Appends a presence byte (0 or 1) then, if present, the value.
    public mutating func writeOptional<T>(_ value: T?, _ body: (inout WireWriter, T) -> Void) {
        guard let value else {
            write(false)
            return
        }
        write(true)
        body(&self, value)
    }

    /// Appends a `UInt32` count then each element.
    public mutating func writeArray<T>(_ values: [T], _ body: (inout WireWriter, T) -> Void) {
        write(UInt32(values.count))
        for value in values { body(&self, value) }
    }

    /// Appends a string map as a `UInt32` count then key/value string pairs sorted by key, so equal maps
    /// encode to equal bytes.
    public mutating func write(_ map: [String: String]) {
        write(UInt32(map.count))
        if map.isEmpty { return }
        for key in map.keys.sorted() {
            write(key)
            write(map[key]!)
        }
    }

    /// Appends a value that knows how to encode itself.
    public mutating func write<T: WireCodable>(_ value: T) { value.encode(to: &self) }
}
