import Foundation
import Testing

@testable import SkiffRaft

/// Runs the data-driven transcripts in `testdata/`: blocks of `command args`, a `----` line, and the
/// expected output, separated by blank lines. Set `SKIFF_REWRITE_TRANSCRIPTS=1` to rewrite the expected
/// output from the actual one, then review the diff.
struct TranscriptRunner {
    private var cluster = TestCluster(voters: [1])
    private var configure: (inout RaftConfig) -> Void = { _ in }

    static func directory(_ file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("testdata")
    }

    /// Runs one transcript; returns (expected, actual) for each block that differs.
    static func run(_ name: String) throws -> [(command: String, expected: String, actual: String)] {
        let url = directory().appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        var runner = TranscriptRunner()
        var mismatches: [(String, String, String)] = []
        var rewritten: [String] = []
        for block in text.components(separatedBy: "\n\n") where !block.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = block.components(separatedBy: "\n----\n")
            let command = parts[0]
            var expected = parts.count > 1 ? parts[1].trimmingCharacters(in: .newlines) : ""
            if expected == "ok" { expected = "" }
            var output: [String] = []
            for line in command.split(separator: "\n") where !line.hasPrefix("#") {
                output += runner.execute(line.split(separator: " ").map(String.init))
            }
            let actual = output.joined(separator: "\n")
            if actual != expected { mismatches.append((command, expected, actual)) }
            rewritten.append(command + "\n----\n" + (actual.isEmpty ? "ok" : actual))
        }
        if ProcessInfo.processInfo.environment["SKIFF_REWRITE_TRANSCRIPTS"] == "1" {
            try (rewritten.joined(separator: "\n\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        return mismatches
    }

    private static func ids(_ text: String) -> [UInt64] { text.split(separator: ",").compactMap { UInt64($0) } }

    private static func options(_ words: ArraySlice<String>) -> [String: String] {
        var result: [String: String] = [:]
        for word in words {
            let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
            result[pair[0]] = pair.count > 1 ? pair[1] : ""
        }
        return result
    }

    private mutating func execute(_ words: [String]) -> [String] {
        guard let verb = words.first else { return [] }
        let node = words.count > 1 ? UInt64(words[1]) ?? 0 : 0
        switch verb {
        case "cluster": return makeCluster(Self.options(words.dropFirst()))
        case "reset-node": return resetNode(node, Self.options(words.dropFirst(2)))
        case "campaign": cluster[node].campaign()
        case "propose": return report { try cluster[node].propose(Array(words[2].utf8)) }
        case "propose-conf": return proposeConf(node, words[2], UInt64(words[3])!)
        case "transfer": return report { try cluster[node].transferLeadership(to: NodeID(UInt64(words[2])!)) }
        case "read-index": return report { try cluster[node].readIndex(context: Array(words[2].utf8)) }
        case "tick": for _ in 0..<(words.count > 2 ? Int(words[2])! : 1) { cluster[node].tick() }
        case "isolate": cluster.isolate(node)
        case "heal": cluster.heal()
        case "compact": cluster.compact(node, data: Array("snapshot-of-\(node)".utf8))
        case "stabilize": return deliver(Self.options(words.dropFirst()), untilQuiet: true)
        case "deliver": return deliver(Self.options(words.dropFirst()), untilQuiet: false)
        case "status": return statusLines(words.count > 1 ? [node] : cluster.nodes.keys.sorted().map(\.rawValue))
        case "log": return logLines(node)
        case "applied":
            return [cluster.applied[NodeID(node)]!.filter { $0.kind == .normal }.map(Self.text).joined(separator: " ")]
        case "read-states":
            return cluster.readStates[NodeID(node), default: []].map {
                "\($0.index) \(String(decoding: $0.context, as: UTF8.self))"
            }
        default: return ["unknown command \(verb)"]
        }
        return []
    }

    private func report(_ body: () throws -> Void) -> [String] {
        do {
            try body()
            return []
        } catch let error as RaftError {
            return ["error: \(error.kind)"]
        } catch {
            return ["error: \(error)"]
        }
    }

    private mutating func makeCluster(_ options: [String: String]) -> [String] {
        let preVote = options["prevote"] != "false"
        let checkQuorum = options["checkquorum"] != "false"
        let maxBytes = options["max-msg-bytes"].flatMap { Int($0) }
        let heartbeat = options["heartbeat"].flatMap { Int($0) }
        configure = { config in
            if let heartbeat { config.heartbeatTick = heartbeat }
            config.preVote = preVote
            config.checkQuorum = checkQuorum
            if let maxBytes { config.maxSizePerMsg = maxBytes }
        }
        cluster = TestCluster(
            voters: Self.ids(options["voters"] ?? "1"), learners: Self.ids(options["learners"] ?? ""),
            configure: configure)
        return []
    }

    /// Replaces node `raw` by a fresh core over a log with the given entry terms and hard-state term.
    private mutating func resetNode(_ raw: UInt64, _ options: [String: String]) -> [String] {
        let terms = Self.ids(options["terms"] ?? "")
        let old = cluster[raw]
        var entries = terms.enumerated().map { position, term in
            Entry(term: Term(term), index: LogIndex(UInt64(position + 1)), data: Array("e\(position + 1)".utf8))
        }
        if let keep = options["keep"].flatMap({ UInt64($0) }) {
            entries = old.logEntries(LogIndex(1)..<LogIndex(keep + 1)) ?? []
        }
        let term = options["term"].flatMap { UInt64($0) } ?? (entries.map(\.term.rawValue).max() ?? 0)
        let storage = MemoryStorage(
            confState: old.confState,
            hardState: HardState(term: Term(term), commit: LogIndex(options["commit"].flatMap { UInt64($0) } ?? 0)))
        storage.append(entries)
        var config = old.config
        configure(&config)
        cluster.addNode(config, storage: storage)
        return []
    }

    private mutating func proposeConf(_ raw: UInt64, _ kind: String, _ target: UInt64) -> [String] {
        let kinds: [String: ConfChange.Kind] = [
            "add-voter": .addVoter, "add-learner": .addLearner, "remove": .removeNode,
        ]
        guard let changeKind = kinds[kind] else { return ["unknown change \(kind)"] }
        if changeKind != .removeNode && cluster.nodes[NodeID(target)] == nil {
            var config = RaftConfig(id: NodeID(target))
            config.randomSeed = target
            configure(&config)
            cluster.addNode(config)
        }
        return report { try cluster[raw].proposeConfigChange(ConfChange(changeKind, NodeID(target))) }
    }

    private mutating func deliver(_ options: [String: String], untilQuiet: Bool) -> [String] {
        var lines: [String] = []
        let from = options["from"].flatMap { UInt64($0) }.map { NodeID($0) }
        let to = options["to"].flatMap { UInt64($0) }.map { NodeID($0) }
        var budget = options["count"].flatMap { Int($0) } ?? Int.max
        for _ in 0..<(untilQuiet ? 100 : 1) {
            cluster.processReadies()
            var kept: [Message] = []
            var delivered = false
            for message in cluster.queue {
                guard budget > 0, from == nil || message.from == from, to == nil || message.to == to else {
                    kept.append(message)
                    continue
                }
                budget -= 1
                delivered = true
                if cluster.cut.contains([message.from, message.to]) {
                    lines.append("DROP \(message)")
                } else {
                    lines.append("\(message)")
                    cluster.nodes[message.to]?.step(message)
                }
            }
            cluster.queue = kept
            cluster.processReadies()
            if !delivered { break }
        }
        return lines
    }

    private func statusLines(_ raws: [UInt64]) -> [String] {
        raws.map { raw in
            let node = cluster[raw]
            return "n\(raw): \(node.role) \(node.term) leader=\(node.leader.map { "\($0)" } ?? "none") "
                + "commit=\(node.commitIndex) applied=\(node.appliedIndex) last=\(node.lastIndex) \(node.confState)"
        }
    }

    private func logLines(_ raw: UInt64) -> [String] {
        let node = cluster[raw]
        let first = node.firstIndex
        let entries = node.logEntries(first..<node.lastIndex.next) ?? []
        let snapshot = cluster.storages[NodeID(raw)]!.snapshotMetadata
        let head = "first=\(first) snapshot=\(snapshot.index)@\(snapshot.term)"
        return [
            head
                + (entries.isEmpty
                    ? "" : " " + entries.map { "\($0.index)@\($0.term):\(Self.text($0))" }.joined(separator: " "))
        ]
    }

    private static func text(_ entry: Entry) -> String {
        switch entry.kind {
        case .noop: "noop"
        case .configChange: (try? ConfChange(decoding: entry.data)).map { "\($0)" } ?? "conf?"
        case .normal: String(decoding: entry.data, as: UTF8.self)
        }
    }
}

/// Proves each transcript scenario in `testdata/` still produces exactly its recorded messages and states.
@Test(arguments: [
    "figure8.txt", "conflicting_suffix.txt", "snapshot_conflict.txt", "leader_removed.txt",
    "stale_leader_partition.txt", "prevote_rejoin.txt",
])
func transcript(_ name: String) throws {
    let mismatches = try TranscriptRunner.run(name)
    for mismatch in mismatches {
        Issue.record(
            "\(name): block\n\(mismatch.command)\nexpected:\n\(mismatch.expected)\nactual:\n\(mismatch.actual)")
    }
    #expect(mismatches.isEmpty)
}
