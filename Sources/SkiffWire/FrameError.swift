/// Why bytes received from the network could not be turned into a frame or a message.
///
/// Every case maps to an `ErrorCode` the receiver sends back before closing the connection.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of decoding failure.
    public enum Kind: Hashable, Sendable {
        /// The length prefix announces more than the receiver's maximum frame size.
        case frameTooLarge(announcedBytes: Int, frameBytesMax: Int)
        /// The length prefix announces fewer bytes than a frame header.
        case frameTooShort(announcedBytes: Int)
        /// The header's kind byte is not a known frame kind.
        case unknownKind(UInt8)
        /// The header's flags byte has bits this version does not define.
        case unknownFlags(UInt8)
        /// The opcode is not defined for the frame's kind.
        case unknownOpcode(kind: UInt8, opcode: UInt16)
        /// The payload ended before a field was complete.
        case truncated(field: String)
        /// A field holds a value outside its domain (an enum tag, a boolean that is not 0 or 1, ...).
        case invalidValue(field: String)
        /// A string is not valid UTF-8 or is longer than `WireProtocol.stringBytesMax`.
        case invalidString(field: String)
        /// Bytes remain after the payload's last field.
        case trailingBytes(count: Int)
    }

    /// What went wrong.
    public var kind: Kind

    /// Creates the error.
    public init(_ kind: Kind) { self.kind = kind }

    /// The error code to answer with.
    public var code: ErrorCode {
        switch kind {
        case .frameTooLarge: return .frameTooLarge
        default: return .malformedFrame
        }
    }

    public var description: String {
        switch kind {
        case .frameTooLarge(let announced, let max): return "frame of \(announced) bytes exceeds maximum \(max)"
        case .frameTooShort(let announced): return "frame of \(announced) bytes is shorter than its header"
        case .unknownKind(let kind): return "unknown frame kind \(kind)"
        case .unknownFlags(let flags): return "unknown frame flags \(flags)"
        case .unknownOpcode(let kind, let opcode): return "unknown opcode \(opcode) for frame kind \(kind)"
        case .truncated(let field): return "payload truncated in field \(field)"
        case .invalidValue(let field): return "invalid value in field \(field)"
        case .invalidString(let field): return "invalid string in field \(field)"
        case .trailingBytes(let count): return "\(count) unexpected bytes after the payload"
        }
    }
}
