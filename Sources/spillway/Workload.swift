import ArgumentParser
import Bencode
import MediaPlane
import SpillwayClient

/// `spillway workload`: read or change a running node's threshold and capacity.
struct WorkloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workload",
        abstract: "Show a node's workload, or change its threshold and capacity at run time (--drain: threshold 0).")

    @Option(help: "The node's NG address (HOST:PORT).")
    var ng: String = "127.0.0.1:2223"

    @Option(help: "New threshold, 0-1.")
    var threshold: String?

    @Flag(help: "Take no new calls (threshold 0); existing calls continue.")
    var drain = false

    @Option(name: .customLong("max-sessions"), help: "New session capacity.")
    var maxSessions: String?

    @Option(name: .customLong("max-packet-rate"), help: "New packet-rate capacity (packets/s).")
    var maxPacketRate: String?

    @Option(name: .customLong("max-bit-rate"), help: "New bit-rate capacity (bits/s).")
    var maxBitRate: String?

    @Option(name: .customLong("max-cpu"), help: "New data-plane CPU capacity, 0-1.")
    var maxCPU: String?

    func run() throws {
        let server = try ngServer(ng)
        var request: [String: BencodeValue] = ["command": "workload"]
        let changes = [
            ("threshold", drain ? "0" : threshold), ("max-sessions", maxSessions), ("max-packet-rate", maxPacketRate),
            ("max-bit-rate", maxBitRate), ("max-cpu", maxCPU),
        ]
        for case (let key, let value?) in changes { request[key] = .string(value) }
        let reply = try NGClient(server: server).request(.dictionary(request))
        guard reply["result"] == "ok" else {
            throw ValidationError("node at \(ng) refused: \(reply["error-reason"]?.stringValue ?? "\(reply)")")
        }
        for key in (reply.dictionaryValue ?? [:]).keys.sorted() where key != "result" {
            print("\(key): \(reply[key]!.stringValue ?? "\(reply[key]!)")")
        }
    }
}
