import ArgumentParser
import Bencode
import MediaPlane
import SpillwayClient

/// `spillway status`: a running node's state for a person, from its NG `statistics` reply.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a node's load, calls, peers and counters (its NG statistics, laid out for reading).")

    @Option(help: "The node's NG address (HOST:PORT).")
    var ng: String = "127.0.0.1:2223"

    func run() throws {
        let server = try ngServer(ng)
        let reply = try NGClient(server: server).request(["command": "statistics"])
        guard reply["result"] == "ok", let node = reply["spillway"] else {
            throw ValidationError(
                "node at \(ng) did not answer statistics: \(reply["error-reason"]?.stringValue ?? "\(reply)")")
        }
        print(Self.render(node: node, statistics: reply["statistics"]), terminator: "")
    }

    /// The report: one block for the node, one line per peer, then the non-zero counters.
    static func render(node: BencodeValue, statistics: BencodeValue?) -> String {
        func text(_ value: BencodeValue?) -> String {
            value?.stringValue ?? value?.integerValue.map { String($0) } ?? "-"
        }
        let current = statistics?["currentstatistics"]
        var lines = [
            "node \(text(node["node"])): load \(text(node["load"])) of threshold \(text(node["threshold"])) "
                + "(bottleneck \(text(node["bottleneck"]))), admits new calls: \(text(node["admits"])), draining: \(text(node["draining"]))",
            "calls: \(text(current?["sessionsown"])) here, \(text(current?["sessionsforeign"])) anchored elsewhere; "
                + "port pairs \(text(current?["portpairsinuse"])) of \(text(current?["portpaircapacity"]))",
            "media: \(text(node["packet-rate"])) packets/s, \(text(node["bit-rate"])) bits/s, worker cpu \(text(node["cpu"]))",
            "steering: policy \(text(node["policy"])), share \(text(node["share"]))",
        ]
        if let redis = node["redis"] {
            lines.append(
                "call store: redis \(text(redis["address"])), connected \(text(redis["connected"])), "
                    + "queue \(text(redis["queue-depth"])), full writes \(text(redis["full-writes"])), "
                    + "dropped \(text(redis["dropped"])), owners found \(text(redis["owners-found"])), "
                    + "takeovers \(text(redis["takeovers"])), calls restored \(text(redis["calls-restored"]))")
        }
        let peers = node["peers"]?.dictionaryValue ?? [:]
        if !peers.isEmpty {
            lines.append("peers:")
            for id in peers.keys.sorted() {
                let peer = peers[id]
                lines.append(
                    "  \(id) at \(text(peer?["address"])): \(text(peer?["state"])), load \(text(peer?["load"])) of "
                        + "\(text(peer?["threshold"])), \(text(peer?["sessions"])) calls, report \(text(peer?["report-age-ms"])) ms old"
                )
            }
        }
        let counters = (node["counters"]?.dictionaryValue ?? [:]).filter { ($0.value.integerValue ?? 0) != 0 }
        if !counters.isEmpty {
            lines.append(
                "counters: " + counters.keys.sorted().map { "\($0) \(text(counters[$0]))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
