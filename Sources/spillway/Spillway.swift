import ArgumentParser

@main
struct Spillway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spillway",
        abstract: "A clustered RTP/SRTP media relay driven by the rtpengine NG protocol.",
        subcommands: [Serve.self, Monitor.self, WorkloadCommand.self, Demo.self]
    )
}
