import ArgumentParser
import Foundation
import SkiffClient
import Testing

@testable import skiff

/// The `skiff` command line: what each flag turns into, and what is refused before any connection is made.
@Suite struct CommandParsingTests {
    /// Durations take ms, s, m and h suffixes; anything else is a validation error naming the input.
    @Test func durations() throws {
        #expect(try DurationArgument.parse("500ms").milliseconds == 500)
        #expect(try DurationArgument.parse("3s").milliseconds == 3_000)
        #expect(try DurationArgument.parse("2m").milliseconds == 120_000)
        #expect(try DurationArgument.parse("1h").milliseconds == 3_600_000)
        #expect(try DurationArgument.parse("0s").milliseconds == 0)
        for bad in ["", "5", "s", "-1s", "1.5s", "3 s", "10d", "99999999999999999999ms"] {
            #expect(throws: ValidationError.self, "\(bad)") { try DurationArgument.parse(bad) }
        }
    }

    /// `queue create` maps every documented flag onto the queue's arguments.
    @Test func queueCreateFlags() throws {
        let command = try QueueCommand.Create.parse([
            "orders", "--dead-letter", "orders-dlq", "--max-deliveries", "5", "--ttl", "3s", "--max-length", "10",
            "--max-bytes", "4096", "--overflow", "dead-letter", "--exclusive", "--lease", "500ms",
        ])
        #expect(command.name == "orders")
        #expect(
            command.arguments
                == QueueArguments(
                    deadLetterQueue: "orders-dlq", maxDeliveries: 5, messageTTLMs: 3_000, maxLength: 10,
                    maxBytes: 4096, overflow: .deadLetter, exclusive: true, leaseMs: 500))
    }

    /// Without flags a queue has no limits, no dead-letter target, drop-head overflow and no exclusivity.
    @Test func queueCreateDefaults() throws {
        let command = try QueueCommand.Create.parse(["plain"])
        #expect(command.arguments == QueueArguments(overflow: .dropHead, exclusive: false))
    }

    /// Every overflow policy has its documented spelling; an unknown one is refused.
    @Test func overflowSpellings() throws {
        #expect(try QueueCommand.Create.parse(["q", "--overflow", "drop-head"]).overflow == .dropHead)
        #expect(try QueueCommand.Create.parse(["q", "--overflow", "reject"]).overflow == .rejectPublish)
        #expect(try QueueCommand.Create.parse(["q", "--overflow", "dead-letter"]).overflow == .deadLetter)
        #expect(throws: (any Error).self) { try QueueCommand.Create.parse(["q", "--overflow", "drop-tail"]) }
        #expect(throws: (any Error).self) { try QueueCommand.Create.parse(["q", "--ttl", "forever"]) }
    }

    /// `publish` refuses a zero count, a priority above 9 and a negative size before connecting.
    @Test func publishValidation() throws {
        #expect(throws: (any Error).self) { try PublishCommand.parse(["q", "x", "--count", "0"]) }
        #expect(throws: (any Error).self) { try PublishCommand.parse(["q", "x", "--priority", "10"]) }
        #expect(throws: (any Error).self) { try PublishCommand.parse(["q", "--size", "-1"]) }
        let ok = try PublishCommand.parse(["q", "body", "--count", "3", "--priority", "9", "--delay", "2s"])
        #expect(ok.count == 3)
        #expect(ok.priority == 9)
        #expect(ok.delay?.milliseconds == 2_000)
    }

    /// Headers are `key=value`; the value may itself contain `=`; a pair without `=` is refused.
    @Test func headers() throws {
        #expect(try parseHeaders(["a=1", "b=x=y", "c="]) == ["a": "1", "b": "x=y", "c": ""])
        #expect(throws: ValidationError.self) { try parseHeaders(["novalue"]) }
    }

    /// `consume` acks by default; `--nack` and `--reject` choose the other settlements, and only one of them.
    @Test func consumeDisposition() throws {
        #expect(try ConsumeCommand.parse(["q"]).disposition == .ack)
        #expect(try ConsumeCommand.parse(["q", "--nack"]).disposition == .nack)
        #expect(try ConsumeCommand.parse(["q", "--reject", "--count", "2"]).disposition == .reject)
        #expect(throws: (any Error).self) { try ConsumeCommand.parse(["q", "--nack", "--reject"]) }
    }

    /// The seed list comes from `--cluster`, or from `SKIFF_CLUSTER`; an empty one is refused.
    @Test func seeds() throws {
        let options = try ClientOptions.parse(["--cluster", "127.0.0.1:7101, 127.0.0.1:7102,"])
        #expect(try options.seeds() == ["127.0.0.1:7101", "127.0.0.1:7102"])
        #expect(throws: ValidationError.self) { try ClientOptions.parse(["--cluster", " , "]).seeds() }
    }

    /// `cluster status --json` gives `leader` and one `nodes` entry per member with id, role, term, commit and
    /// applied, as the CLI contract says.
    @Test func clusterStatusJSON() {
        let info = ClusterInfo(
            respondingNode: NodeID(1), leaderID: NodeID(1), term: Term(7),
            members: [
                MemberInfo(
                    id: NodeID(1), role: .leader, term: Term(7), commit: LogIndex(40), applied: LogIndex(40),
                    clientAddress: "a:1", peerAddress: "a:2"),
                MemberInfo(
                    id: NodeID(2), role: .follower, term: Term(7), commit: LogIndex(39), applied: LogIndex(38),
                    clientAddress: "b:1", peerAddress: "b:2", reachable: false),
            ])
        let object = ClusterCommand.Status.jsonObject(info)
        #expect(object["leader"] as? UInt64 == 1)
        let nodes = object["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 2)
        #expect(nodes.map { $0["id"] as? UInt64 } == [1, 2])
        #expect(nodes.map { $0["role"] as? String } == ["leader", "follower"])
        #expect(nodes.map { $0["term"] as? UInt64 } == [7, 7])
        #expect(nodes.map { $0["commit"] as? UInt64 } == [40, 39])
        #expect(nodes.map { $0["applied"] as? UInt64 } == [40, 38])
        #expect(nodes.map { $0["reachable"] as? Bool } == [true, false])
    }

    /// Without a leader, `leader` is JSON null, not 0.
    @Test func clusterStatusJSONWithoutLeader() {
        let info = ClusterInfo(respondingNode: NodeID(2), leaderID: .none, term: Term(3), members: [])
        #expect(ClusterCommand.Status.jsonObject(info)["leader"] is NSNull)
    }

    /// Latency percentiles are nearest-rank over the recorded samples.
    @Test func latencyPercentiles() {
        var recorder = LatencyRecorder(capacity: 1000)
        for ms in 1...1000 { recorder.record(UInt64(ms) * 1_000_000) }
        let summary = recorder.summary()
        #expect(summary.p50 == 500)
        #expect(summary.p99 == 990)
        #expect(summary.p999 == 999)
        #expect(summary.max == 1000)
        #expect(LatencyRecorder(capacity: 0).summary().p99 == 0)
    }
}
