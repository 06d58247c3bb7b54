import NIOCore

/// Splits a byte stream into frames of `[UInt32 big-endian length][payload]` for the peer link.
///
/// A length above `frameBytesMax` is an error (the connection is closed by the error handler); a peer that is
/// alive but sends garbage must not make the node allocate gigabytes.
struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// The peer link's frame was larger than allowed.
    struct FrameTooLarge: Error, CustomStringConvertible {
        var length: Int
        var limit: Int
        var description: String { "peer frame of \(length) bytes exceeds the limit of \(limit) bytes" }
    }

    let frameBytesMax: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= frameBytesMax else { throw FrameTooLarge(length: Int(length), limit: frameBytesMax) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

extension ByteBuffer {
    /// Appends a length-prefixed frame whose payload is written by `body`.
    @inlinable
    mutating func writeLengthPrefixedFrame(_ body: (inout ByteBuffer) -> Void) {
        let lengthAt = writerIndex
        writeInteger(UInt32(0))
        let start = writerIndex
        body(&self)
        setInteger(UInt32(writerIndex - start), at: lengthAt)
    }
}
