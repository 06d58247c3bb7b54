import Foundation

/// Renders a standalone HTML page with two SVG panels: latency of every operation over time (log scale,
/// coloured by outcome) and throughput per second, both with the nemesis fault windows shaded.
public struct HistoryPlot: Sendable {
    /// Most latency points drawn; beyond it points are sampled evenly so the page stays small.
    public static let pointsMax = 20_000
    static let width = 1_000.0
    static let height = 280.0
    static let margin = (left: 60.0, right: 20.0, top: 20.0, bottom: 30.0)

    let index: HistoryIndex
    let verdict: Verdict?

    public init(index: HistoryIndex, verdict: Verdict? = nil) {
        self.index = index
        self.verdict = verdict
    }

    /// A fault window in seconds.
    struct Window {
        var fault: String
        var fromS: Double
        var toS: Double
    }

    var durationS: Double { max(1, Double(index.endT) / 1e9) }

    func windows() -> [Window] {
        var starts: [Int64: HistoryEvent] = [:]
        var result: [Window] = []
        for event in index.nemesis {
            let key = event.opId ?? -1
            if event.op == .start {
                starts[key] = event
            } else if event.op == .stop, let start = starts.removeValue(forKey: key) {
                result.append(
                    Window(fault: start.fault ?? "?", fromS: Double(start.t) / 1e9, toS: Double(event.t) / 1e9))
            }
        }
        for start in starts.values {
            result.append(Window(fault: start.fault ?? "?", fromS: Double(start.t) / 1e9, toS: durationS))
        }
        return result.sorted { $0.fromS < $1.fromS }
    }

    /// The whole HTML document.
    public func html() -> String {
        let title = "skiff chaos: seed \(index.meta.seed), \(index.meta.nodes) nodes"
        let status = verdict.map { $0.valid ? "VALID" : "INVALID" } ?? "unchecked"
        var page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(escape(title))</title>\n"
        page += "<style>body{font-family:sans-serif;margin:20px}svg{background:#fff;border:1px solid #ccc}"
        page += "text{font-size:11px}pre{font-size:12px}</style></head><body>\n"
        page += "<h2>\(escape(title)): \(status)</h2>\n"
        page += "<p>Faults: \(escape(index.meta.faults.joined(separator: ", "))). "
        page += "Shaded bands are fault windows; dashed lines are leader changes.</p>\n"
        page += "<h3>Latency (ms, log scale) by invoke time</h3>\n" + latencySVG()
        page += "<p><span style=\"color:#2a9d3a\">&#9679; ok</span> <span style=\"color:#e08a00\">&#9679; unknown"
        page += "</span> <span style=\"color:#d62728\">&#9679; fail</span></p>\n"
        page += "<h3>Throughput (successful operations per second)</h3>\n" + throughputSVG()
        page += "<p><span style=\"color:#1f77b4\">&#9644; writes</span> <span style=\"color:#9467bd\">&#9644; reads"
        page += "</span></p>\n"
        if let verdict { page += "<pre>\(escape(verdict.summary()))</pre>\n" }
        return page + "</body></html>\n"
    }

    func x(_ seconds: Double) -> Double {
        let m = Self.margin
        return m.left + seconds / durationS * (Self.width - m.left - m.right)
    }

