import ArgumentParser
import Logging
import MediaPlane

@main
struct Spillway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spillway",
        abstract: "A clustered RTP/SRTP media relay driven by the rtpengine NG protocol.",
        subcommands: [Serve.self, Monitor.self, WorkloadCommand.self, StatusCommand.self, Replay.self, Demo.self]
    )
}

/// Sends log lines at `level` and above to standard error.
func bootstrapLogging(_ level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// The node a client command talks to, from its `--ng HOST:PORT`.
func ngServer(_ text: String) throws -> SocketAddress {
    guard let server = SocketAddress(hostAndPort: text) else {
        throw ValidationError("--ng '\(text)' is not a numeric HOST:PORT such as 127.0.0.1:2223")
    }
    return server
}
