/// A directed link between two nodes: traffic from `from` to `to`.
public struct Link: Hashable, Sendable, Codable, CustomStringConvertible {
    public var from: Int
    public var to: Int

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from)->\(to)" }
}

/// Which links a partition fault cuts, and which nodes a process fault hits, once the leader is known.
public enum FaultTargets {
    /// Directed links to cut for a partition fault. `leader` is the current leader (any node if unknown).
    public static func cuts(_ step: NemesisStep, nodes: Int, leader: Int) -> [Link] {
        let all = Array(1...nodes)
        switch step.fault {
        case .partitionHalves:
            return bothWays(step.nodes, all.filter { !step.nodes.contains($0) })
        case .partitionLeader:
            return bothWays([leader], all.filter { $0 != leader })
        case .partitionOneWay:
            return all.filter { $0 != leader }.map { Link(from: leader, to: $0) }
        case .partitionBridge:
            // step.nodes is a seeded permutation: the first is the bridge, the rest split in two sides.
            let others = Array(step.nodes.dropFirst())
            let half = others.count / 2
            return bothWays(Array(others.prefix(half)), Array(others.dropFirst(half)))
        default:
            return []
        }
    }

    /// Nodes a kill or pause fault hits.
    public static func victims(_ step: NemesisStep, nodes: Int, leader: Int) -> [Int] {
        switch step.fault {
        case .killLeader, .pauseLeader:
            return [leader]
        case .pauseFollower:
            let followers = (1...nodes).filter { $0 != leader }
            return followers.isEmpty ? [] : [followers[Int(step.pick % UInt64(followers.count))]]
        case .killRandom, .killMinority, .diskFull:
            return step.nodes
        default:
            return []
        }
    }

    static func bothWays(_ left: [Int], _ right: [Int]) -> [Link] {
        var links: [Link] = []
        for a in left {
            for b in right {
                links.append(Link(from: a, to: b))
                links.append(Link(from: b, to: a))
            }
        }
        return links
    }
}
