import ArgumentParser
import Foundation
import Logging
import SkiffClient

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Comma-separated node addresses host:port (default: $SKIFF_CLUSTER).")
    var cluster: String?

    @Option(name: .long, help: "Namespace of the objects named by this command.")
    var namespace: String = "default"

    @Option(name: .long, help: "Per-request timeout, e.g. 500ms, 3s, 2m.", transform: DurationArgument.parse)
    var timeout: DurationArgument = DurationArgument(milliseconds: 10_000)

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    /// The seed addresses from `--cluster` or `SKIFF_CLUSTER`.
    func seeds() throws -> [String] {
        let value = cluster ?? ProcessInfo.processInfo.environment["SKIFF_CLUSTER"]
        let seeds = (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard !seeds.isEmpty else {
            throw ValidationError("no cluster given: pass --cluster host:port,... or set SKIFF_CLUSTER")
        }
        return seeds
    }

    /// A client for the seeds; the CLI identifies itself as an admin connection.
    func makeClient(role: ClientRole = .admin) throws -> SkiffClient {
        let configuration = SkiffClient.Configuration(
            clientID: "skiff-cli", role: role, defaultNamespace: namespace, requestTimeoutMs: timeout.milliseconds)
        var logger = Logger(label: "skiff.cli")
        logger.logLevel = .warning
        return try SkiffClient(seeds: try seeds(), configuration: configuration, logger: logger)
    }
}

/// A duration written as a number and a unit: `500ms`, `3s`, `2m`, `1h`.
struct DurationArgument: Hashable, Sendable {
    var milliseconds: Int64

    static func parse(_ text: String) throws -> DurationArgument {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard let value = Int64(number), value >= 0, value <= Int64.max / scale else { break }
            return DurationArgument(milliseconds: value * scale)
        }
        throw ValidationError("'\(text)' is not a duration like 500ms, 3s, 2m or 1h")
    }
}

/// Output helpers shared by the commands.
enum Output {
    /// Prints one JSON object on one line, keys sorted.
    static func json(_ object: Any) {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Prints rows as aligned columns under a header.
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        for row in [header] + rows {
            let cells = row.enumerated().map {
                $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    /// Writes a line to standard error.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// A body for display: UTF-8 when it is valid text.
    static func bodyText(_ body: [UInt8]) -> String {
        String(validating: body, as: UTF8.self) ?? Data(body).base64EncodedString()
    }
}

extension SkiffClient {
    /// Runs a declaration; when the namespace does not exist yet, creates it and runs the declaration again,
    /// so `skiff queue create q` works on a fresh cluster.
    func declaring(namespace: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as SkiffClientError where error.code == .unknownNamespace {
            do {
                try await createNamespace(namespace)
            } catch let error as SkiffClientError where error.code == .alreadyExists {}
            try await body()
        }
    }
}
