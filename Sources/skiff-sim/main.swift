import ArgumentParser
import Foundation
import SkiffRaft
import SkiffSim

/// `skiff-sim`: runs the deterministic cluster simulator over one seed or a range of seeds.
@main
struct SkiffSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff-sim",
        abstract: "Deterministic whole-cluster simulation of the Skiff Raft core.")

    @Option(help: "Run one seed.")
    var seed: UInt64?

    @Option(help: "Run a range of seeds, A..B inclusive.")
    var seeds: String?

    @Option(help: "Cluster size, 3 or 5. Omit to alternate by seed (odd seeds 3, even seeds 5).")
    var nodes: Int?

    @Option(name: .customLong("inject-bug"), help: "Break the core deliberately (NAME), or `list` the names.")
    var injectBug: String?

    @Option(help: "Application: broker, counter, or mixed (every fourth seed runs the broker; the default).")
    var app: String = "mixed"

    @Option(help: "Ticks of the fault phase per seed.")
    var faultTicks: Int?

    @Option(help: "Liveness bound in ticks after the faults heal.")
    var livenessTicks: Int?

    @Flag(help: "Print every event of a single seed.")
    var verbose = false

    @Flag(help: "Print one line per seed.")
    var progress = false

    @Flag(help: "Do not stop at the first failing seed; report how many failed (exit status 1 if any).")
    var keepGoing = false

    @Flag(help: "Run the core throughput benchmark instead.")
    var bench = false

    func validate() throws {
        if let nodes, nodes != 3 && nodes != 5 { throw ValidationError("--nodes must be 3 or 5") }
        if seed != nil && seeds != nil { throw ValidationError("give --seed or --seeds, not both") }
    }

    func run() throws {
        if bench {
            print(CoreBenchmark.run().report)
            return
        }
        if injectBug == "list" {
            for bug in InjectedBug.allCases { print(bug.rawValue) }
            for bug in BrokerBug.allCases { print(bug.rawValue) }
            return
        }
        var bug: InjectedBug?
        var brokerBug: BrokerBug?
        if let injectBug {
            bug = InjectedBug(rawValue: injectBug)
            brokerBug = BrokerBug(rawValue: injectBug)
            guard bug != nil || brokerBug != nil else {
                throw ValidationError("unknown bug \(injectBug); see --inject-bug list")
            }
        }
        let fixedApp = app == "mixed" ? nil : SimApp(rawValue: app)
        guard app == "mixed" || fixedApp != nil else { throw ValidationError("--app wants broker, counter or mixed") }
        let range = try seedRange()
        let started = Date()
        var failures = 0
        for seed in range {
            var options = SimOptions(seed: seed, nodeCount: nodes ?? (seed % 2 == 1 ? 3 : 5), injectedBug: bug)
            if let fixedApp { options.app = fixedApp }
            options.brokerBug = brokerBug
            if let faultTicks { options.faultTicks = faultTicks }
            if let livenessTicks { options.livenessTicks = livenessTicks }
            options.verbose = verbose && range.count == 1
            let result = Simulation(options: options).run()
            for line in result.log { print(line) }
            if progress || range.count == 1 { print(result.summary) }
            if let failure = result.failure {
                print("FAIL seed \(seed): \(failure.invariant) violated: \(failure.detail)")
                print("trace hash: 0x\(String(result.traceHash, radix: 16))")
                print("replay: \(options.replayCommand)")
                failures += 1
                if !keepGoing { throw ExitCode(1) }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        if failures > 0 {
            print("skiff-sim: \(failures) of \(range.count) seeds failed")
            throw ExitCode(1)
        }
        print("skiff-sim: \(range.count) seeds passed in \(String(format: "%.1f", seconds)) s")
    }

    private func seedRange() throws -> ClosedRange<UInt64> {
        if let seed { return seed...seed }
        guard let seeds else { return 1...1 }
        let parts = seeds.split(separator: ".", omittingEmptySubsequences: true)
        guard seeds.contains(".."), parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]),
            low <= high
        else {
            throw ValidationError("--seeds wants A..B with A <= B")
        }
        return low...high
    }
}
