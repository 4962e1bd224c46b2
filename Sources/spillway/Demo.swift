import ArgumentParser
import Bencode
import Cluster
import Logging
import MediaPlane
import ServiceEdge
import SpillwayClient
import SpillwayNode

#if canImport(Glibc)
import Glibc
#endif

/// `spillway demo`: the whole product on loopback. A three-node cluster with a low threshold; a
/// bundled capture replayed over NG through the first node with enough copies to push it over,
/// then a bundled H.323 capture replayed through the first node's H.323 call-signalling port;
/// where each call landed and the media figures.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a three-node cluster on loopback and replay bundled captures through it, over NG and H.323.")

    @Option(help: "The capture to replay over NG.")
    var capture = "captures/g711-tone.pcap"

    @Option(help: "Concurrent copies of the capture's calls (each node takes two before it spills).")
    var copies = 5

    @Option(name: .customLong("h323-capture"), help: "The H.323 capture to replay through the H.323 port.")
    var h323Capture = "captures/h323-calls.pcapng"

    @Option(name: .customLong("h323-copies"), help: "Concurrent copies of the H.323 capture's calls.")
    var h323Copies = 2

    @Option(help: "How the nodes steer calls over their threshold: delegate, sequence or monitor.")
    var policy = "delegate"

    @Option(name: .customLong("log-level"), help: "Log level of the embedded nodes.")
    var logLevel = "warning"

    static let nodeIPs = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
    static let clusterPort = 42224
    static let callSignalPort = 41720

    func run() async throws {
        bootstrapLogging(Logger.Level(rawValue: logLevel) ?? .warning)
        guard let mode = SteeringMode(rawValue: policy), mode != .monitor else {
            throw ValidationError("--policy '\(policy)' is not one the demo runs: delegate or sequence")
        }
        let keyFile = try Self.writeClusterKey()
        var nodes: [RelayNode] = []
        for (index, ip) in Self.nodeIPs.enumerated() {
            var configuration = NodeConfiguration()
            configuration.nodeID = "node-\(index + 1)"
            configuration.ngAddress = "\(ip):0"
            configuration.mediaIP = ip
            configuration.portRange = 40000...40999
            configuration.capacity.sessions = 4
            configuration.threshold = 0.5
            configuration.clusterAddress = "\(ip):\(Self.clusterPort)"
            configuration.callSignalAddress = "\(ip):\(Self.callSignalPort)"
            configuration.clusterKeyFile = keyFile
            configuration.policy = mode
            configuration.shareInterval = 0.2
            configuration.peers = Self.nodeIPs.enumerated().filter { $0.offset != index }.map {
                PeerAddress(id: "node-\($0.offset + 1)", address: "\($0.element):\(Self.clusterPort)")
            }
            nodes.append(try await RelayNode.start(configuration, logger: Logger(label: "spillway.demo")))
        }
        defer { unlink(keyFile) }
        print(
            "Cluster: "
                + nodes.map { "\($0.configuration.nodeID) (NG \($0.ngAddress), media \($0.configuration.mediaIP))" }
                .joined(separator: ", "))
        print(
            "Each node takes new calls while its load is below 0.5 of 4 sessions, then spills them (\(mode.rawValue)).")
        let primary = try NGClient(server: nodes[0].ngAddress)
        // Let the first workload reports go round before the calls arrive.
        try await Task.sleep(for: .milliseconds(500))
        let callSignal = "\(Self.nodeIPs[0]):\(Self.callSignalPort)"
        let runs: [(title: String, capture: String, route: ReplayRun.Route, copies: Int)] = [
            ("over NG through \(nodes[0].configuration.nodeID)", capture, .ng(primary), copies),
            (
                "over H.323 through \(nodes[0].configuration.nodeID)'s call-signalling port \(callSignal)", h323Capture,
                .h323(SocketAddress(hostAndPort: callSignal)!), h323Copies
            ),
        ]
        // H.323 does not tell the caller which node took the call: the media address does.
        let nodeByMediaIP = Dictionary(
            uniqueKeysWithValues: nodes.map { ($0.configuration.mediaIP, $0.configuration.nodeID) })
        var intact = true
        for run in runs {
            print("Replaying \(run.capture) x\(run.copies) \(run.title):")
            var report: ReplayReport
            do {
                report = try ReplayRun.run(
                    captures: [run.capture], route: run.route,
                    options: ReplayRun.options(speed: 1, copies: run.copies, duration: nil, localIP: "127.0.0.1"))
            } catch {
                for node in nodes { await node.shutdown() }
                throw error
            }
            for index in report.placements.indices where report.placements[index].node == nil {
                report.placements[index].node = nodeByMediaIP[report.placements[index].relayAddress]
            }
            ReplayRun.printSummary(report)
            let landed = Dictionary(grouping: report.placements, by: { $0.node ?? "?" }).mapValues(\.count)
            print("Calls per node: " + landed.keys.sorted().map { "\($0) \(landed[$0]!)" }.joined(separator: ", "))
            print()
            intact = intact && report.lost == 0 && report.corrupted == 0
            // The calls have ended: let the nodes' next workload reports say so before the next run.
            try await Task.sleep(for: .milliseconds(600))
        }
        for node in nodes { await node.shutdown() }
        print(intact ? "Every packet arrived intact." : "Some packets were lost or changed.")
        if !intact { throw ExitCode(1) }
    }

    /// A fresh random cluster key in a private temporary file.
    static func writeClusterKey() throws -> String {
        var template = Array("/tmp/spillway-demo-key-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            throw ValidationError("cannot create a temporary key file: \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var key = (0..<32).map { _ in UInt8.random(in: 0x21...0x7E) }
        _ = write(descriptor, &key, key.count)
        close(descriptor)
        return path
    }
}
