import Foundation
import MediaPlane
import SpillwayClient
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

/// A child process with its output in files, so a failing test can show what the peer said.
final class ChildProcess {
    let process = Process()
    let name: String
    let outputPath: String

    init(_ name: String, _ executable: String, _ arguments: [String], directory: String, environment: [String: String] = [:]) throws {
        self.name = name
        outputPath = "\(directory)/\(name).log"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit; returns its status, or nil on timeout (the process is stopped).
    @discardableResult
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            stop()
            return nil
        }
        return process.terminationStatus
    }

    /// Sends SIGINT (ffmpeg and tshark finish their files on it) and waits.
    func interrupt(waitSeconds: Double = 10) async {
        if process.isRunning { process.interrupt() }
        await wait(seconds: waitSeconds)
    }

    /// Ends the process and every process it started: SIGTERM, then SIGKILL after 3 seconds.
    /// (Kamailio forks workers, and some peers ignore SIGTERM.) Never blocks longer than that.
    func stop() {
        guard process.isRunning else { return }
        let tree = [process.processIdentifier] + Self.descendants(of: process.processIdentifier)
        for pid in tree { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline, tree.contains(where: { kill($0, 0) == 0 && !Self.isZombie($0) }) { usleep(50_000) }
        for pid in tree where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }

    static func descendants(of root: Int32) -> [Int32] {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[pid] = parent }
        }
        var found: [Int32] = []
        var frontier = [root]
        while let next = frontier.popLast() {
            let children = parents.filter { $0.value == next }.map(\.key)
            found += children
            frontier += children
        }
        return found
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
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
func udpPortIsBound(_ port: UInt16) -> Bool {
    (try? UDPPeer(port: port)) == nil
}

/// A fresh scratch directory for one test.
func scratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "spillway-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The `spillway` executable built beside the test bundle.
func spillwayExecutable() throws -> String {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("spillway").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/spillway").path
    guard FileManager.default.isExecutableFile(atPath: fallback) else {
        Issue.record("the spillway executable was not found beside \(directory.path); run `swift build` first")
        throw ExternalTool.ToolMissing(name: "spillway")
    }
    return fallback
}

/// Runs tshark over a capture file and returns one line per packet with the requested fields.
func tsharkFields(_ file: String, filter: String, fields: [String]) throws -> [[String]] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try ExternalTool.path("tshark", package: "tshark"))
    process.arguments = ["-r", file, "-Y", filter, "-T", "fields"] + fields.flatMap { ["-e", $0] }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
}
