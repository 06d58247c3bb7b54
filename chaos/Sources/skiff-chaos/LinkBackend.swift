import ChaosCheck

/// Cuts, delays and loses peer traffic. Two implementations: the userspace proxy and network namespaces.
protocol LinkBackend: Sendable {
    var name: String { get }
    /// Makes `rules` the complete set of link faults in force. Returns a note when part of it is not
    /// supported by this backend (recorded in the history next to the fault).
    func apply(_ rules: LinkRules) async -> String?
}

/// The userspace TCP proxy on every peer link.
struct ProxyLinks: LinkBackend {
    let proxy: LinkProxy
    var name: String { "proxy" }

    func apply(_ rules: LinkRules) async -> String? {
        proxy.apply(rules)
        return nil
    }
}

/// Network namespaces via `deploy/netns/hosts`: iptables cuts in the receiving namespace, netem delay.
struct NamespaceLinks: LinkBackend {
    let script: String
    let prefix: String
    var name: String { "netns" }

    func apply(_ rules: LinkRules) async -> String? {
        var notes: [String] = []
        let healed = await CommandRunner.run([script, "heal", "--prefix", prefix])
        if healed.status != 0 { notes.append("heal failed: \(healed.output)") }
        for link in rules.cut.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) {
            let result = await CommandRunner.run([
                script, "cut", String(link.from), String(link.to), "--prefix", prefix,
            ])
            if result.status != 0 { notes.append("cut \(link) failed: \(result.output)") }
        }
        if rules.delayMs > 0 {
            let result = await CommandRunner.run([script, "delay", String(rules.delayMs), "--prefix", prefix])
            if result.status == 3 {
                notes.append("delay unsupported (no sch_netem in this kernel)")
            } else if result.status != 0 {
                notes.append("delay failed: \(result.output)")
            }
        }
        if rules.lossPercent > 0 {
            let result = await CommandRunner.run([script, "loss", String(rules.lossPercent), "--prefix", prefix])
            if result.status != 0 { notes.append("loss failed: \(result.output)") }
        }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }
}
