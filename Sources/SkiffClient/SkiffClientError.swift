import SkiffWire

/// Errors thrown by `SkiffClient`.
public struct SkiffClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of client failure.
    public enum Kind: Hashable, Sendable {
        /// The server refused the request with a typed error.
        case server(WireError)
        /// The connection broke after the request was sent and the request is not safe to resend; its
        /// outcome is unknown.
        case connectionLost
        /// The request did not complete within the client's request timeout (outcome unknown).
        case timeout
        /// No leader could be reached within the request timeout.
        case unavailable(String)
        /// The client was closed.
        case closed
        /// The caller passed an invalid argument (nothing was sent).
        case invalidArgument(String)
        /// The server broke the protocol (unexpected response type, undecodable frame).
        case protocolViolation(String)
    }

    /// What went wrong.
    public var kind: Kind

    /// Creates the error.
    public init(_ kind: Kind) { self.kind = kind }

    /// The server's error code, when the server refused the request.
    public var code: ErrorCode? {
        if case .server(let error) = kind { return error.code }
        return nil
    }

    public var description: String {
        switch kind {
        case .server(let error): return "server error \(error)"
        case .connectionLost: return "connection lost; the outcome of the request is unknown"
        case .timeout: return "request timed out; its outcome is unknown"
        case .unavailable(let why): return "cluster unavailable: \(why)"
        case .closed: return "client closed"
        case .invalidArgument(let why): return "invalid argument: \(why)"
        case .protocolViolation(let why): return "protocol violation: \(why)"
        }
    }

    static func unexpected(_ response: Response, for request: Request) -> SkiffClientError {
        SkiffClientError(.protocolViolation("unexpected \(response.opcode) response to \(request.opcode)"))
    }
}
