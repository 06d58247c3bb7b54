import ArgumentParser
import ChaosCheck
import Foundation

/// `skiff-chaos check`: re-checks a recorded history and rewrites the verdict, summary and plot.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check a history.jsonl and write verdict.json, summary.txt and plot.html.")

    @Option(help: "The history file (JSON lines).")
    var history: String

    @Option(help: "Directory for verdict.json, summary.txt and plot.html (default: the history's directory).")
    var out: String?

    func run() throws {
        let directory = out ?? URL(fileURLWithPath: history).deletingLastPathComponent().path
        let verdict = try Reports.checkAndWrite(historyPath: history, directory: directory)
        print(verdict.summary(), terminator: "")
        if !verdict.valid { throw ExitCode(1) }
    }
}

/// Writes the checker's outputs next to a history.
enum Reports {
    /// Reads the history, checks it and writes `verdict.json`, `summary.txt` and `plot.html` into `directory`.
    static func checkAndWrite(historyPath: String, directory: String) throws -> Verdict {
        let text = try String(contentsOfFile: historyPath, encoding: .utf8)
        let events = try HistoryCodec.decode(text)
        let index = HistoryIndex(events: events)
        let verdict = HistoryChecker(index: index).verdict()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(verdict).write(to: URL(fileURLWithPath: directory + "/verdict.json"))
        try verdict.summary().write(toFile: directory + "/summary.txt", atomically: true, encoding: .utf8)
        let html = HistoryPlot(index: index, verdict: verdict).html()
        try html.write(toFile: directory + "/plot.html", atomically: true, encoding: .utf8)
        return verdict
    }
}
