import Bencode
import Cluster
import Foundation
import Logging
import MediaPlane
import NGProtocol
import ServiceEdge
import SpillwayClient
import SpillwayMonitor
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Synchronization
import Testing

/// Nodes in monitor mode, steered by a real `LoadMonitor` under each collection mode.
@Suite struct MonitorSteeringTests {
    private static let nextMonitor = Atomic<Int>(0)

    @Test(arguments: CollectMode.allCases)
    func nodesSpillToTheNodeTheMonitorNames(collect: CollectMode) async throws {
        let index = Self.nextMonitor.wrappingAdd(1, ordering: .relaxed).oldValue
        let monitorAddress = "127.0.0.10:\(18900 + index)"
        // Nodes push only when the monitor collects pushed reports; otherwise it polls or subscribes.
        let cluster = try await TestCluster.start(
            policy: .monitor, share: collect == .push ? .push : .poll, maxSessions: 2, peers: { _ in [] },
            monitor: monitorAddress)
        let monitor = try await cluster.startMonitor(listen: monitorAddress, collect: collect) {
            $0.httpAddress = "127.0.0.10:\(18950 + index)"
        }
        let monitorClient = try NGClient(server: SocketAddress(hostAndPort: monitor.listenAddress)!)
        if collect != .onQuery {
            let start = spw_test_seconds()
            while spw_test_seconds() - start < 3 {
                let nodes = try monitorClient.request(["command": "statistics"])["nodes"]
                if cluster.ids.allSatisfy({ nodes?[$0]?["state"] == "up" }) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        // Asked before any call: every node is empty, and the first configured one is named.
        let query = try monitorClient.request(["command": "query"])
        #expect(query["node"] == "n1" && query["media-ip"] == "127.0.0.11" && query["load"] == "0.000")
        let http = try httpGet(monitor.httpAddress!, "/least-loaded")
        #expect(http.status == 200)
        let answer = try JSONDecoder().decode(MonitorAnswer.self, from: http.body)
        #expect(["n1", "n2", "n3"].contains(answer.node) && answer.media_ip.hasPrefix("127.0.0.1"))

        // The monitor counts each node it names as one call busier until that node reports again;
        // these two answers placed no call, so let a fresh report through.
        if collect != .onQuery { try await Task.sleep(for: .milliseconds(300)) }

        var landed: [String: Int] = [:]
        var spilledCall: (id: String, node: String)?
        for call in 0..<6 {
            let reply = try cluster.offer(at: 0, callID: "m-\(collect)-\(call)")
            let landing = try TestCluster.landing(reply)
            if landing.node != "n1" { spilledCall = ("m-\(collect)-\(call)", landing.node!) }
            #expect(landing.mediaIP == TestCluster.ip(cluster.ids.firstIndex(of: landing.node!)!))
            landed[landing.node!, default: 0] += 1
            // Give pushed or streamed reports a moment, as calls arrive over time in real use.
            try await Task.sleep(for: .milliseconds(collect == .onQuery || collect == .poll ? 0 : 50))
        }
        #expect(landed == ["n1": 2, "n2": 2, "n3": 2])
        let busy = try cluster.offer(at: 0, callID: "m-\(collect)-busy", supportsLoadLimit: true)
        #expect(busy["result"] == "load limit")

        if collect == .onQuery || collect == .poll {
            // Fresh data says every node is full.
            try await Task.sleep(for: .milliseconds(300))
            let full = try httpGet(monitor.httpAddress!, "/least-loaded")
            #expect(full.status == 503)
        }
        // Later commands for a spilled call go through the primary to its owner.
        let spilled = try #require(spilledCall)
        #expect(
            try cluster.request(0, ["command": "query", "call-id": .string(spilled.id)])["spillway-node"]
                == .string(spilled.node))
        #expect(try cluster.request(0, ["command": "delete", "call-id": .string(spilled.id)])["result"] == "ok")
        let ownerIndex = cluster.ids.firstIndex(of: spilled.node)!
        #expect(try cluster.request(ownerIndex, ["command": "list"])["calls"]?.listValue?.count == 1)
        let nodes = try httpGet(monitor.httpAddress!, "/nodes")
        #expect(nodes.status == 200 && String(decoding: nodes.body, as: UTF8.self).contains("\"id\":\"n3\""))
        #expect(try httpGet(monitor.httpAddress!, "/nope").status == 404)
        await monitor.shutdown()
        await cluster.stop()
    }

    /// The monitor, like a node, answers NG only from `ng-clients`: its answers claim capacity on
    /// the node they name, so a stranger's queries must not reach it.
    @Test func theMonitorAnswersNGOnlyFromItsClientNetworks() async throws {
        var configuration = MonitorConfiguration()
        configuration.listenAddress = "127.0.0.10:18990"
        configuration.nodes = [PeerAddress(id: "n1", address: "127.0.0.11:18991")]
        configuration.collect = .push
        configuration.clusterKeyFile = TestCluster.keyFile
        configuration.ngClients = ClientNetworks(parsing: "127.0.0.2/32")!
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let monitor = try await LoadMonitor.start(configuration, logger: logger)
        let address = SocketAddress(hostAndPort: monitor.listenAddress)!

        let stranger = try NGClient(server: address)
        #expect(throws: (any Error).self) {
            try stranger.request(["command": "ping"], timeoutMilliseconds: 200, attempts: 2)
        }
        let allowed = try UDPPeer(bindingTo: "127.0.0.2")
        allowed.send(Array("c1 d7:command10:statisticse".utf8), to: address)
        let reply = try #require(allowed.receive(timeoutMilliseconds: 1000))
        let (_, body) = try #require(NGMessage.splitCookie(reply.bytes))
        #expect(try BencodeDecoder().decode(body)["refused-clients"] == .integer(2))
        await monitor.shutdown()
    }
}

private struct MonitorAnswer: Decodable {
    var node: String
    var media_ip: String
    var load: Double
}

/// A one-shot HTTP/1.1 GET over a plain socket: the status code and the body.
