import CTestShims
import Foundation
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import Testing

/// Real peers from Debian packages (kamailio, sipp, ffmpeg, tshark), run as child processes.
/// A missing tool fails the test with the package to install; it is never skipped.
enum ExternalTool {
    static func path(_ name: String, package: String) throws -> String {
        for directory in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin", "/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        Issue.record("\(name) is not installed: apt-get install \(package)")
        throw ToolMissing(name: name)
    }

    struct ToolMissing: Error { var name: String }
}

/// A child process with its output in a file, so a failing test can show what the peer said.
///
/// Spawned with posix_spawn in its own process group, with default signal handling (a test runner
/// may ignore SIGINT/SIGTERM, and children would inherit that), and reaped with waitpid here rather
/// than by Foundation's Process, whose reaping is unreliable when tests spawn concurrently.
final class ChildProcess {
    let name: String
    let outputPath: String
    let pid: pid_t
    private var exitStatus: Int32?

    /// Starts `executable` in `directory` with the test's environment plus `environment`.
    init(
        _ name: String, _ executable: String, _ arguments: [String], directory: String,
        environment: [String: String] = [:]
    ) throws {
        self.name = name
        outputPath = "\(directory)/\(name).log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The child gets no other descriptor of this process. Sockets of the in-process nodes under
        // test (SwiftNIO accepts without close-on-exec) would otherwise live on in it: a node's close
        // would send no FIN while the child runs, and a media port would stay bound.
        spw_test_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        // coreutils env changes directory for the child (posix_spawn has no portable chdir action)
        // and sets the extra variables.
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let argv =
            (["/usr/bin/env", "-C", directory] + assignments + [executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child = pid_t()
        let result = posix_spawn(&child, "/usr/bin/env", &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnFailed(executable: executable, errno: result) }
        pid = child
    }

    struct SpawnFailed: Error, CustomStringConvertible {
        var executable: String
        var errno: Int32
        var description: String { "posix_spawn \(executable) failed: \(String(cString: strerror(errno)))" }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Whether the process is still running (reaps it when it has exited).
    var isRunning: Bool {
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return reaped == 0 }
        // WIFEXITED: the low 7 bits are 0; then the exit code is in bits 8-15. A signal gives 128+signal.
        exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return false
    }

    /// Waits for the process to exit; returns its status, or nil on timeout (the process is stopped).
    @discardableResult
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if isRunning {
            stop()
            return nil
        }
        return exitStatus
    }

    /// Sends SIGINT (ffmpeg and tshark finish their files on it) and waits.
    func interrupt(waitSeconds: Double = 10) async {
        if isRunning { kill(pid, SIGINT) }
        await wait(seconds: waitSeconds)
    }

    /// Ends the process group: SIGTERM, then SIGKILL after 3 seconds. Never blocks longer than that.
    func stop() {
        guard isRunning else { return }
        kill(-pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while isRunning, Date() < deadline { usleep(50_000) }
        if isRunning { kill(-pid, SIGKILL) }
        while isRunning { usleep(10_000) }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }
}

/// Whether a UDP port on 127.0.0.1 is already bound (by the peer we are waiting for).
func udpPortIsBound(_ port: UInt16, ip: String = "127.0.0.1") -> Bool {
    (try? UDPPeer(bindingTo: ip, port: port)) == nil
}

/// A fresh scratch directory for one test.
func scratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "spillway-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The package's root directory (where Package.swift is).
let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The `spillway` executable built beside the test bundle.
func spillwayExecutable() throws -> String { try builtExecutable("spillway") }

/// An executable product of this package (`swift build` builds them all), found beside the test
/// bundle.
func builtExecutable(_ name: String) throws -> String {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    let fallback = packageDirectory.appendingPathComponent(".build/debug/\(name)").path
    guard FileManager.default.isExecutableFile(atPath: fallback) else {
        Issue.record("the \(name) executable was not found beside \(directory.path); run `swift build` first")
        throw ExternalTool.ToolMissing(name: name)
    }
    return fallback
}

/// An executable of the package's release build, which the README's test command builds before the
/// suite runs (`swift build -c release --product NAME`).
func releaseExecutable(_ name: String) throws -> String {
    let path = packageDirectory.appendingPathComponent(".build/release/\(name)").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        Issue.record("\(path) is missing: run `swift build -c release --product \(name)` first")
        throw ExternalTool.ToolMissing(name: name)
    }
    return path
}

/// Builds `bench/NAME.c` into `directory` with the system C compiler; `flags` go before the source
/// (`-shared -fPIC` for a preloaded library). Returns the output's path.
func compileBenchTool(_ name: String, into directory: String, output: String? = nil, flags: [String] = []) async throws
    -> String
{
    let source = packageDirectory.appendingPathComponent("bench/\(name).c").path
    let binary = "\(directory)/\(output ?? name)"
    let compiler = try ChildProcess(
        "cc-\(name)", try ExternalTool.path("cc", package: "gcc"), ["-O2"] + flags + ["-o", binary, source],
        directory: directory)
    guard await compiler.wait(seconds: 60) == 0, FileManager.default.isExecutableFile(atPath: binary) else {
        Issue.record("bench/\(name).c did not compile: \(compiler.output)")
        throw ExternalTool.ToolMissing(name: name)
    }
    return binary
}

/// A tshark capture on the loopback interface into `file` in `directory`, started and stopped so
/// that nothing sent while it runs is lost.
///
/// dumpcap says "Capturing on" before its socket takes packets, and on a loaded machine the first
/// few milliseconds of traffic can pass unseen: `start` therefore sends probe datagrams to a port
/// of its own, which the capture filter also admits, until they reach the file. dumpcap writes its
/// ring out in batches, so `stop` waits for the file to stop growing before ending it.
final class LoopbackCapture {
    let process: ChildProcess
    let path: String
    private let directory: String

