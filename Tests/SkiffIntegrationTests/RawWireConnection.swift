import Foundation
import SkiffClient

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking socket speaking raw frames to one node, for tests that must choose the node (a follower) or send
/// bytes no client library would (garbage, oversized prefixes, half frames).
final class RawWireConnection {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID: UInt64 = 1

    init?(port: Int, timeoutMs: Int = 3000) {
        guard let fd = connectLoopback(port: port, timeoutMs: timeoutMs) else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    func send(bytes: [UInt8]) -> Bool { bytes.isEmpty || write(fd, bytes, bytes.count) == bytes.count }

    /// Sends a request frame and returns its request id.
    @discardableResult
    func send(_ request: Request) -> RequestID {
        let id = RequestID(nextID)
        nextID += 1
        _ = send(bytes: request.frame(id: id).encoded())
        return id
    }

    /// The next frame, or nil on timeout, EOF or a decoding failure.
    func receiveFrame() -> Frame? {
        while true {
            if let (frame, used) = try? FrameDecoder.decode(buffer) {
                buffer.removeFirst(used)
                return frame
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// The next response (pushes are skipped), decoded.
    func receiveResponse() -> Response? {
        while let frame = receiveFrame() {
            guard frame.kind == .response else { continue }
            return try? Response(frame: frame)
        }
        return nil
    }

    /// True when the server closed the connection (EOF) within the socket timeout.
    func closedByPeer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// Performs the handshake; true when the node answered `helloOK`.
    func handshake() -> Bool {
        send(.hello(Hello(role: .client, clientID: "raw-test")))
        guard case .helloOK? = receiveResponse() else { return false }
        return true
    }
}
