import ArgumentParser
import Logging

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
