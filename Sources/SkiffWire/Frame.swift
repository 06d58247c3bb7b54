/// What a frame carries, from the frame header's kind byte.
public enum FrameKind: UInt8, Sendable, Hashable, CaseIterable {
    /// Client to server: a request the server answers with exactly one response with the same request id.
    case request = 1
    /// Server to client: the answer to the request with the same request id.
    case response = 2
    /// Server to client, unsolicited (request id 0): deliveries, checkbacks, subscription ends.
    case push = 3
    /// Reserved for node-to-node traffic on the peer listener; opcodes are defined by SkiffServer.
    case peer = 4
}

/// One unit of the Skiff protocol: a header and an opaque payload. See `docs/protocol.md`.
///
/// Layout: `u32 length` (bytes after this field) · `u8 kind` · `u8 flags` (0) · `u16 opcode` ·
/// `u64 request id` · payload.
public struct Frame: Hashable, Sendable {
    /// The frame's kind.
    public var kind: FrameKind
    /// The message type within the kind (see `Opcode`).
    public var opcode: UInt16
    /// Correlates requests and responses; `.none` on pushes.
    public var requestID: RequestID
    /// The encoded message.
    public var payload: [UInt8]

    /// Creates a frame.
    public init(kind: FrameKind, opcode: UInt16, requestID: RequestID, payload: [UInt8]) {
        self.kind = kind
        self.opcode = opcode
        self.requestID = requestID
        self.payload = payload
    }

    /// The bytes this frame occupies on the wire, length prefix included.
    public var encodedBytes: Int { WireProtocol.lengthPrefixBytes + WireProtocol.headerBytes + payload.count }

    /// Appends the frame's wire form to `bytes`.
    public func encode(into bytes: inout [UInt8]) {
        var writer = WireWriter(capacity: encodedBytes)
        writer.write(UInt32(WireProtocol.headerBytes + payload.count))
        writer.write(kind.rawValue)
        writer.write(UInt8(0))
        writer.write(opcode)
        writer.write(requestID)
        bytes.append(contentsOf: writer.bytes)
        bytes.append(contentsOf: payload)
    }

    /// The frame's wire form.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedBytes)
        encode(into: &bytes)
        return bytes
    }
}

/// The pure, NIO-free frame decoder. `WireFrameDecoder` wraps it for NIO pipelines.
public enum FrameDecoder {
    /// Decodes the first frame in `bytes[start...]`.
    ///
    /// - Returns: the frame and the number of bytes it occupied, or `nil` when more bytes are needed.
    /// - Throws: `FrameError` when the bytes can never form a valid frame (oversized or malformed header).
    ///   The receiver MUST then answer with an error frame and close the connection.
    public static func decode(
        _ bytes: [UInt8], from start: Int = 0, frameBytesMax: Int = WireProtocol.frameBytesMaxDefault
    ) throws(FrameError) -> (frame: Frame, consumed: Int)? {
        precondition(start >= 0 && start <= bytes.count, "decode start \(start) outside 0...\(bytes.count)")
        let available = bytes.count - start
        guard available >= WireProtocol.lengthPrefixBytes else { return nil }
        var reader = WireReader(bytes, range: start..<bytes.count)
        let length = Int(try reader.readUInt32("frame.length"))
        try checkLength(length, frameBytesMax: frameBytesMax)
        guard available >= WireProtocol.lengthPrefixBytes + length else { return nil }
        let header = try decodeHeader(&reader)
        let payloadStart = start + WireProtocol.lengthPrefixBytes + WireProtocol.headerBytes
        let payloadEnd = start + WireProtocol.lengthPrefixBytes + length
        let frame = Frame(
            kind: header.kind, opcode: header.opcode, requestID: header.requestID,
            payload: Array(bytes[payloadStart..<payloadEnd]))
        return (frame, WireProtocol.lengthPrefixBytes + length)
    }

    /// Validates a length prefix before any payload is buffered, so an oversized frame is refused at once.
    public static func checkLength(_ length: Int, frameBytesMax: Int) throws(FrameError) {
        guard length <= frameBytesMax else {
            throw FrameError(.frameTooLarge(announcedBytes: length, frameBytesMax: frameBytesMax))
        }
        guard length >= WireProtocol.headerBytes else { throw FrameError(.frameTooShort(announcedBytes: length)) }
    }

    /// Reads and validates the 12 header bytes that follow the length prefix.
    public static func decodeHeader(
        _ reader: inout WireReader
    ) throws(FrameError) -> (kind: FrameKind, opcode: UInt16, requestID: RequestID) {
        let kindByte = try reader.readUInt8("frame.kind")
        guard let kind = FrameKind(rawValue: kindByte) else { throw FrameError(.unknownKind(kindByte)) }
        let flags = try reader.readUInt8("frame.flags")
        guard flags == 0 else { throw FrameError(.unknownFlags(flags)) }
        let opcode = try reader.readUInt16("frame.opcode")
        let requestID: RequestID = try reader.readID("frame.requestID")
        return (kind, opcode, requestID)
    }
}
