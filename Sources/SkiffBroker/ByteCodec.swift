/// Little binary writer/reader for commands and checkpoint blobs: LEB128 varints, zigzag signed integers,
/// length-prefixed strings and byte arrays. The reader never traps: every read is bounds-checked and every
/// length is capped by both a named limit and the bytes that remain.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func int(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func count(_ value: Int) { varint(UInt64(value)) }

    mutating func blob(_ value: [UInt8]) {
        count(value.count)
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { utf8 in
            count(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    mutating func optionalInt(_ value: Int64?) {
        bool(value != nil)
        if let value { int(value) }
    }

    mutating func optionalVarint(_ value: UInt64?) {
        bool(value != nil)
        if let value { varint(value) }
    }

    mutating func optionalBlob(_ value: [UInt8]?) {
        bool(value != nil)
        if let value { blob(value) }
    }

    mutating func headers(_ value: [Header]) {
        count(value.count)
        for header in value {
            string(header.name)
            string(header.value)
        }
    }
}

struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes[...])
    }

    /// Reads a slice in place; positions in error messages count from the slice's start.
    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    var isAtEnd: Bool { position == bytes.endIndex }
    var remaining: Int { bytes.endIndex - position }
    /// The read position from the start of the input, for error messages.
    private var offset: Int { position - bytes.startIndex }

    static func malformed(_ what: String) -> BrokerError { BrokerError(.malformedCommand, what) }

    mutating func u8() throws(BrokerError) -> UInt8 {
        guard position < bytes.endIndex else { throw Self.malformed("truncated at byte \(offset)") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func bool() throws(BrokerError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw Self.malformed("bad boolean \(other) at byte \(offset - 1)")
        }
    }

    mutating func varint() throws(BrokerError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift == 63 && byte > 1 { throw Self.malformed("varint overflow at byte \(offset - 1)") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw Self.malformed("varint too long at byte \(offset - 1)") }
        }
    }

    mutating func int() throws(BrokerError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func u32() throws(BrokerError) -> UInt32 {
        let raw = try varint()
        guard let value = UInt32(exactly: raw) else { throw Self.malformed("value \(raw) exceeds 32 bits") }
        return value
    }

    mutating func u16() throws(BrokerError) -> UInt16 {
        let raw = try varint()
        guard let value = UInt16(exactly: raw) else { throw Self.malformed("value \(raw) exceeds 16 bits") }
        return value
    }

    /// A count of following elements: at most `max`, and at most the bytes left (each element takes >= 1 byte).
    mutating func count(max: Int) throws(BrokerError) -> Int {
        let raw = try varint()
        guard raw <= UInt64(max), raw <= UInt64(remaining) else {
            throw Self.malformed("count \(raw) exceeds limit \(max) or remaining \(remaining) bytes")
        }
        return Int(raw)
    }

    mutating func blob(max: Int) throws(BrokerError) -> [UInt8] {
        let length = try count(max: max)
        defer { position += length }
        return Array(bytes[position..<position + length])
    }

    mutating func string(max: Int) throws(BrokerError) -> String {
        let length = try count(max: max)
        defer { position += length }
        let raw = bytes[position..<position + length]
        // ASCII is valid UTF-8, and names almost always are: skip the generic validator for them.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw Self.malformed("invalid UTF-8 string before byte \(offset + length)")
        }
        return text
    }

    mutating func optionalString(max: Int) throws(BrokerError) -> String? {
        try bool() ? try string(max: max) : nil
    }

    mutating func optionalInt() throws(BrokerError) -> Int64? { try bool() ? try int() : nil }

    mutating func optionalVarint() throws(BrokerError) -> UInt64? { try bool() ? try varint() : nil }

    mutating func optionalBlob(max: Int) throws(BrokerError) -> [UInt8]? { try bool() ? try blob(max: max) : nil }

    mutating func headers() throws(BrokerError) -> [Header] {
        let count = try count(max: BrokerLimits.headerCountMax)
        var result: [Header] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            let name = try string(max: BrokerLimits.headerNameBytesMax)
            let value = try string(max: BrokerLimits.headerValueBytesMax)
            result.append(Header(name, value))
        }
        return result
    }

    func expectEnd() throws(BrokerError) {
        guard isAtEnd else { throw Self.malformed("\(remaining) trailing bytes") }
    }
}

/// FNV-1a 64-bit hash: offset basis 0xcbf29ce484222325, prime 0x100000001b3, over the bytes in order.
/// It is the documented, stable partitioner for keyed records and the state-hash function.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func combine(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
    }

    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hasher = FNV1a64()
        hasher.combine(bytes)
        return hasher.value
    }
}
