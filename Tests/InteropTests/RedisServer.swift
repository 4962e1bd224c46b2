import Foundation
import Testing

/// A real `redis-server` (Debian `redis-server`) on 127.0.0.1, started for one test with no
/// persistence, and `redis-cli` to read what the nodes wrote.
final class RedisServer {
    let port: UInt16
    let directory: String
    private(set) var process: ChildProcess?
    private let password: String?

    var address: String { "127.0.0.1:\(port)" }

    /// Starts a server on `port` and waits until it answers PING.
    init(port: UInt16, name: String, password: String? = nil) async throws {
        self.port = port
        self.password = password
        directory = try scratchDirectory(name)
        try await start()
    }

    /// Starts (again) on the same port.
    func start() async throws {
        let server = try ExternalTool.path("redis-server", package: "redis-server")
        process = try ChildProcess(
            "redis-server", server,
            [
                "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode",
                "yes",
            ] + (password.map { ["--requirepass", $0] } ?? []),
            directory: directory)
        let answering = await ChildProcess.eventually(seconds: 5) { (try? self.cli(["PING"])) == "PONG" }
        #expect(answering, "redis-server did not answer on \(port): \(process?.output ?? "")")
    }

    /// Ends the server at once, as a crash would (SIGKILL), and reaps it.
    func kill() async {
        guard let process else { return }
        Foundation.kill(process.pid, SIGKILL)
        await process.wait(seconds: 5)
        self.process = nil
    }

    func stop() {
        process?.stop()
        process = nil
    }

    /// Runs redis-cli against the server; its output without the trailing newline.
    func cli(_ arguments: [String]) throws -> String {
        let cli = try ChildProcess(
            "redis-cli-\(UUID().uuidString.prefix(8))", try ExternalTool.path("redis-cli", package: "redis-tools"),
            ["-h", "127.0.0.1", "-p", "\(port)", "--raw", "--no-auth-warning"] + (password.map { ["-a", $0] } ?? [])
                + arguments, directory: directory)
        let deadline = Date().addingTimeInterval(5)
        while cli.isRunning, Date() < deadline { usleep(2_000) }
        cli.stop()
        defer { try? FileManager.default.removeItem(atPath: cli.outputPath) }
        return cli.output.trimmingCharacters(in: .newlines)
    }

    /// The keys matching `pattern`, found by SCAN.
    func keys(_ pattern: String) throws -> Set<String> {
        Set(try cli(["--scan", "--pattern", pattern]).split(separator: "\n").map(String.init))
    }

    /// The bytes stored at `key`, or nil.
    func value(_ key: String) throws -> [UInt8]? {
        let text = try cli(["GET", key])
        return text.isEmpty ? nil : Array(text.utf8)
    }
}
