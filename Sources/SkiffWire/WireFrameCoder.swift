import NIOCore

/// A NIO inbound decoder that turns bytes into `Frame`s.
///
/// An oversized length prefix fails as soon as the four length bytes arrive (nothing more is buffered);
/// a malformed header fails when the frame is complete. Either error is a `FrameError` fired through the
/// pipeline; the handler after this one answers with `Response.error(WireError(frameError))` and closes.
public struct WireFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Frame

    /// The largest frame (header + payload) accepted.
    public let frameBytesMax: Int

    /// Creates a decoder.
    public init(frameBytesMax: Int = WireProtocol.frameBytesMaxDefault) {
        precondition(frameBytesMax >= WireProtocol.headerBytes && frameBytesMax <= WireProtocol.frameBytesMaxLimit)
        self.frameBytesMax = frameBytesMax
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try WireFrameDecoder.decodeFrame(&buffer, frameBytesMax: frameBytesMax) else {
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw FrameError(.truncated(field: "frame (connection closed mid-frame)"))
        }
        return .needMoreData
    }

    /// Reads one frame from `buffer`, or returns nil (consuming nothing) when it is incomplete.
    public static func decodeFrame(_ buffer: inout ByteBuffer, frameBytesMax: Int) throws(FrameError) -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        try FrameDecoder.checkLength(Int(length), frameBytesMax: frameBytesMax)
        let total = WireProtocol.lengthPrefixBytes + Int(length)
        guard buffer.readableBytes >= total else { return nil }
        let headerStart = buffer.readerIndex + WireProtocol.lengthPrefixBytes
        let header = buffer.getBytes(at: headerStart, length: WireProtocol.headerBytes)!
        var reader = WireReader(header)
        let decoded = try FrameDecoder.decodeHeader(&reader)
        let payload = buffer.getBytes(
            at: headerStart + WireProtocol.headerBytes, length: Int(length) - WireProtocol.headerBytes)!
        buffer.moveReaderIndex(forwardBy: total)
        return Frame(kind: decoded.kind, opcode: decoded.opcode, requestID: decoded.requestID, payload: payload)
    }
}

/// A NIO outbound encoder that writes `Frame`s.
public struct WireFrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Frame

    /// Creates an encoder.
    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        data.write(to: &out)
    }
}

extension Frame {
    /// Appends the frame's wire form (length prefix, header, payload) to `buffer`, exactly as `WireFrameEncoder`
    /// writes it. Lets a sender encode a burst of frames into one buffer and hand the socket one write.
    public func write(to buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: encodedBytes)
        buffer.writeInteger(UInt32(WireProtocol.headerBytes + payload.count))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(opcode)
        buffer.writeInteger(requestID.rawValue)
        buffer.writeBytes(payload)
    }
}
