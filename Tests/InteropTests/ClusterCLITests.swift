import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import Testing

/// The cluster as an operator runs it: `spillway serve` processes with the cluster flags, a
/// `spillway monitor` process, and `spillway workload` changing a node's threshold at run time.
@Suite struct ClusterCLITests {
    let nodes = [("n1", "127.0.0.21"), ("n2", "127.0.0.22")]
    let ngPort = 12300
    let clusterPort = 12301
    let monitorAddress = "127.0.0.20:12330"

    @Test func nodesMonitorAndWorkloadCommandWorkFromTheCommandLine() async throws {
        let spillway = try spillwayExecutable()
        let directory = try scratchDirectory("cluster-cli")
        try "cli cluster key, long enough to sign with\n".write(
            toFile: "\(directory)/cluster.key", atomically: true, encoding: .utf8)
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }

        for (index, (id, ip)) in nodes.enumerated() {
            let (peerID, peerIP) = nodes[1 - index]
            children.append(
                try ChildProcess(
                    id, spillway,
                    [
                        "serve", "--node-id", id, "--ng", "\(ip):\(ngPort)", "--media-ip", ip,
                        "--port-range", "\(13100 + index * 20)-\(13119 + index * 20)", "--max-sessions", "2",
                        "--threshold", "0.5",
                        "--cluster", "\(ip):\(clusterPort)", "--peer", "\(peerID)@\(peerIP):\(clusterPort)", "--policy",
                        "delegate",
                        "--share", "continuous", "--share-interval", "0.2", "--cluster-key-file", "cluster.key",
                    ],
                    directory: directory))
        }
        children.append(
            try ChildProcess(
                "monitor", spillway,
                [
                    "monitor", "--listen", monitorAddress, "--collect", "on-query", "--cluster-key-file", "cluster.key",
                    "--node", "n1@127.0.0.21:\(clusterPort)", "--node", "n2@127.0.0.22:\(clusterPort)",
                ],
                directory: directory))
        let clients = try nodes.map { try NGClient(server: SocketAddress(ip: $0.1, port: UInt16(ngPort))!) }
        let monitor = try NGClient(server: SocketAddress(hostAndPort: monitorAddress)!)
        for (client, child) in zip(clients + [monitor], children) {
            #expect(
                await ChildProcess.eventually(seconds: 10) {
                    (try? client.request(["command": "ping"], timeoutMilliseconds: 200, attempts: 1))?["result"]
                        == "pong"
                }, "\(child.name) did not answer ping: \(child.output)")
        }
        #expect(
            await ChildProcess.eventually(seconds: 5) {
                (try? clients[0].request(["command": "statistics"]))?["spillway"]?["peers"]?["n2"]?["state"] == "up"
            })

        // Threshold 0.5 of 2 sessions: one call each, then all busy.
        let offer = { (callID: String) throws -> BencodeValue in
            try clients[0].request([
                "command": "offer", "call-id": .string(callID), "from-tag": "A", "supports": ["load limit"],
                "sdp":
                    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n",
            ])
        }
        #expect(try offer("cli-1")["spillway-node"] == "n1")
        let second = try offer("cli-2")
        #expect(second["spillway-node"] == "n2", "\(second)")
        #expect(try offer("cli-3")["result"] == "load limit")
        #expect(try monitor.request(["command": "query", "supports": ["load limit"]])["result"] == "load limit")

        // Raise n2's threshold from the command line: it takes the next call, and the monitor names it.
        let workload = try ChildProcess(
            "workload", spillway, ["workload", "--ng", "127.0.0.22:\(ngPort)", "--threshold", "1"], directory: directory
        )
        #expect(await workload.wait(seconds: 10) == 0, "\(workload.output)")
        #expect(
            workload.output.contains("threshold: 1.000") && workload.output.contains("admits: yes"),
            "\(workload.output)")
        let named = try monitor.request(["command": "query"])
        #expect(named["node"] == "n2" && named["load"] == "0.500", "\(named)")
        // n1 learns of the change with n2's next streamed report (every 0.2 s).
        #expect(
            await ChildProcess.eventually(seconds: 3) {
                (try? clients[0].request(["command": "statistics"]))?["spillway"]?["peers"]?["n2"]?["threshold"]
                    == "1.000"
            })
        #expect(try offer("cli-4")["spillway-node"] == "n2")

        let drain = try ChildProcess(
            "drain", spillway, ["workload", "--ng", "127.0.0.21:\(ngPort)", "--drain"], directory: directory)
        #expect(await drain.wait(seconds: 10) == 0)
        #expect(drain.output.contains("admits: no"), "\(drain.output)")

        let refused = try ChildProcess(
            "refused", spillway, ["workload", "--ng", "127.0.0.21:\(ngPort)", "--threshold", "7"], directory: directory)
        #expect(await refused.wait(seconds: 10) != 0)
        #expect(
            refused.output.contains("setting 'threshold' has value '7.0'; allowed: 0 (drain) to 1"), "\(refused.output)"
        )
    }
}