    func svgOpen() -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\">\n"
    }

    /// A dashed vertical line at every leader change the harness saw.
    func leaderLines() -> String {
        let m = Self.margin
        var svg = ""
        for event in index.observations(.leader) {
            let left = x(Double(event.t) / 1e9)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(m.top))\" x2=\"\(f(left))\" y2=\"\(f(Self.height - m.bottom))\" "
            svg += "stroke=\"#555\" stroke-dasharray=\"3,3\"><title>leader \(event.node ?? 0)</title></line>\n"
        }
        return svg
    }

    func faultBands() -> String {
        let m = Self.margin
        let colors = ["#f4cccc", "#d9ead3", "#cfe2f3", "#fff2cc", "#ead1dc", "#d0e0e3"]
        var svg = ""
        var palette: [String: String] = [:]
        for window in windows() {
            let color = palette[window.fault] ?? colors[palette.count % colors.count]
            palette[window.fault] = color
            let left = x(window.fromS)
            let bandWidth = max(1, x(window.toS) - left)
            svg += "<rect x=\"\(f(left))\" y=\"\(f(m.top))\" width=\"\(f(bandWidth))\" "
            svg += "height=\"\(f(Self.height - m.top - m.bottom))\" fill=\"\(color)\" opacity=\"0.7\">"
            svg += "<title>\(escape(window.fault))</title></rect>\n"
            svg += "<text x=\"\(f(left + 2))\" y=\"\(f(m.top + 10))\">\(escape(window.fault))</text>\n"
        }
        return svg
    }

    func timeAxis() -> String {
        let m = Self.margin
        let bottom = Self.height - m.bottom
        var svg = "<line x1=\"\(f(m.left))\" y1=\"\(f(bottom))\" x2=\"\(f(Self.width - m.right))\" "
        svg += "y2=\"\(f(bottom))\" stroke=\"#000\"/>\n"
        let step = max(1.0, (durationS / 10).rounded(.up))
        var tick = 0.0
        while tick <= durationS {
            svg += "<text x=\"\(f(x(tick)))\" y=\"\(f(bottom + 14))\" text-anchor=\"middle\">\(Int(tick))s</text>\n"
            tick += step
        }
        return svg
    }

    func latencySVG() -> String {
        let m = Self.margin
        let plotHeight = Self.height - m.top - m.bottom
        let operations = index.operations.filter { $0.latencyNs != nil && $0.kind != .drain }
        let maxMs = max(10, operations.compactMap { $0.latencyNs.map { Double($0) / 1e6 } }.max() ?? 10)
        let decades = log10(maxMs * 10)
        func y(_ latencyMs: Double) -> Double {
            let clamped = max(0.1, latencyMs)
            return m.top + plotHeight - (log10(clamped) + 1) / (decades + 1) * plotHeight
        }
        var svg = svgOpen() + faultBands() + leaderLines() + timeAxis()
        var decade = 0.1
        while decade <= maxMs * 10 {
            svg +=
                "<text x=\"\(f(m.left - 4))\" y=\"\(f(y(decade) + 4))\" text-anchor=\"end\">\(label(decade))</text>\n"
            svg += "<line x1=\"\(f(m.left))\" y1=\"\(f(y(decade)))\" x2=\"\(f(Self.width - m.right))\" "
            svg += "y2=\"\(f(y(decade)))\" stroke=\"#eee\"/>\n"
            decade *= 10
        }
        let stride = max(1, operations.count / Self.pointsMax + (operations.count % Self.pointsMax == 0 ? 0 : 1))
        for (position, operation) in operations.enumerated() where position % stride == 0 {
            let color = operation.outcome == .ok ? "#2a9d3a" : (operation.outcome == .fail ? "#d62728" : "#e08a00")
            let latencyMs = Double(operation.latencyNs ?? 0) / 1e6
            svg += "<circle cx=\"\(f(x(Double(operation.invoke.t) / 1e9)))\" cy=\"\(f(y(latencyMs)))\" r=\"1.5\" "
            svg += "fill=\"\(color)\"/>\n"
        }
        return svg + "</svg>\n"
    }

    func throughputSVG() -> String {
        let buckets = Int(durationS.rounded(.up)) + 1
        var writes = [Int](repeating: 0, count: buckets)
        var reads = [Int](repeating: 0, count: buckets)
        for operation in index.operations where operation.outcome == .ok {
            guard let t = operation.completion?.t else { continue }
            if [.publish, .produce, .txn, .halfPublish].contains(operation.kind) {
                writes[Int(t / 1_000_000_000)] += 1
            }
        }
        // The final drain reads everything at once; counting it would flatten the rest of the plot.
        let workloadEndT = index.observations(.workloadEnd).first?.t ?? index.endT
        for event in index.observations where event.op == .deliver || event.op == .consume {
            if event.t <= workloadEndT { reads[Int(event.t / 1_000_000_000)] += 1 }
        }
        let m = Self.margin
        let plotHeight = Self.height - m.top - m.bottom
        let peak = Double(max(1, writes.max() ?? 1, reads.max() ?? 1))
        func y(_ count: Int) -> Double { m.top + plotHeight - Double(count) / peak * plotHeight }
        var svg = svgOpen() + faultBands() + leaderLines() + timeAxis()
        svg += "<text x=\"\(f(m.left - 4))\" y=\"\(f(y(Int(peak)) + 4))\" text-anchor=\"end\">\(Int(peak))/s</text>\n"
        svg += "<text x=\"\(f(m.left - 4))\" y=\"\(f(y(0)))\" text-anchor=\"end\">0</text>\n"
        for (series, color) in [(writes, "#1f77b4"), (reads, "#9467bd")] {
            let points = series.enumerated().map { "\(f(x(Double($0.offset) + 0.5))),\(f(y($0.element)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\""
            svg += points.joined(separator: " ") + "\"/>\n"
        }
        return svg + "</svg>\n"
    }
}

private func f(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

private func label(_ latencyMs: Double) -> String {
    latencyMs < 1 ? String(latencyMs) : String(Int(latencyMs))
}

func escape(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "&": out += "&amp;"
        case "\"": out += "&quot;"
        default: out.append(character)
        }
    }
    return out
}
