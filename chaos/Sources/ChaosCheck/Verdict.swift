/// The outcome of one check.
public struct CheckResult: Codable, Sendable, Equatable {
    public var name: String
    public var valid: Bool
    /// Number of anomalies found (0 when valid, except for tolerated classes reported in `info`).
    public var count: Int
    /// A few anomalies, described for a human.
    public var examples: [String]
    /// Extra counters (e.g. duplicate classes, window lengths).
    public var info: [String: Int64]

    init(name: String, anomalies: [String], info: [String: Int64] = [:]) {
        self.name = name
        self.valid = anomalies.isEmpty
        self.count = anomalies.count
        self.examples = Array(anomalies.prefix(HistoryIndex.examplesMax))
        self.info = info
    }
}

/// The checker's judgement of a whole history.
public struct Verdict: Codable, Sendable, Equatable {
    /// True only when every check is valid.
    public var valid: Bool
    public var seed: UInt64
    public var nodes: Int
    public var faults: [String]
    public var checks: [CheckResult]
    /// Operation counts: kind → outcome → count. Observations are counted under outcome `ok`.
    public var counts: [String: [String: Int]]

    /// The result of the named check, if it ran.
    public func check(_ name: String) -> CheckResult? { checks.first { $0.name == name } }

    /// Multi-line human summary.
    public func summary() -> String {
        var lines: [String] = []
        lines.append("skiff chaos verdict: \(valid ? "VALID" : "INVALID")")
        lines.append("seed \(seed), \(nodes) nodes, faults: \(faults.joined(separator: ","))")
        for kind in counts.keys.sorted() {
            let outcomes = counts[kind, default: [:]]
            let text = outcomes.keys.sorted().map { "\($0)=\(outcomes[$0, default: 0])" }.joined(separator: " ")
            lines.append("  op \(kind.padding(16)) \(text)")
        }
        for check in checks {
            let mark = check.valid ? "ok  " : "FAIL"
            var line = "  [\(mark)] \(check.name.padding(16)) anomalies=\(check.count)"
            let info = check.info.keys.sorted().map { "\($0)=\(check.info[$0, default: 0])" }
            if !info.isEmpty { line += " (" + info.joined(separator: " ") + ")" }
            lines.append(line)
            for example in check.examples { lines.append("         - \(example)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
