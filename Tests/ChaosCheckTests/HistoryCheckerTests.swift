import Testing

@testable import ChaosCheck

@Suite("History checker")
struct HistoryCheckerTests {
    /// A history exercising every operation kind with no anomaly is judged valid by every check.
    @Test func cleanHistoryIsValid() {
        let verdict = HistoryBuilder.clean().verdict()
        #expect(verdict.valid, "\(verdict.summary())")
        #expect(verdict.checks.count == 11)
        #expect(verdict.check("lost")?.info["acknowledged"] == 11)
        #expect(verdict.counts["publish"]?["ok"] == 5)
        #expect(verdict.counts["deliver"]?["ok"] == 8)
    }

    /// An acknowledged publish that no consumer ever saw is reported as lost.
    @Test func lostAcknowledgedPublish() {
        var b = HistoryBuilder.clean()
        b.publish("gone", seq: 6)
        let verdict = b.verdict()
        #expect(!verdict.valid)
        #expect(verdict.check("lost")?.count == 1)
        #expect(verdict.check("lost")?.examples.first?.contains("gone") == true)
    }

    /// A publish whose outcome is unknown may be lost without a violation.
    @Test func unknownPublishMayBeMissing() {
        var b = HistoryBuilder.clean()
        b.publish("maybe", seq: 6, outcome: .unknown)
        #expect(b.verdict().valid)
    }

    /// An acknowledged topic record or transaction that never shows up is lost too.
    @Test func lostTopicRecordAndTransaction() {
        var b = HistoryBuilder.clean()
        b.produce("r9", seq: 9, offset: 9)
        b.op(.txn, process: 5) {
            $0.tx = "tx9"
            $0.msgs = ["y1"]
        }
        #expect(b.verdict().check("lost")?.count == 2)
    }

    /// A delivery of a message nobody published is a phantom.
    @Test func phantomNeverPublished() {
        var b = HistoryBuilder.clean()
        b.deliver("ghost")
        let verdict = b.verdict()
        #expect(!verdict.valid)
        #expect(verdict.check("phantom")?.count == 1)
    }

    /// A delivery of a message whose only publish definitely failed is a phantom.
    @Test func phantomFailedPublish() {
        var b = HistoryBuilder.clean()
        b.publish("failed", seq: 6, outcome: .fail)
        b.deliver("failed")
        #expect(b.verdict().check("phantom")?.count == 1)
    }

