import SkiffRaft

/// `node.meta`: the membership (persisted with the hard state, as `Ready.confState` requires) and the address
/// book. A small line format an operator can read:
///
/// ```
/// voters 1,2,3
/// learners
/// address 1 127.0.0.1:7201 127.0.0.1:7101
/// ```
struct NodeMetaFile: Hashable {
    var confState: ConfState?
    var addresses: [AddressRecord] = []

    init(confState: ConfState? = nil, addresses: [AddressRecord] = []) {
        self.confState = confState
        self.addresses = addresses.sorted { $0.node < $1.node }
    }

    func encoded() -> String {
        var lines: [String] = []
        if let conf = confState {
            lines.append("voters " + conf.voters.map { String($0.rawValue) }.joined(separator: ","))
            lines.append("learners " + conf.learners.map { String($0.rawValue) }.joined(separator: ","))
        }
        for a in addresses {
            lines.append(
                "address \(a.node.rawValue) \(a.peerAddress.isEmpty ? "-" : a.peerAddress) "
                    + (a.clientAddress.isEmpty ? "-" : a.clientAddress))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `encoded()`; unreadable lines are skipped (the file is rewritten whole on every change).
    init(decoding text: String) {
        var voters: [NodeID]?
        var learners: [NodeID] = []
        var addresses: [AddressRecord] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let key = fields.first else { continue }
            let ids = { (s: String) in s.split(separator: ",").compactMap { UInt64($0) }.map { NodeID($0) } }
            switch key {
            case "voters": voters = fields.count > 1 ? ids(fields[1]) : []
            case "learners": learners = fields.count > 1 ? ids(fields[1]) : []
            case "address" where fields.count == 4:
                guard let id = UInt64(fields[1]) else { continue }
                addresses.append(
                    AddressRecord(
                        node: NodeID(id), peerAddress: fields[2] == "-" ? "" : fields[2],
                        clientAddress: fields[3] == "-" ? "" : fields[3]))
            default: continue
            }
        }
        self.init(confState: voters.map { ConfState(voters: $0, learners: learners) }, addresses: addresses)
    }
}
