import Foundation

/// Collects latencies (nanoseconds) and reports percentiles. Bounded by the benchmark's message count.
struct LatencyRecorder {
    private(set) var samples: [UInt64] = []

    init(capacity: Int) { samples.reserveCapacity(capacity) }

    mutating func record(_ nanoseconds: UInt64) { samples.append(nanoseconds) }

    /// The `q`-quantile (0...1) in milliseconds, nearest-rank.
    func quantileMs(_ q: Double, sorted: [UInt64]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1_000_000
    }

    /// p50, p99, p999 and max in milliseconds.
    func summary() -> (p50: Double, p99: Double, p999: Double, max: Double) {
        let sorted = samples.sorted()
        return (
            quantileMs(0.5, sorted: sorted), quantileMs(0.99, sorted: sorted), quantileMs(0.999, sorted: sorted),
            Double(sorted.last ?? 0) / 1_000_000
        )
    }
}

/// A one-line progress bar on standard error, redrawn at most every `redrawIntervalMs`.
struct ProgressBar {
    static let redrawIntervalMs: Int64 = 250
    static let widthCells = 30
    let total: Int
    let enabled: Bool
    let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    mutating func update(_ done: Int, force: Bool = false) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard force || now - lastDraw >= .milliseconds(Self.redrawIntervalMs) else { return }
        lastDraw = now
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let cells = Int(fraction * Double(Self.widthCells))
        let seconds = max((now - start).seconds, 1e-9)
        let rate = Int(Double(done) / seconds)
        let bar = String(repeating: "#", count: cells) + String(repeating: "-", count: Self.widthCells - cells)
        let line = "\r[\(bar)] \(Int(fraction * 100))% \(done)/\(total) \(rate) msg/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

extension Duration {
    /// Whole nanoseconds.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(seconds, 0)) * 1_000_000_000 + UInt64(max(attoseconds, 0) / 1_000_000_000)
    }

    /// Seconds as a double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
