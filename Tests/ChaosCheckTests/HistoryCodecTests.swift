import Testing

@testable import ChaosCheck

@Suite("History codec, summary and plot")
struct HistoryCodecTests {
    /// Encoding every event of a history as JSON lines and decoding it back yields the same events.
    @Test func roundTrip() throws {
        let events = HistoryBuilder.clean().events
        let text = events.map(HistoryCodec.encode).joined(separator: "\n") + "\n"
        #expect(!text.contains("\n\n"))
        #expect(try HistoryCodec.decode(text) == events)
    }

    /// A corrupt line is reported with its line number.
    @Test func decodeErrorNamesLine() {
        let good = HistoryCodec.encode(HistoryBuilder.clean().events[0])
        #expect(throws: HistoryError.self) { try HistoryCodec.decode(good + "\n{\"type\":\"bogus\"}\n") }
        do {
            _ = try HistoryCodec.decode(good + "\n\nnot json\n")
            Issue.record("a line that is not JSON was accepted")
        } catch {
            #expect(error.line == 3)
        }
    }

    /// The text summary names the verdict, the failing check and an example.
    @Test func summaryNamesFailures() {
        var b = HistoryBuilder.clean()
        b.publish("gone", seq: 6)
        let summary = b.verdict().summary()
        #expect(summary.contains("INVALID"))
        #expect(summary.contains("[FAIL] lost"))
        #expect(summary.contains("gone"))
    }

    /// The plot is standalone HTML with both SVG panels, one shaded band per fault window and escaped text.
    @Test func plotShadesFaultWindows() {
        var b = HistoryBuilder.clean()
        b.nemesis(.start, fault: "partition<x>", id: 5)
        b.advance(ms: 100)
        b.nemesis(.stop, fault: "partition<x>", id: 5)
        let index = HistoryIndex(events: b.events)
        let html = HistoryPlot(index: index, verdict: HistoryChecker(index: index).verdict()).html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg").count == 3)
        // Two windows, drawn once per panel.
        #expect(html.components(separatedBy: "<rect").count == 5)
        #expect(html.contains("partition&lt;x&gt;"))
        #expect(!html.contains("partition<x>"))
        #expect(html.contains("<circle"))
        var led = b
        led.observe(.leader, process: -1) { $0.node = 3 }
        let withLeader = HistoryPlot(index: HistoryIndex(events: led.events)).html()
        #expect(withLeader.contains("<title>leader 3</title>"))
    }
}