    /// Redelivery after a successful ack is a violation.
    @Test func duplicateAfterAck() {
        var b = HistoryBuilder.clean()
        b.deliver("m1", deliveries: 2)
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["after-ack"] == 1)
    }

    /// An old grant that sat in a consumer's buffer and is seen after a later grant was acked is allowed
    /// (its delivery count is not above one already seen), provided its own ack is refused.
    @Test func staleGrantSeenLateIsAllowed() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3)
        b.deliver("a", consumer: 2, deliveries: 1)
        b.ack("a", consumer: 2, outcome: .fail)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == true)
        #expect(check?.info["stale-grant"] == 1)
        #expect(check?.info["after-ack"] == 0)
    }

    /// A late-seen old grant whose ack nevertheless succeeds is a violation: the broker (or the client)
    /// confirmed an ack of a lease that a later grant had superseded, and the message was acked twice.
    @Test func staleGrantAckedIsViolation() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3)
        b.deliver("a", consumer: 2, deliveries: 1)
        b.ack("a", consumer: 2)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["acked-twice"] == 1)
        #expect(check?.info["superseded-ack"] == 1)
    }

    /// A redelivery with a higher delivery count after a successful ack is still after-ack, not stale.
    @Test func higherCountAfterAckIsNotStale() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 2, deliveries: 1)
        b.ack("a", consumer: 2)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["after-ack"] == 1)
        #expect(check?.info["stale-grant"] == 0)
    }

    /// An acked delivery redelivered around the holder's re-subscription (its connection was lost, so the ack
    /// could not settle, and its outcome is unknown) is allowed as after-disconnect.
    @Test func duplicateAfterDisconnect() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 2)
        b.ack("a", consumer: 2, outcome: .unknown)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.observe(.resubscribe, process: 2)
        b.ack("a", consumer: 3)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == true)
        #expect(check?.info["after-disconnect"] == 1)
    }

    /// A redelivery after a leader change (every consumer connection to the old leader dropped) is allowed.
    @Test func duplicateAfterLeaderChange() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 2)
        b.ack("a", consumer: 2, outcome: .unknown)
        b.observe(.leader, process: -1) { $0.node = 2 }
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3)
        b.drain()
        #expect(b.verdict().check("duplicates")?.info["after-disconnect"] == 1)
    }

    /// A successful ack is final even across a re-subscription: the client reports an ack as done only when
    /// the broker applied it, so a later grant of the message is after-ack, not after-disconnect.
    @Test func okAckIsFinalAcrossDisconnect() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 2)
        b.ack("a", consumer: 2)
        b.observe(.resubscribe, process: 2)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3, outcome: .fail)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["after-ack"] == 1)
    }

    /// Redelivery after the holder crashed, or after its lease expired, is allowed but counted by class.
    @Test func allowedDuplicatesAreClassified() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.publish("b", seq: 2)
        b.deliver("a", consumer: 2)
        b.observe(.crash, process: 2)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3)
        b.deliver("b", consumer: 3)
        b.advance(ms: 6_000)
        b.deliver("b", consumer: 4, deliveries: 2)
        b.ack("b", consumer: 4)
        b.drain()
        let verdict = b.verdict()
        let check = verdict.check("duplicates")
        #expect(verdict.valid, "\(verdict.summary())")
        #expect(check?.info["after-crash"] == 1)
        #expect(check?.info["after-lease-expiry"] == 1)
    }

    /// Redelivery within the lease, with no crash, nack or failed ack, is unexplained and invalid.
    @Test func duplicateWithinLeaseIsUnexplained() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a", consumer: 2)
        b.deliver("a", consumer: 3, deliveries: 2)
        b.ack("a", consumer: 3)
        b.drain()
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["unexplained"] == 1)
    }

    /// One client message stored twice (two broker ids), as when idempotence is skipped, is a violation.
    @Test func duplicateStoredTwice() {
        var b = HistoryBuilder.clean()
        b.deliver("m2", consumer: 3, serverId: "s-other")
        let check = b.verdict().check("duplicates")
        #expect(check?.valid == false)
        #expect(check?.info["stored-twice"] == 1)
    }

    /// A topic message acknowledged at two offsets is stored twice.
    @Test func topicStoredTwice() {
        var b = HistoryBuilder.clean()
        b.produce("r0", seq: 1, offset: 3)
        #expect(b.verdict().check("duplicates")?.info["stored-twice"] == 1)
    }

    /// A consumer receiving a producer's later message first (same priority, no delay) breaks FIFO.
    @Test func fifoViolation() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.publish("b", seq: 2)
        b.deliver("b")
        b.deliver("a")
        b.ack("a")
        b.ack("b")
        b.drain()
        let check = b.verdict().check("fifo")
        #expect(check?.count == 1)
    }

    /// A publish with an unknown outcome (the client may still be resending it) promises no order.
    @Test func fifoIgnoresUnknownPublishes() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1, outcome: .unknown)
        b.publish("b", seq: 2)
        b.deliver("b")
        b.deliver("a")
        b.drain()
        #expect(b.verdict().check("fifo")?.valid == true)
    }

    /// Different priority levels may be delivered out of publish order.
    @Test func fifoIgnoresOtherPriorities() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1, priority: 0)
        b.publish("b", seq: 2, priority: 9)
        b.deliver("b")
        b.deliver("a")
        b.drain()
        #expect(b.verdict().check("fifo")?.valid == true)
    }

    /// A topic producer's later record acknowledged at a lower offset breaks FIFO.
    @Test func topicProducerOrder() {
        var b = HistoryBuilder.clean()
        b.produce("r3", seq: 5, offset: 3)
        b.produce("r4", seq: 6, offset: 2)
        #expect(b.verdict().check("fifo")?.valid == false)
    }

    /// Reading an offset not above the previous one in the same partition is a topic order violation.
    @Test func topicReorder() {
        var b = HistoryBuilder.clean()
        b.consume("r1", offset: 1)
        #expect(b.verdict().check("topic-order")?.count == 1)
    }

    /// A seek restarts ordering, so re-reading after it is fine.
    @Test func topicSeekAllowsReread() {
        var b = HistoryBuilder.clean()
        b.observe(.seek, process: 4) {
            $0.topic = "t"
            $0.partition = 0
            $0.offset = 0
        }
        b.consume("r0", offset: 0)
        #expect(b.verdict().check("topic-order")?.valid == true)
    }

    /// Jumping over an acknowledged record is a gap.
    @Test func topicGap() {
        var b = HistoryBuilder()
        for offset in 0..<3 { b.produce("r\(offset)", seq: Int64(offset + 1), offset: Int64(offset)) }
        b.consume("r0", offset: 0)
        b.consume("r2", offset: 2)
        b.consume("r1", offset: 1, consumer: 5)
        b.drain(queue: nil, topic: "t")
        let check = b.verdict().check("topic-order")
        #expect(check?.count == 1)
        #expect(check?.examples.first?.contains("skipping") == true)
    }

    /// One offset holding a different record than the one acknowledged there is a violation.
    @Test func topicOffsetConflict() {
        var b = HistoryBuilder.clean()
        b.consume("r1", offset: 0, consumer: 7)
        #expect(b.verdict().check("topic-order")?.valid == false)
    }

    /// Reading a committed offset lower than an earlier acknowledged commit is "going backwards".
    @Test func committedOffsetBackwards() {
        var b = HistoryBuilder.clean()
        b.offsetOp(.commitOffset, offset: 5)
        b.offsetOp(.readOffset, offset: 2)
        let check = b.verdict().check("committed-offsets")
        #expect(check?.count == 1)
    }

    /// A group reset (seek with the group) lowers the committed offset legitimately.
    @Test func committedOffsetResetAllowed() {
        var b = HistoryBuilder.clean()
        b.observe(.seek, process: 4) {
            $0.group = "g"
            $0.topic = "t"
            $0.partition = 0
            $0.offset = 0
        }
        b.offsetOp(.readOffset, offset: 0)
        #expect(b.verdict().check("committed-offsets")?.valid == true)
    }

    /// A transaction with only some of its messages visible is partially visible.
    @Test func transactionPartial() {
        var b = HistoryBuilder.clean()
        b.op(.txn, process: 5, outcome: .unknown) {
            $0.tx = "tx2"
            $0.msgs = ["z1", "z2", "z3"]
        }
        b.deliver("z2")
        let check = b.verdict().check("transactions")
        #expect(check?.count == 1)
    }

    /// A definitely aborted transaction whose messages are visible is a violation.
    @Test func transactionAbortedVisible() {
        var b = HistoryBuilder.clean()
        b.op(.txn, process: 5, outcome: .fail) {
            $0.tx = "tx3"
            $0.msgs = ["w1"]
        }
        b.deliver("w1")
        #expect(b.verdict().check("transactions")?.valid == false)
    }

    /// A stored half message with no commit, rollback or check answer is unresolved.
    @Test func halfMessageUnresolved() {
        var b = HistoryBuilder.clean()
        b.op(.halfPublish, process: 6) {
            $0.tx = "h3"
            $0.msg = "hm3"
        }
        b.op(.halfCommit, process: 6, outcome: .unknown) { $0.tx = "h3" }
        let check = b.verdict().check("half-messages")
        #expect(check?.count == 1)
        #expect(check?.examples.first?.contains("neither") == true)
    }

    /// A half message resolved by the broker's check-back is not unresolved; a commit answer makes it owed.
    @Test func halfMessageResolvedByCheck() {
        var b = HistoryBuilder.clean()
        b.op(.halfPublish, process: 6) {
            $0.tx = "h4"
            $0.msg = "hm4"
        }
        b.observe(.halfCheck, process: 6) {
            $0.tx = "h4"
            $0.decision = "commit"
        }
        #expect(b.verdict().check("half-messages")?.valid == true)
        #expect(b.verdict().check("lost")?.count == 1)
        b.deliver("hm4")
        #expect(b.verdict().valid)
    }

    /// A rolled-back half message that gets delivered, or one visible before its commit, is a violation.
    @Test func halfMessageRolledBackVisibleOrEarly() {
        var b = HistoryBuilder.clean()
        b.deliver("hm2")
        #expect(b.verdict().check("half-messages")?.count == 1)
        var early = HistoryBuilder()
        early.op(.halfPublish, process: 6) {
            $0.tx = "h5"
            $0.msg = "hm5"
        }
        early.deliver("hm5")
        early.op(.halfCommit, process: 6) { $0.tx = "h5" }
        #expect(early.verdict().check("half-messages")?.examples.first?.contains("before") == true)
    }

    /// A queue with acknowledged messages that was not drained makes the verdict invalid.
    @Test func drainMissing() {
        var b = HistoryBuilder()
        b.publish("a", seq: 1)
        b.deliver("a")
        b.drain(outcome: .unknown)
        #expect(b.verdict().check("drain")?.count == 1)
    }

    /// A long window without success after the last heal exceeds the bound; during faults it does not count.
    @Test func unavailabilityAfterHeal() {
        var b = HistoryBuilder(boundMs: 1_000)
        b.nemesis(.start, fault: "partition-leader", id: 1)
        b.advance(ms: 5_000)
        b.nemesis(.stop, fault: "partition-leader", id: 1)
        b.publish("a", seq: 1)
        b.deliver("a")
        b.ack("a")
        b.drain()
        #expect(b.verdict().check("availability")?.valid == true)
        #expect(b.verdict().check("availability")?.info["longest-overall-ms"] ?? 0 >= 5_000)
        b.advance(ms: 3_000)
        b.op(.workloadEnd, process: 9)
        // The final heal after the workload does not shorten the judged window.
        b.nemesis(.start, fault: "heal-all", id: 9)
        b.nemesis(.stop, fault: "heal-all", id: 9)
        let check = b.verdict().check("availability")
        #expect(check?.valid == false)
        #expect(check?.info["longest-after-heal-ms"] ?? 0 >= 3_000)
    }

    /// Publishes that keep failing after healing make the run unavailable even while other operations succeed.
    @Test func unavailabilityPerWriteKind() {
        var b = HistoryBuilder(boundMs: 1_000)
        b.nemesis(.start, fault: "kill-leader", id: 1)
        b.nemesis(.stop, fault: "kill-leader", id: 1)
        for seq in 1...20 {
            b.publish("stuck\(seq)", seq: Int64(seq), outcome: .fail)
            b.produce("r\(seq)", seq: Int64(seq), offset: Int64(seq - 1))
            b.consume("r\(seq)", offset: Int64(seq - 1))
            b.advance(ms: 300)
        }
        b.op(.workloadEnd, process: 9)
        b.drain(queue: nil, topic: "t")
        let check = b.verdict().check("availability")
        #expect(check?.count == 1)
        #expect(check?.examples.first?.contains("no successful publish") == true)
        var lenient = b
        lenient.events[0].meta?.unavailabilityBoundMs = 60_000
        let never = lenient.verdict().check("availability")
        #expect(never?.examples.first?.contains("at all") == true)
        #expect(check?.info["longest-after-heal-produce-ms"] ?? 1_000 < 1_000)
    }

    /// A fault that was started and never stopped is reported.
    @Test func unhealedFault() {
        var b = HistoryBuilder.clean()
        b.nemesis(.start, fault: "pause-follower", id: 2)
        #expect(b.verdict().check("availability")?.examples.first?.contains("never healed") == true)
    }

    /// A completion without an invoke, or a missing header, makes the history malformed.
    @Test func malformedHistory() {
        var b = HistoryBuilder.clean()
        b.events.append(HistoryEvent(type: .ok, t: b.nowNs, op: .publish, process: 1, opId: 999))
        #expect(b.verdict().check("history")?.count == 1)
        let headless = HistoryChecker(events: Array(HistoryBuilder.clean().events.dropFirst())).verdict()
        #expect(headless.check("history")?.valid == false)
    }
}
