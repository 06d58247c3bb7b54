import Foundation

/// Unbuffered console output, safe to call from any task.
enum Console {
    /// Writes a line to standard output immediately.
    static func out(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    /// Writes a line to standard error immediately.
    static func err(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
