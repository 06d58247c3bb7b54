import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Real `skiff serve` processes on 127.0.0.1 with free ports (`freePort()`) and a temporary directory.
///
/// Every process the harness starts is stopped by `shutdown()` (tests call it in `defer`), and `deinit`
/// SIGKILLs anything left, so a failing test never leaks servers.
final class ClusterHarness: @unchecked Sendable {
    struct NodePorts {
        var client: Int
        var peer: Int
        var admin: Int
    }

    /// A test failure inside the harness (a node that never became ready, a missing binary).
    struct HarnessError: Error, CustomStringConvertible {
        var description: String
    }

    let binary: String
    let directory: String
    private(set) var ports: [Int: NodePorts] = [:]
    private var processes: [Int: Process] = [:]
    private let lock = NSLock()
    /// Extra environment for every node (e.g. short checkpoint intervals).
    var environment: [String: String] = [:]

    /// The `skiff` binary the Makefile builds before running tests.
    static func locateBinary() throws -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let path = url.appendingPathComponent(".build/debug/skiff").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError(description: "skiff binary not found at \(path); run `swift build` first")
        }
        return path
    }

    init(nodes: Int) throws {
        binary = try Self.locateBinary()
        var template = Array((NSTemporaryDirectory() + "skiff-it-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError(description: "mkdtemp failed") }
        directory = String(cString: made)
        for n in 1...nodes { ports[n] = try Self.allocatePorts() }
    }

    deinit {
        for (_, process) in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Adds the ports of a node that will join later (membership tests).
    func reservePorts(for node: Int) throws { ports[node] = try Self.allocatePorts() }

    /// `host:port` of every started or reserved node's client listener, in node order.
    var seeds: [String] { ports.keys.sorted().map { "127.0.0.1:\(ports[$0]!.client)" } }

    func peerList(_ members: [Int]) -> String {
        members.map { "\($0)=127.0.0.1:\(ports[$0]!.peer)/127.0.0.1:\(ports[$0]!.client)" }.joined(separator: ",")
    }

    /// Starts node `n` with `members` as its bootstrap peer list (default: every node with reserved ports).
    func start(_ n: Int, members: [Int]? = nil, join: Bool = false, extra: [String: String] = [:]) throws {
        let p = ports[n]!
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SKIFF_") }
        env["SKIFF_NODE_ID"] = String(n)
        env["SKIFF_DATA_DIR"] = directory + "/node\(n)"
        env["SKIFF_CLIENT_ADDRESS"] = "127.0.0.1:\(p.client)"
        env["SKIFF_PEER_ADDRESS"] = "127.0.0.1:\(p.peer)"
        env["SKIFF_ADMIN_ADDRESS"] = "127.0.0.1:\(p.admin)"
        env["SKIFF_PEERS"] = peerList(members ?? ports.keys.sorted())
        if join { env["SKIFF_JOIN"] = "true" }
        for (k, v) in environment { env[k] = v }
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let logPath = directory + "/node\(n).log"
        let fd = open(logPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw HarnessError(description: "cannot open \(logPath)") }
        let log = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { processes[n] = process }
    }

    func startAll() throws { for n in ports.keys.sorted() { try start(n) } }

    /// SIGKILL: the process dies at once with whatever is unsynced lost.
    func kill9(_ n: Int) {
        guard let process = lock.withLock({ processes[n] }), process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait (bounded) for a graceful exit.
    func stop(_ n: Int, timeout: TimeInterval = 10) {
        guard let process = lock.withLock({ processes[n] }), process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill9(n) }
    }

    /// SIGSTOP (pause) or SIGCONT (resume) node `n`.
    func signal(_ n: Int, _ signal: Int32) {
        guard let process = lock.withLock({ processes[n] }), process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// The scheduler states of node `n`'s threads from /proc (R running, S sleeping, T stopped), one letter per
    /// thread, for waiting on SIGSTOP (each thread stops on its own) and for diagnostics.
    func processState(_ n: Int) -> String {
        guard let process = lock.withLock({ processes[n] }) else { return "?" }
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        let states = threads.sorted().compactMap { thread -> Character? in
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            return stat[close...].dropFirst(2).first
        }
        return states.isEmpty ? "?" : String(states)
    }

    /// True when every thread of node `n` is stopped (after SIGSTOP).
    func isStopped(_ n: Int) -> Bool { processState(n).allSatisfy { $0 == "T" || $0 == "t" } }

    func isRunning(_ n: Int) -> Bool { lock.withLock { processes[n]?.isRunning ?? false } }

    /// Stops every node (SIGTERM, then SIGKILL after a bound) and removes the directory unless kept
    /// (`SKIFF_IT_KEEP=1` keeps it for debugging).
    func shutdown(keepDirectory: Bool = ProcessInfo.processInfo.environment["SKIFF_IT_KEEP"] != nil) {
        for n in lock.withLock({ Array(processes.keys) }) { stop(n, timeout: 5) }
        if !keepDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// The `/cluster` JSON of node `n`, or nil when it does not answer.
    func clusterJSON(_ n: Int) -> [String: Any]? {
        guard let body = httpGet(port: ports[n]!.admin, path: "/cluster"),
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        else { return nil }
        return object
    }

    /// Waits until some running node reports a leader, and returns its id.
    func waitForLeader(timeout: TimeInterval = 10, excluding: Set<Int> = []) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for n in ports.keys.sorted() where isRunning(n) {
                if let json = clusterJSON(n), let leader = json["leader"] as? Int, !excluding.contains(leader),
                    isRunning(leader), (clusterJSON(leader)?["role"] as? String) == "leader"
                {
                    return leader
                }
            }
            usleep(20_000)
        }
        throw HarnessError(description: "no leader within \(timeout) s\n" + logTails(ports.keys.sorted()))
    }

    /// Waits until node `n` has applied at least `index`.
    func waitForApplied(_ n: Int, atLeast index: Int, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let applied = clusterJSON(n)?["applied"] as? Int, applied >= index { return }
            usleep(20_000)
        }
        let seen = clusterJSON(n)?["applied"] as? Int ?? -1
        throw HarnessError(description: "node \(n) applied \(seen) < \(index) after \(timeout) s\n" + logTails([n]))
    }

    /// The last lines of some nodes' logs, for a failure message: the directory is deleted at shutdown, and in CI
    /// the test's output is all that is left of a timeout.
    func logTails(_ nodes: [Int], lines: Int = 25) -> String {
        nodes.map { n in
            let tail = log(n).split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
            let header = "--- node \(n) (running: \(isRunning(n))), last \(tail.count) log lines:\n"
            return header + tail.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func applied(_ n: Int) -> Int? { clusterJSON(n)?["applied"] as? Int }

    /// Node `n`'s log output so far (every start appends to the same file).
    func log(_ n: Int) -> String { (try? String(contentsOfFile: directory + "/node\(n).log", encoding: .utf8)) ?? "" }

    /// Three free ports for the node to bind.
    private static func allocatePorts() throws -> NodePorts {
        NodePorts(client: try freePort(), peer: try freePort(), admin: try freePort())
    }

    /// Ports handed to nodes come from below the kernel's ephemeral range (32768-60999 by default), never from
    /// it: a port picked by `bind(0)` and released could be taken by one of the many outgoing client
    /// connections of the tests running in parallel before the node binds it, and the node would not start.
    /// Within this process no port is handed out twice; a port another process holds fails the bind check.
    static let portRange = 20_000..<32_000
    private static let nextPort = Mutex(portRange.lowerBound + Int(getpid() % 1_000) * 11)

    static func freePort() throws -> Int {
        for _ in 0..<portRange.count {
            let port = nextPort.withLock { next in
                defer { next = next + 1 >= portRange.upperBound ? portRange.lowerBound : next + 1 }
                return next
            }
            if canBind(port) { return port }
        }
        throw HarnessError(description: "no free port in \(portRange)")
    }

    /// Whether `port` on 127.0.0.1 can be bound right now (bound and released at once).
    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let len = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 }
        }
    }
}

/// A minimal blocking HTTP/1.0 GET on 127.0.0.1 with a 1 s bound; nil on any failure.
func httpGet(port: Int, path: String) -> String? {
    guard let fd = connectLoopback(port: port, timeoutMs: 1000) else { return nil }
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        response.append(contentsOf: buffer[0..<n])
        if response.count > 1 << 20 { return nil }
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[split.upperBound...])
}

/// A connected TCP socket to 127.0.0.1:`port` with send/receive timeouts, or nil.
func connectLoopback(port: Int, timeoutMs: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    let ok = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard ok == 0 else {
        close(fd)
        return nil
    }
    return fd
}
