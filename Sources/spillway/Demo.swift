import ArgumentParser
import Bencode
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode

/// `spillway demo`: start a node on loopback, run a scripted call through it, print the figures.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a relay node on loopback, run a scripted call through it and print the media figures.")

    @Option(help: "RTP packets each party sends (20 ms apart).")
    var packets = 150

    @Option(name: .customLong("log-level"), help: "Log level of the embedded node.")
    var logLevel = "warning"

    func run() async throws {
        bootstrapLogging(Logger.Level(rawValue: logLevel) ?? .warning)
        var configuration = NodeConfiguration()
        configuration.nodeID = "demo-1"
        configuration.ngAddress = "127.0.0.1:0"
        configuration.portRange = 40000...40999
        let node = try await RelayNode.start(configuration, logger: Logger(label: "spillway.demo"))
        print("Spillway node \(configuration.nodeID): NG on \(node.ngAddress), media on \(configuration.mediaIP)")

        let call = ScriptedCall(callID: "demo-call-1", packetsPerSide: packets)
        let client = try NGClient(server: node.ngAddress)
        let outcome = try call.run(through: client)
        await node.shutdown()

        print("Call \(call.callID): caller -> relay :\(outcome.relayPortForCaller) ... relay :\(outcome.relayPortForCallee) <- callee")
        print(DemoReport(outcome: outcome).table)
        let complete = outcome.receivedByCallee == outcome.sentByCaller && outcome.receivedByCaller == outcome.sentByCallee
        print(complete ? "Every packet crossed the relay in both directions." : "Packets were lost; see the table.")
        if !complete { throw ExitCode.failure }
    }
}

/// The demo's table: per party, what it sent, what the relay saw and forwarded, what arrived.
struct DemoReport {
    var outcome: ScriptedCall.Outcome

    var table: String {
        var rows = [["party", "sent", "relay rx", "forwarded", "delivered", "lost", "jitter ms", "drops"]]
        for (tag, sent, delivered) in [
            ("caller", outcome.sentByCaller, outcome.receivedByCallee),
            ("callee", outcome.sentByCallee, outcome.receivedByCaller),
        ] {
            let stream = outcome.query["tags"]?[tag]?["medias"]?.listValue?.first?["streams"]?.listValue?.first
            func figure(_ key: String) -> String { stream?[key]?.integerValue.map(String.init) ?? "-" }
            rows.append([
                tag, "\(sent)", stream?["stats"]?["packets"]?.integerValue.map(String.init) ?? "-",
                figure("forwarded"), "\(delivered)", figure("lost"),
                stream?["jitter us"]?.integerValue.map { String(format: "%.2f", Double($0) / 1000) } ?? "-",
                stream?["stats"]?["errors"]?.integerValue.map(String.init) ?? "-",
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset] + 2, withPad: " ", startingAt: 0) }
                .joined()
        }.joined(separator: "\n")
    }
}
