import NIOCore
import SkiffRaft
import Testing

@testable import SkiffWire

@Suite struct MessageTests {
    /// Every request, response and push survives encode → frame bytes → decode unchanged.
    @Test func everyMessageRoundTrips() throws {
        for frame in Samples.frames {
            let bytes = frame.encoded()
            let decoded = try #require(try FrameDecoder.decode(bytes))
            #expect(decoded.consumed == bytes.count)
            #expect(decoded.frame == frame)
            let message = try Message(frame: decoded.frame)
            #expect(message.frame == frame, "re-encoding \(message) changed its bytes")
        }
    }

    /// The samples cover every opcode of every kind, so the round trip above is complete.
    @Test func samplesCoverEveryOpcode() {
        #expect(Set(Samples.requests.map(\.opcode)) == Set(Request.Opcode.allCases))
        #expect(Set(Samples.responses.map(\.opcode)) == Set(Response.Opcode.allCases))
        #expect(Set(Samples.pushes.map(\.opcode)) == Set(Push.Opcode.allCases))
    }

    /// Bytes left after a payload's last field make the frame malformed.
    @Test func trailingBytesRejected() {
        var frame = Request.ping.frame(id: RequestID(1))
        frame.payload.append(0)
        #expect(throws: FrameError(.trailingBytes(count: 1))) { try Request(frame: frame) }
    }

    /// A hello with the wrong magic is refused, and version negotiation picks the highest common version.
    @Test func helloMagicAndVersions() throws {
        var frame = Request.hello(Hello(role: .admin, clientID: "x")).frame(id: RequestID(1))
        frame.payload[0] = 0
        #expect(throws: FrameError(.invalidValue(field: "hello.magic"))) { try Request(frame: frame) }
        #expect(Hello(role: .client, clientID: "", versionMin: 1, versionMax: 3).negotiatedVersion() == 2)
        #expect(Hello(role: .client, clientID: "", versionMin: 1, versionMax: 1).negotiatedVersion() == 1)
        #expect(Hello(role: .client, clientID: "", versionMin: 3, versionMax: 4).negotiatedVersion() == nil)
        #expect(Hello(role: .client, clientID: "").negotiatedVersion() == WireProtocol.version)
    }

    /// Invalid UTF-8, out-of-range enums, bad booleans and impossible counts are typed errors, not crashes.
    @Test func invalidFieldValues() {
        var writer = WireWriter()
        writer.write(UInt32(2))
        writer.write(UInt8(0xC3))
        writer.write(UInt8(0x28))
        var reader = WireReader(writer.bytes)
        #expect(throws: FrameError(.invalidString(field: "s"))) { try reader.readString("s") }
        var bad = WireReader([7])
        #expect(throws: FrameError(.invalidValue(field: "b"))) { try bad.readBool("b") }
        var huge = WireReader([0xFF, 0xFF, 0xFF, 0xFF, 1])
        #expect(throws: FrameError(.truncated(field: "a"))) {
            try huge.readArray("a") { r throws(FrameError) in try r.readUInt8("e") }
        }
        let priority = OutgoingMessage(body: [], priority: 9)
        var encoded = WireWriter()
        priority.encode(to: &encoded)
        var bytes = encoded.bytes
        bytes[0] = 10
        var tooHigh = WireReader(bytes)
        #expect(throws: FrameError(.invalidValue(field: "message.priority"))) {
            try OutgoingMessage(from: &tooHigh)
        }
    }

    /// The NIO decoder reassembles frames split at arbitrary byte boundaries and consumes nothing from an
    /// incomplete frame.
    @Test func nioDecoderReassemblesChunks() throws {
        var stream: [UInt8] = []
        for frame in Samples.frames { frame.encode(into: &stream) }
        var rng = SplitMix64(seed: 11)
        var buffer = ByteBuffer()
        var decoded: [Frame] = []
        var position = 0
        while position < stream.count {
            let chunk = min(Int(rng.next() % 40) + 1, stream.count - position)
            buffer.writeBytes(stream[position..<position + chunk])
            position += chunk
            while let frame = try WireFrameDecoder.decodeFrame(&buffer, frameBytesMax: 1 << 20) {
                decoded.append(frame)
            }
        }
        #expect(decoded == Samples.frames)
        #expect(buffer.readableBytes == 0)
    }

    /// The NIO decoder refuses an oversized frame from its length prefix alone.
    @Test func nioDecoderRefusesOversizedPrefix() {
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError.self) { try WireFrameDecoder.decodeFrame(&buffer, frameBytesMax: 1024) }
    }

    /// The NIO encoder writes exactly the bytes of `Frame.encoded()`.
    @Test func nioEncoderMatchesPureEncoder() throws {
        for frame in Samples.frames {
            var buffer = ByteBuffer()
            try WireFrameEncoder().encode(data: frame, out: &buffer)
            #expect(buffer.readBytes(length: buffer.readableBytes) == frame.encoded())
        }
    }
}

/// The Raft core's seeded SplitMix64, so every randomized test is reproducible from its seed.
typealias SplitMix64 = SeededRandom