    /// Starts capturing what `filter` (a capture filter) admits.
    static func start(filter: String, file: String = "wire.pcap", in directory: String) async throws -> LoopbackCapture
    {
        let probe = try UDPPeer()
        let process = try ChildProcess(
            "capture", try ExternalTool.path("tshark", package: "tshark"),
            ["-i", "lo", "-f", "(\(filter)) or (udp and dst port \(probe.address.port))", "-w", file],
            directory: directory)
        let capture = LoopbackCapture(process: process, path: "\(directory)/\(file)", directory: directory)
        #expect(
            await ChildProcess.eventually(seconds: 10) { process.output.contains("Capturing on") },
            "tshark did not start: \(process.output)")
        let sizeBefore = capture.size
        let live = await ChildProcess.eventually(seconds: 10) {
            _ = probe.send([0], to: probe.address)
            return capture.size > sizeBefore
        }
        #expect(live, "the capture took none of its probe datagrams")
        return capture
    }

    private init(process: ChildProcess, path: String, directory: String) {
        self.process = process
        self.path = path
        self.directory = directory
    }

    private var size: Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }

    /// Ends the capture once what it took has reached its file.
    func stop() async {
        await FFmpegRelayCall.waitUntilFilesStopGrowing(in: directory)
        await process.interrupt()
    }
}

/// Runs tshark over a capture file and returns one line per packet with the requested fields.
/// `arguments` go to tshark before the fields, e.g. `-o rtp.heuristic_rtp:TRUE` or `-d udp.port==N,rtp`.
func tsharkFields(_ file: String, filter: String, fields: [String], arguments: [String] = []) async throws -> [[String]]
{
    let tshark = try ChildProcess(
        "tshark-read", try ExternalTool.path("tshark", package: "tshark"),
        ["-r", file, "-Y", filter, "-T", "fields"] + arguments + fields.flatMap { ["-e", $0] },
        directory: try scratchDirectory("tshark-read"))
    #expect(await tshark.wait(seconds: 60) == 0, "tshark could not read \(file)")
    return tshark.output.split(separator: "\n").filter { !$0.hasPrefix("Running as user") }
        .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
}

/// A relay node on 127.0.0.1 with an ephemeral NG port and the given media ports, and an NG client for it.
func startLoopbackNode(
    mediaPorts: ClosedRange<UInt16>, label: String, interfaces: [String] = []
) async throws -> (RelayNode, NGClient) {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    var configuration = NodeConfiguration()
    configuration.ngAddress = "127.0.0.1:0"
    configuration.portRange = mediaPorts
    for interface in interfaces { try configuration.set("interface", to: interface) }
    let node = try await RelayNode.start(configuration, logger: logger)
    return (node, try NGClient(server: node.ngAddress))
}

/// Decodes `messages` of ASN.1 type `type` (`RasMessage`, `H323-UserInformation` or
/// `OpenLogicalChannel`) with pycrate, an independent ALIGNED PER codec: one JSON object per message.
func pycrateDecode(_ type: String, _ messages: [[UInt8]]) async throws -> [[String: Any]] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Scripts/pycrate_decode.py"
    ).path
    let directory = try scratchDirectory("pycrate-decode")
    let input = "\(directory)/messages-\(UUID().uuidString).hex"
    try messages.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n").write(
        toFile: input, atomically: true, encoding: .utf8)
    let python = try ChildProcess(
        "pycrate", try ExternalTool.path("python3", package: "python3"), [script, type, input], directory: directory)
    let status = await python.wait(seconds: 60)
    try #require(status == 0, "the pycrate decoder failed (pip install pycrate): \(python.output)")
    return try python.output.split(separator: "\n").map {
        try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not JSON: \($0)")
    }
}
