import Foundation

/// Runs short helper commands (the netns script, `ip`) without blocking the cooperative thread pool.
enum CommandRunner {
    /// Result of a finished command.
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `arguments[0]` with the rest as arguments; kills it after `timeoutMs`.
    static func run(_ arguments: [String], timeoutMs: Int = 10_000) async -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return Result(status: -1, output: "\(error)") }
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return Result(status: -1, output: "timed out after \(timeoutMs) ms: \(arguments.joined(separator: " "))")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
