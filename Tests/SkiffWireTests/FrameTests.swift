import NIOCore
import Testing

@testable import SkiffWire

@Suite struct FrameTests {
    /// A frame encodes to the documented header layout and decodes back to itself.
    @Test func headerLayoutAndRoundTrip() throws {
        let frame = Frame(kind: .request, opcode: 30, requestID: RequestID(0x0102_0304_0506_0708), payload: [9, 8, 7])
        let bytes = frame.encoded()
        #expect(bytes == [0, 0, 0, 15, 1, 0, 0, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7])
        let decoded = try FrameDecoder.decode(bytes)
        #expect(decoded?.frame == frame)
        #expect(decoded?.consumed == bytes.count)
    }

    /// Every strict prefix of a frame asks for more bytes instead of failing or decoding.
    @Test func prefixesNeedMoreData() throws {
        let bytes = Request.ping.frame(id: RequestID(7)).encoded()
        for cut in 0..<bytes.count {
            #expect(try FrameDecoder.decode(Array(bytes[0..<cut])) == nil)
        }
    }

    /// An oversized length prefix is refused from its four bytes alone, and a too-short one is malformed.
    @Test func lengthBounds() {
        #expect(throws: FrameError(.frameTooLarge(announcedBytes: 1025, frameBytesMax: 1024))) {
            try FrameDecoder.decode([0, 0, 4, 1], frameBytesMax: 1024)
        }
        #expect(throws: FrameError(.frameTooShort(announcedBytes: 11))) {
            try FrameDecoder.decode([0, 0, 0, 11])
        }
        #expect(FrameError(.frameTooLarge(announcedBytes: 2, frameBytesMax: 1)).code == .frameTooLarge)
    }

    /// Unknown kinds, flags and opcodes are typed errors.
    @Test func unknownHeaderFields() throws {
        var bytes = Request.ping.frame(id: RequestID(1)).encoded()
        bytes[4] = 9
        #expect(throws: FrameError(.unknownKind(9))) { try FrameDecoder.decode(bytes) }
        bytes[4] = 1
        bytes[5] = 0x80
        #expect(throws: FrameError(.unknownFlags(0x80))) { try FrameDecoder.decode(bytes) }
        let frame = Frame(kind: .request, opcode: 999, requestID: RequestID(1), payload: [])
        #expect(throws: FrameError(.unknownOpcode(kind: 1, opcode: 999))) { try Request(frame: frame) }
    }

    /// Error codes survive the wire, unknown ones included, and NOT_LEADER carries its hint.
    @Test func errorCodes() throws {
        for code in ErrorCode.known {
            #expect(ErrorCode(rawValue: code.rawValue) == code)
        }
        #expect(ErrorCode(rawValue: 4000) == .unknown(4000))
        let error = WireError(.notLeader, "follower", leaderID: NodeID(3), leaderAddress: "127.0.0.1:7003")
        let frame = Response.error(error).frame(id: RequestID(5))
        #expect(try Response(frame: frame) == .error(error))
        #expect(error.description.contains("127.0.0.1:7003"))
    }
}

@Suite struct DocumentedExamplesTests {
    /// The byte dumps in docs/protocol.md §1 are exactly what the encoder produces.
    @Test func docExamplesMatchEncoder() {
        #expect(
            Request.ping.frame(id: RequestID(7)).encoded()
                == [0, 0, 0, 0x0c, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7])
        #expect(
            Response.ok.frame(id: RequestID(7)).encoded() == [0, 0, 0, 0x0c, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7])
        let error = WireError(.notLeader, "no", leaderID: NodeID(2), leaderAddress: "h:1")
        let expected: [UInt8] =
            [0, 0, 0, 0x23, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0, 0, 2, 0x6e, 0x6f]
            + [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0x68, 0x3a, 0x31]
        #expect(Response.error(error).frame(id: RequestID(9)).encoded() == expected)
    }

    /// Frames written back to back into one buffer (a burst) are byte for byte their `encoded()` forms, and the
    /// stream decoder reads them back one by one, in order.
    @Test func burstWriteMatchesEncodedFrames() throws {
        let frames = [
            Request.ping.frame(id: RequestID(1)),
            Frame(kind: .response, opcode: 30, requestID: RequestID(2), payload: Array(repeating: 7, count: 1_500)),
            Frame(kind: .push, opcode: 3, requestID: RequestID(0), payload: []),
        ]
        var buffer = ByteBuffer()
        for frame in frames { frame.write(to: &buffer) }
        #expect(Array(buffer.readableBytesView) == frames.flatMap { $0.encoded() })
        var decoded: [Frame] = []
        while let frame = try WireFrameDecoder.decodeFrame(&buffer, frameBytesMax: WireProtocol.frameBytesMaxDefault) {
            decoded.append(frame)
        }
        #expect(decoded == frames)
        #expect(buffer.readableBytes == 0)
    }
}
