import ChaosCheck

/// Carries out a seeded fault schedule against the running nodes and records every fault in the history.
struct Nemesis: Sendable {
    let steps: [NemesisStep]
    let nodes: NodeProcesses
    let links: any LinkBackend
    let probe: AdminProbe
    let recorder: HistoryRecorder
    let nodeCount: Int
    /// True when node data directories are tmpfs mounts that a disk-full fault can fill.
    let diskFaults: Bool

    /// What `begin` did, so `end` can undo it.
    struct Applied: Sendable {
        var victims: [Int] = []
        var detail: String
    }

    /// Runs every step at its time (relative to `start`); returns early if the task is cancelled.
    func run(start: ContinuousClock.Instant) async {
        for step in steps {
            do {
                try await Task.sleep(until: start + .milliseconds(step.startMs), clock: .continuous)
            } catch {
                return
            }
            let applied = await begin(step)
            await record(.start, step, applied)
            Console.out("nemesis: \(step.fault.rawValue) \(applied.detail)")
            try? await Task.sleep(for: .milliseconds(step.durationMs))
            await end(step, applied)
            await record(.stop, step, applied)
            if Task.isCancelled { return }
        }
    }

    /// Undoes every fault, starts dead nodes and resumes paused ones. Recorded as a `heal-all` window.
    func healAll() async {
        var event = HistoryEvent(type: .nemesis, t: 0, op: .start, process: -1, opId: Int64(steps.count + 1))
        event.fault = "heal-all"
        await recorder.record(event)
        _ = await links.apply(LinkRules())
        for spec in nodes.specs where diskFaults { DiskFiller.free(spec.dataDir) }
        do { try await nodes.reviveAll() } catch { event.error = "\(error)" }
        event.op = .stop
        await recorder.record(event)
    }

    private func record(_ op: OpKind, _ step: NemesisStep, _ applied: Applied) async {
        var event = HistoryEvent(type: .nemesis, t: 0, op: op, process: -1, opId: Int64(step.id))
        event.fault = step.fault.rawValue
        event.nodes = applied.victims
        event.detail = applied.detail
        await recorder.record(event)
    }

    private func begin(_ step: NemesisStep) async -> Applied {
        var leader = 1
        var leaderNote = ""
        if step.fault.needsLeader {
            if let known = await probe.leader(of: nodes.specs) {
                leader = known
            } else {
                leaderNote = " (leader unknown)"
            }
        }
        let victims = FaultTargets.victims(step, nodes: nodeCount, leader: leader)
        switch step.fault {
        case .killLeader, .killRandom, .killMinority:
            for victim in victims { await nodes.kill(victim) }
            return Applied(victims: victims, detail: "SIGKILL \(victims)" + leaderNote)
        case .pauseLeader, .pauseFollower:
            for victim in victims { await nodes.pause(victim) }
            return Applied(victims: victims, detail: "SIGSTOP \(victims)" + leaderNote)
        case .partitionHalves, .partitionLeader, .partitionBridge, .partitionOneWay:
            let cuts = FaultTargets.cuts(step, nodes: nodeCount, leader: leader)
            let note = await links.apply(LinkRules(cut: Set(cuts)))
            let text = "cut " + cuts.map(\.description).joined(separator: " ") + leaderNote
            return Applied(detail: text + (note.map { "; \($0)" } ?? ""))
        case .delay:
            let note = await links.apply(LinkRules(delayMs: step.delayMs))
            return Applied(detail: "delay \(step.delayMs) ms on every link" + (note.map { "; \($0)" } ?? ""))
        case .loss:
            let note = await links.apply(LinkRules(lossPercent: step.lossPercent))
            return Applied(detail: "loss \(step.lossPercent)% on every link" + (note.map { "; \($0)" } ?? ""))
        case .diskFull:
            guard diskFaults else { return Applied(detail: "skipped: disk-full needs root for tmpfs data dirs") }
            var bytes = 0
            for victim in victims { bytes += DiskFiller.fill(await nodes.spec(victim).dataDir) }
            return Applied(victims: victims, detail: "filled \(victims) with \(bytes >> 20) MiB")
        }
    }

    private func end(_ step: NemesisStep, _ applied: Applied) async {
        switch step.fault {
        case .killLeader, .killRandom, .killMinority:
            for victim in applied.victims { try? await nodes.start(victim) }
        case .pauseLeader, .pauseFollower:
            for victim in applied.victims { await nodes.resume(victim) }
        case .partitionHalves, .partitionLeader, .partitionBridge, .partitionOneWay, .delay, .loss:
            _ = await links.apply(LinkRules())
        case .diskFull:
            // A node that stopped on a failed write is restarted once there is room, as an operator would.
            for victim in applied.victims {
                DiskFiller.free(await nodes.spec(victim).dataDir)
                try? await nodes.start(victim)
            }
        }
    }
}
